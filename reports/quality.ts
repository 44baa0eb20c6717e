import { QUANTITIES, isQuantity } from '../core/quantities.ts'
import { deviceKey, lineKey, type PlantDeviceEntry } from '../core/plant.ts'
import { addressOfTags, addressTags } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT, type RawRow } from '../storage/store.ts'
import { qualityReport, type QualityReport, type Sample, type TimeRange } from '../analytics/index.ts'
import { counterContexts, type DeviceCounterContext, type ReportDeps } from './energy.ts'
import { reportError } from './errors.ts'
import { deviceFilter, formatScope, linesOf, type Scope } from './scope.ts'
import { DAY_MS } from '../core/duration.ts'

/**
 * Data quality per device of a scope, from its raw samples: completeness, gaps, stuck values,
 * counter resets, duplicates and the share of bad and uncertain samples (`q_<quantity>` fields:
 * 1 uncertain, 2 bad — ingest stores a bad sample's marker without its value).
 */

/** Longest range one quality report reads: 7 days = 604,800 samples per series at 1-second data. */
export const QUALITY_MAX_RANGE_MS = 7 * DAY_MS
/** The quantity a device's quality is judged on by default: the first it reports of these. */
export const QUALITY_DEFAULT_QUANTITIES = ['energy_import_kwh', 'output_t', 'output_count', 'active_power_kw', 'machine_state', 'temperature_c'] as const
const QUALITY_PREFIX = 'q_'
/** Stored q_ codes (ingest/telemetry.ts QUALITY_CODES). */
const QUALITY_OF: Record<number, Sample['quality']> = { 1: 'uncertain', 2: 'bad' }
const MAX_LISTED = 100

export interface QualityRequest {
  /** One quantity for every device; default per device: the first of QUALITY_DEFAULT_QUANTITIES it reports. */
  quantity?: string
  /** Expected sampling interval, ms; default per series: the median spacing of its samples. */
  expectedIntervalMs?: number
  /**
   * Most value samples the whole report reads (the API caps it): counted first, more → REPORTS_ERR_INPUT.
   * Samples written between the count and the read may still make a row `truncated`.
   */
  limit: number
  gapFactor?: number
  stuckMinSamples?: number
}

export interface QualityRow {
  line: string
  device: string
  quantity: string
  /** Interval the completeness is measured against, s; null when the series had too few samples to tell. */
  expectedIntervalS: number | null
  intervalSource: 'given' | 'median' | 'none'
  samples: number
  expectedSamples: number
  completeness: number
  gaps: number
  missingSamples: number
  longestGapS: number
  duplicates: number
  outOfOrder: number
  stuckRuns: number
  stuckSamples: number
  /** Counter resets: recorded and unexplained. */
  resets: number
  /** Counter drops no meter event explains (nor a rollover at the register's modulus, nor jitter). */
  unexplainedResets: number
  /** Recorded meter events the series crossed (replacement, ratio change, reset). */
  meterEvents: number
  rollovers: number
  badSamples: number
  uncertainSamples: number
  badShare: number
  uncertainShare: number
  /** More than `limit` samples: the row covers [start, coveredUntil) only. */
  truncated: boolean
  coveredUntil: number
}

export interface QualityDetail {
  device: string
  quantity: string
  /** First MAX_LISTED gaps and stuck runs. */
  gaps: QualityReport['gaps']
  stuck: QualityReport['stuck']
}

/** Something a person must act on, found in the data. */
export interface QualityFinding {
  /** 'unexplained-reset': a counter dropped and no meter event (replacement, reset) was recorded for it. */
  kind: 'unexplained-reset'
  device: string
  quantity: string
  /** The readings around the drop, epoch ms. */
  from: number
  to: number
  detail: string
  /** What to do, in English. */
  message: string
}

export interface QualityResult {
  scope: string
  start: number
  end: number
  rows: QualityRow[]
  details: QualityDetail[]
  /** First MAX_LISTED findings, in device then time order. */
  findings: QualityFinding[]
}

function isSorted(rows: readonly RawRow[]): boolean {
  for (let k = 1; k < rows.length; k++) if ((rows[k] as RawRow).ts < (rows[k - 1] as RawRow).ts) return false
  return true
}

function median(xs: number[]): number {
  const s = xs.sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)] as number
}

/** Refuses a range over QUALITY_MAX_RANGE_MS and bad request values (REPORTS_ERR_INPUT). */
function checkQualityRequest(range: TimeRange, req: QualityRequest): void {
  if (range.end - range.start > QUALITY_MAX_RANGE_MS) {
    throw reportError(
      'REPORTS_ERR_INPUT',
      `a quality report spans at most ${QUALITY_MAX_RANGE_MS / DAY_MS} days (raw samples are read), got ${((range.end - range.start) / DAY_MS).toFixed(1)}`,
    )
  }
  if (req.quantity !== undefined && !isQuantity(req.quantity))
    throw reportError('REPORTS_ERR_INPUT', `${JSON.stringify(req.quantity)} is not a canonical quantity`)
  if (req.expectedIntervalMs !== undefined && !(req.expectedIntervalMs > 0))
    throw reportError('REPORTS_ERR_INPUT', `expectedIntervalMs must be > 0, got ${req.expectedIntervalMs}`)
  if (!Number.isSafeInteger(req.limit) || req.limit < 1) throw reportError('REPORTS_ERR_INPUT', `limit must be a positive integer, got ${req.limit}`)
}

/** Each device's quantity (by device key): the one asked for, else its primary one (reported since the range start). */
async function quantitiesOf(
  deps: ReportDeps,
  devices: readonly PlantDeviceEntry[],
  all: ReturnType<typeof deviceFilter>,
  range: TimeRange,
  req: QualityRequest,
): Promise<Map<string, string>> {
  const quantityOf = new Map<string, string>()
  if (req.quantity === undefined) {
    const seen = await deps.store.latest({ measurement: TELEMETRY_MEASUREMENT, filter: all, fields: QUALITY_DEFAULT_QUANTITIES, since: range.start })
    for (const d of devices) {
      const fields = new Set(seen.filter((r) => deviceKey(addressOfTags(r.tags)) === deviceKey(d)).map((r) => r.field))
      quantityOf.set(deviceKey(d), QUALITY_DEFAULT_QUANTITIES.find((q) => fields.has(q)) ?? QUALITY_DEFAULT_QUANTITIES[0])
    }
  } else for (const d of devices) quantityOf.set(deviceKey(d), req.quantity)
  return quantityOf
}

/** The whole report reads at most `limit` samples: counted first, refused (REPORTS_ERR_INPUT) when over. */
async function checkSampleCount(
  deps: ReportDeps,
  quantityOf: ReadonlyMap<string, string>,
  all: ReturnType<typeof deviceFilter>,
  range: TimeRange,
  req: QualityRequest,
): Promise<void> {
  const counts = await deps.store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields: [...new Set(quantityOf.values())],
    filter: all,
    start: range.start,
    stop: range.end,
    fn: 'count',
    groupBy: ['enterprise', 'site', 'line', 'device'],
  })
  const total = counts.filter((c) => quantityOf.get(deviceKey(addressOfTags(c.tags))) === c.field).reduce((s, c) => s + c.value, 0)
  if (total > req.limit) {
    throw reportError(
      'REPORTS_ERR_INPUT',
      `the scope holds ${total} samples in the range, more than the limit of ${req.limit} a quality report reads: narrow the scope or the range`,
      { samples: total, limit: req.limit },
    )
  }
}

/**
 * Merge of the two time-ordered lists (each sorted here first if it is not). A bad sample's value is
 * not stored (ingest): its marker alone makes it a received sample, never good data.
 */
function mergeSamples(values: RawRow[], markers: RawRow[]): Sample[] {
  const byTs = (x: RawRow, y: RawRow): number => x.ts - y.ts
  if (!isSorted(values)) values.sort(byTs)
  if (!isSorted(markers)) markers.sort(byTs)
  const samples: Sample[] = []
  for (let i = 0, j = 0; i < values.length || j < markers.length; ) {
    const v = values[i]
    const m = markers[j]
    if (v && (!m || v.ts < m.ts)) {
      samples.push({ ts: v.ts, value: v.value })
      i++
      continue
    }
    const marker = m as RawRow
    const quality = QUALITY_OF[marker.value]
    const matched = v !== undefined && v.ts === marker.ts
    if (quality) samples.push({ ts: marker.ts, value: matched ? v.value : 0, quality })
    else if (matched) samples.push({ ts: v.ts, value: v.value })
    if (matched) i++
    j++
  }
  return samples
}

/** The quality row and detail of one device's `quantity`: one raw read of its values, one of its markers. */
async function deviceQuality(
  deps: ReportDeps,
  d: PlantDeviceEntry,
  quantity: string,
  range: TimeRange,
  req: QualityRequest,
  context: DeviceCounterContext | undefined,
): Promise<{ row: QualityRow; detail: QualityDetail; findings: QualityFinding[] }> {
  const filter = addressTags(d)
  const values = await deps.store.raw({
    measurement: TELEMETRY_MEASUREMENT,
    fields: [quantity],
    filter,
    start: range.start,
    stop: range.end,
    limit: req.limit + 1,
  })
  const truncated = values.length > req.limit
  if (truncated) values.length = req.limit
  const last = values[values.length - 1]
  const covered = { start: range.start, end: truncated && last ? last.ts + 1 : range.end }
  const markers = await deps.store.raw({
    measurement: TELEMETRY_MEASUREMENT,
    fields: [`${QUALITY_PREFIX}${quantity}`],
    filter,
    start: covered.start,
    stop: covered.end,
    limit: req.limit,
  })
  const samples = mergeSamples(values, markers)
  const spacing: number[] = []
  for (let k = 1; k < samples.length; k++) spacing.push((samples[k] as Sample).ts - (samples[k - 1] as Sample).ts)
  const interval = req.expectedIntervalMs ?? (spacing.length > 0 ? median(spacing) : undefined)
  const intervalSource = req.expectedIntervalMs !== undefined ? 'given' : interval !== undefined ? 'median' : 'none'
  // Without an interval (0 or 1 sample) the whole range is the one expected sample.
  const report = qualityReport(samples, covered, {
    expectedIntervalMs: interval ?? covered.end - covered.start,
    ...(req.gapFactor !== undefined ? { gapFactor: req.gapFactor } : {}),
    ...(req.stuckMinSamples !== undefined ? { stuckMinSamples: req.stuckMinSamples } : {}),
    ...(isQuantity(quantity) && 'cumulative' in QUANTITIES[quantity]
      ? { cumulative: { ...(context?.modulus === undefined ? {} : { modulus: context.modulus }), events: context?.events.events ?? [] } }
      : {}),
  })
  // Nothing received and no interval given: the whole range is one gap.
  if (samples.length === 0 && interval === undefined) report.gaps = [{ from: covered.start, to: covered.end, missingSamples: 0 }]
  const n = report.samples
  const uncertain = report.uncertainQuality
  const row: QualityRow = {
    line: lineKey(d),
    device: d.device,
    quantity,
    expectedIntervalS: interval !== undefined ? interval / 1000 : null,
    intervalSource,
    samples: n,
    expectedSamples: report.expectedSamples,
    completeness: report.completeness,
    gaps: report.gaps.length,
    missingSamples: report.gaps.reduce((s, g) => s + g.missingSamples, 0),
    longestGapS: report.gaps.reduce((m, g) => Math.max(m, g.to - g.from), 0) / 1000,
    duplicates: report.duplicates,
    outOfOrder: report.outOfOrder,
    stuckRuns: report.stuck.length,
    stuckSamples: report.stuck.reduce((s, r) => s + r.samples, 0),
    resets: report.resets,
    unexplainedResets: report.unexplainedResets.length,
    meterEvents: report.meterEvents,
    rollovers: report.rollovers,
    badSamples: report.badQuality,
    uncertainSamples: uncertain,
    badShare: report.badShare,
    uncertainShare: n > 0 ? uncertain / n : 0,
    truncated,
    coveredUntil: covered.end,
  }
  const findings: QualityFinding[] = report.unexplainedResets.map((r) => ({
    kind: 'unexplained-reset',
    device: deviceKey(d),
    quantity,
    from: r.from,
    to: r.to,
    detail: r.detail,
    message: `${quantity} dropped (${r.detail}) and no meter event explains it: its energy between the two readings is not counted. Record the replacement or reset (POST /api/v1/meter-events, plantwatt meter-events add).`,
  }))
  return { row, detail: { device: deviceKey(d), quantity, gaps: report.gaps.slice(0, MAX_LISTED), stuck: report.stuck.slice(0, MAX_LISTED) }, findings }
}

/** Modulus and recorded events of each device whose quantity is a counter (by deviceKey). */
async function counterContextsOf(
  deps: ReportDeps,
  devices: readonly PlantDeviceEntry[],
  quantityOf: ReadonlyMap<string, string>,
  range: TimeRange,
): Promise<Map<string, DeviceCounterContext>> {
  const out = new Map<string, DeviceCounterContext>()
  const byQuantity = new Map<string, PlantDeviceEntry[]>()
  for (const d of devices) {
    const q = quantityOf.get(deviceKey(d)) as string
    if (!isQuantity(q) || !('cumulative' in QUANTITIES[q])) continue
    byQuantity.set(q, [...(byQuantity.get(q) ?? []), d])
  }
  for (const [q, list] of byQuantity) for (const [key, c] of await counterContexts(deps, list, q, range.end)) out.set(key, c)
  return out
}

/**
 * Data quality of every device of the scope over the range (at most QUALITY_MAX_RANGE_MS). One raw
 * read of the values and one of the quality markers per device.
 */
export async function qualityReportOf(deps: ReportDeps, scope: Scope, range: TimeRange, req: QualityRequest): Promise<QualityResult> {
  checkQualityRequest(range, req)
  const lines = linesOf(deps.model, scope)
  const devices: PlantDeviceEntry[] = lines.flatMap((l) => l.devices.filter((d) => scope.device === undefined || d.device === scope.device))
  const rows: QualityRow[] = []
  const details: QualityDetail[] = []
  if (devices.length === 0) return { scope: formatScope(scope), start: range.start, end: range.end, rows, details, findings: [] }
  const all = deviceFilter(devices)
  const quantityOf = await quantitiesOf(deps, devices, all, range, req)
  await checkSampleCount(deps, quantityOf, all, range, req)
  const contexts = await counterContextsOf(deps, devices, quantityOf, range)
  const findings: QualityFinding[] = []
  for (const d of devices) {
    const key = deviceKey(d)
    const r = await deviceQuality(deps, d, quantityOf.get(key) as string, range, req, contexts.get(key))
    rows.push(r.row)
    details.push(r.detail)
    findings.push(...r.findings)
  }
  return { scope: formatScope(scope), start: range.start, end: range.end, rows, details, findings: findings.slice(0, MAX_LISTED) }
}
