import { deviceKey, lineKey, type PlantDeviceEntry } from '../core/plant.ts'
import { addressOfTags, addressTags, type DeviceAddress } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { powerFactorFromEnergy, powerFactorSummary, type Sample, type TimeRange } from '../analytics/index.ts'
import { deviceBucketAmounts, type ReportDeps } from './energy.ts'
import { reportError } from './errors.ts'
import { deviceFilter, formatScope, linesOf, scopeLevel, type Scope } from './scope.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * Power factor of meters: time-weighted mean |PF| and the time below a threshold from power_factor
 * samples (else from active and reactive power samples), and the energy-weighted PF
 * kWh / √(kWh² + kvarh²) where a reactive energy counter is stored.
 */

/** The reactive energy counter (kvarh, combined reactive 1): a canonical quantity (core/quantities.ts), the 力调 basis. */
export const REACTIVE_ENERGY_QUANTITY = 'reactive_energy_import_kvarh'
/** Default threshold: 0.90, the assessment level for industrial users of 160 kVA and above (功率因数调整电费办法). */
export const DEFAULT_PF_THRESHOLD = 0.9
/** Samples hold at most this long (analytics' default) when read raw. */
const RAW_MAX_GAP_MS = 300_000
/** Window means used instead of raw samples when a device has more samples than allowed, finest first. */
const WINDOWS: ReadonlyArray<readonly [string, number]> = [
  ['1m', MINUTE_MS],
  ['15m', 900_000],
  ['1h', HOUR_MS],
  ['1d', DAY_MS],
]

export type PowerFactorPer = 'device' | 'line'

export interface PowerFactorOptions {
  /** |PF| below this counts as time below the threshold; default 0.90. */
  threshold?: number
  /** Most samples read raw per device and field; above it the report uses window means (see `resolution`). */
  maxSamples: number
  /** device: every meter of the scope; line: one row per line, from its main meter (or its only meter). */
  per?: PowerFactorPer
}

export interface PowerFactorRow {
  line: string
  device: string
  mainMeter: boolean
  /** Where the PF came from: power_factor samples, active + reactive power samples, or nothing. */
  source: 'power_factor' | 'active_reactive_power' | 'none'
  /** raw samples, or the window of the means used instead (1m, 15m, 1h, 1d). */
  resolution: string
  samples: number
  /**
   * Time-weighted mean |PF| of instantaneous samples (each holds until the next, gaps excluded): an
   * operating indicator, not the billing PF — that is `energyPf` (reports/bill.ts applies 力调 on it).
   */
  meanPf: number | null
  sampleMeanPf: number | null
  threshold: number
  belowThresholdH: number
  coveredH: number
  belowThresholdShare: number | null
  /** From the counters, where a reactive energy counter exists. */
  activeKwh: number | null
  reactiveKvarh: number | null
  energyPf: number | null
}

export interface PowerFactorReport {
  scope: string
  per: PowerFactorPer
  start: number
  end: number
  threshold: number
  rows: PowerFactorRow[]
  /** Lines without a main meter or single meter (per line). */
  missing: string[]
}

/** The devices a report covers and the lines that have no meter to stand for them. */
function devicesOf(deps: ReportDeps, scope: Scope, per: PowerFactorPer): { devices: PlantDeviceEntry[]; missing: string[] } {
  const lines = linesOf(deps.model, scope)
  if (scope.device !== undefined) return { devices: lines.flatMap((l) => l.devices.filter((d) => d.device === scope.device)), missing: [] }
  if (per === 'device') return { devices: lines.flatMap((l) => l.devices.filter((d) => d.kind === 'meter' || d.mainMeter)), missing: [] }
  const devices: PlantDeviceEntry[] = []
  const missing: string[] = []
  for (const l of lines) {
    const meters = l.devices.filter((d) => d.kind === 'meter')
    const main = l.devices.find((d) => d.mainMeter) ?? (meters.length === 1 ? meters[0] : undefined)
    if (main) devices.push(main)
    else missing.push(l.path)
  }
  return { devices, missing }
}

/** PF samples of one device: raw when few enough, else window means. */
async function pfSamples(
  deps: ReportDeps,
  d: DeviceAddress,
  range: TimeRange,
  fields: readonly string[],
  available: number,
  maxSamples: number,
): Promise<{ samples: Sample[]; count: number; resolution: string; maxGapMs: number }> {
  const filter = addressTags(d)
  // Points per field, by time (one series per field and device as a rule; sorted again if not).
  const toPf = (points: Iterable<{ ts: number; field: string; value: number }>): Sample[] => {
    const byField = fields.map(() => [] as Sample[])
    for (const p of points) byField[fields.indexOf(p.field)]?.push({ ts: p.ts, value: p.value })
    for (const list of byField)
      for (let k = 1; k < list.length; k++)
        if ((list[k] as Sample).ts < (list[k - 1] as Sample).ts) {
          list.sort((a, b) => a.ts - b.ts)
          break
        }
    const [a = [], b = []] = byField
    if (fields.length === 1) return a
    // P and Q: PF where both were sampled at the same instant (a merge of the two time-ordered lists).
    const out: Sample[] = []
    for (let i = 0, j = 0; i < a.length && j < b.length; ) {
      const p = a[i] as Sample
      const q = b[j] as Sample
      if (p.ts === q.ts) {
        out.push({ ts: p.ts, value: powerFactorFromEnergy(p.value, q.value) })
        i++
        j++
      } else if (p.ts < q.ts) i++
      else j++
    }
    return out
  }
  if (available <= maxSamples) {
    const rows = await deps.store.raw({
      measurement: TELEMETRY_MEASUREMENT,
      fields,
      filter,
      start: range.start,
      stop: range.end,
      limit: maxSamples * fields.length,
    })
    const samples = toPf(rows)
    return { samples, count: samples.length, resolution: 'raw', maxGapMs: RAW_MAX_GAP_MS }
  }
  const span = range.end - range.start
  const [every, ms] = WINDOWS.find(([, w]) => Math.ceil(span / w) <= maxSamples) ?? (WINDOWS[WINDOWS.length - 1] as readonly [string, number])
  const rows = await deps.store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields,
    filter,
    start: range.start,
    stop: range.end,
    every,
    fn: 'mean',
    timezone: 'UTC',
  })
  // A window mean stands for its whole window: consecutive windows are `ms` apart (one missing window
  // is a gap), and the last one is closed by a copy at its end so its time counts too.
  const samples = toPf(rows.map((r) => ({ ts: r.windowStart, field: r.field, value: r.value })))
  const count = samples.length
  const last = samples[count - 1]
  if (last) samples.push({ ts: Math.min(last.ts + ms, range.end), value: last.value })
  return { samples, count, resolution: every, maxGapMs: Math.max(RAW_MAX_GAP_MS, 2 * ms - 1) }
}

/**
 * Power factor per device (or per line, from its main meter) over the range. Throws
 * REPORTS_ERR_SCOPE for an unknown scope, REPORTS_ERR_INPUT for a threshold outside (0, 1].
 */
export async function powerFactorReport(deps: ReportDeps, scope: Scope, range: TimeRange, options: PowerFactorOptions): Promise<PowerFactorReport> {
  const threshold = options.threshold ?? DEFAULT_PF_THRESHOLD
  if (!(threshold > 0 && threshold <= 1)) throw reportError('REPORTS_ERR_INPUT', `threshold must be in (0, 1], got ${threshold}`)
  if (!Number.isSafeInteger(options.maxSamples) || options.maxSamples < 1)
    throw reportError('REPORTS_ERR_INPUT', `maxSamples must be a positive integer, got ${options.maxSamples}`)
  const per: PowerFactorPer = scope.device !== undefined || scopeLevel(scope) === 'device' ? 'device' : (options.per ?? 'device')
  const { devices, missing } = devicesOf(deps, scope, per)
  const base = { scope: formatScope(scope), per, start: range.start, end: range.end, threshold, missing }
  if (devices.length === 0) return { ...base, rows: [] }
  const filter = deviceFilter(devices)
  const wanted = new Set(devices.map(deviceKey))
  const [counts, reactive] = await Promise.all([
    deps.store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['power_factor', 'active_power_kw', 'reactive_power_kvar'],
      filter,
      start: range.start,
      stop: range.end,
      fn: 'count',
      groupBy: ['enterprise', 'site', 'line', 'device'],
    }),
    deps.store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: [REACTIVE_ENERGY_QUANTITY], filter, since: range.start }),
  ])
  const count = new Map<string, Record<string, number>>()
  for (const r of counts) {
    const key = deviceKey(addressOfTags(r.tags))
    count.set(key, { ...count.get(key), [r.field]: r.value })
  }
  // Energy-weighted PF for the devices with a reactive counter: two counter reports for all of them.
  const withReactive = devices.filter((d) => reactive.some((r) => deviceKey(addressOfTags(r.tags)) === deviceKey(d) && wanted.has(deviceKey(d))))
  const total = [{ start: range.start, end: range.end, label: 'total' }]
  const [kwh, kvarh] =
    withReactive.length > 0
      ? await Promise.all([
          deviceBucketAmounts(deps, withReactive, 'energy_import_kwh', total),
          deviceBucketAmounts(deps, withReactive, REACTIVE_ENERGY_QUANTITY, total),
        ])
      : [new Map(), new Map()]
  const rows: PowerFactorRow[] = []
  for (const d of devices) {
    const key = deviceKey(d)
    const c = count.get(key) ?? {}
    const fields =
      (c.power_factor ?? 0) > 0
        ? ['power_factor']
        : (c.active_power_kw ?? 0) > 0 && (c.reactive_power_kvar ?? 0) > 0
          ? ['active_power_kw', 'reactive_power_kvar']
          : []
    const p = kwh.get(key)?.[0]?.amount
    const q = kvarh.get(key)?.[0]?.amount
    const energy =
      p !== undefined && q !== undefined
        ? { activeKwh: p, reactiveKvarh: q, energyPf: powerFactorFromEnergy(p, q) }
        : { activeKwh: null, reactiveKvarh: null, energyPf: null }
    const row = { line: lineKey(d), device: d.device, mainMeter: d.mainMeter, threshold, ...energy }
    if (fields.length === 0) {
      rows.push({
        ...row,
        source: 'none',
        resolution: 'raw',
        samples: 0,
        meanPf: null,
        sampleMeanPf: null,
        belowThresholdH: 0,
        coveredH: 0,
        belowThresholdShare: null,
      })
      continue
    }
    const n = Math.max(...fields.map((f) => c[f] ?? 0))
    const { samples, count: sampleCount, resolution, maxGapMs } = await pfSamples(deps, d, range, fields, n, options.maxSamples)
    const s = powerFactorSummary(samples, { limit: threshold, maxGapMs })
    rows.push({
      ...row,
      source: fields.length === 1 ? 'power_factor' : 'active_reactive_power',
      resolution,
      samples: sampleCount,
      meanPf: Number.isFinite(s.mean) ? s.mean : null,
      sampleMeanPf: Number.isFinite(s.sampleMean) ? s.sampleMean : null,
      belowThresholdH: s.belowLimitMs / HOUR_MS,
      coveredH: s.coveredMs / HOUR_MS,
      belowThresholdShare: s.coveredMs > 0 ? s.belowLimitShare : null,
    })
  }
  return { ...base, rows }
}
