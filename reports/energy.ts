import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey, type PlantModel } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import {
  allocateIncrements,
  bucketWindows,
  counterIncrements,
  rollupEnergy,
  type AnomalyCounts,
  type Bucket,
  type BucketAmount,
  type Granularity,
  type Increment,
  type RollupNode,
  type Sample,
  type TimeRange,
} from '../analytics/index.ts'
import { reportError } from './errors.ts'
import { formatScope, linesOf, modelOfScope, scopeLevel, type Scope, type ScopeLine } from './scope.ts'

/** What every report reads from. */
export interface ReportDeps {
  store: TelemetryStore
  model: PlantModel
  /** Clock, epoch ms (the newest, still open window ends here). */
  now: () => number
}

/** Counter readings are the last value of each quarter hour: fine enough for 15-minute demand and any shift start on a quarter hour. */
export const READING_STEP = '15m'
export const READING_STEP_MS = 900_000
/** How far before the range the reading that opens it is looked for. */
export const READING_LOOKBACK_MS = 86_400_000

export type ReportGranularity = 'hour' | 'shift' | 'day' | 'month' | 'total'
export const REPORT_GRANULARITIES: readonly ReportGranularity[] = ['hour', 'shift', 'day', 'month', 'total']

/**
 * Readings of a cumulative counter (energy_import_kwh, output_t …) per device: the first value of each
 * quarter hour, placed at the quarter's start (with 1-second or 1-minute data it was read then), from
 * READING_LOOKBACK_MS before the range (to open it) to the first reading at or after its end (to close
 * it), plus the device's newest reading inside the range (so the open quarter counts up to now).
 * Two store queries for all devices of the list.
 */
export async function counterReadings(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, range: TimeRange): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>()
  if (devices.length === 0) return out
  const wanted = new Set(devices.map(deviceKey))
  const uniq = (xs: string[]): string[] => [...new Set(xs)]
  const filter = {
    enterprise: uniq(devices.map((d) => d.enterprise)),
    site: uniq(devices.map((d) => d.site)),
    line: uniq(devices.map((d) => d.line)),
    device: uniq(devices.map((d) => d.device)),
  }
  const start = range.start - READING_LOOKBACK_MS
  const [rows, newest] = await Promise.all([
    deps.store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: [quantity],
      filter,
      start,
      stop: range.end + READING_STEP_MS,
      every: READING_STEP,
      fn: 'first',
      groupBy: ['enterprise', 'site', 'line', 'device'],
      timezone: 'UTC',
    }),
    deps.store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: [quantity], filter, since: start }),
  ])
  const keyOf = (t: Record<string, string>): string => `${t.enterprise}/${t.site}/${t.line}/${t.device}`
  for (const r of rows) {
    const key = keyOf(r.tags)
    if (!wanted.has(key)) continue
    let list = out.get(key)
    if (!list) out.set(key, (list = []))
    list.push({ ts: r.windowStart, value: r.value })
  }
  for (const r of newest) {
    const key = keyOf(r.tags)
    const list = out.get(key)
    // Only a reading newer than the last quarter's start and inside the range: the open quarter so far.
    if (!list || !wanted.has(key) || r.ts > range.end) continue
    const last = list[list.length - 1] as Sample
    if (r.ts > last.ts && r.ts < last.ts + READING_STEP_MS) list.push({ ts: r.ts, value: r.value })
  }
  return out
}

/** A device's counter turned into increments, with what was odd about it. */
export interface DeviceIncrements {
  key: string
  increments: Increment[]
  counts: AnomalyCounts
}

/** Increments of each device's counter over the range (resets, rollovers, gaps handled by analytics). */
export async function deviceIncrements(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, range: TimeRange): Promise<Map<string, Increment[]>> {
  const readings = await counterReadings(deps, devices, quantity, range)
  const out = new Map<string, Increment[]>()
  for (const [key, samples] of readings) out.set(key, counterIncrements(samples, { maxGapMs: READING_STEP_MS }).increments)
  return out
}

/** Amount per bucket of each device (aligned with `buckets`), from its counter. */
export async function deviceBucketAmounts(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, buckets: readonly Bucket[]): Promise<Map<string, BucketAmount[]>> {
  if (buckets.length === 0) return new Map()
  const range = { start: (buckets[0] as Bucket).start, end: (buckets[buckets.length - 1] as Bucket).end }
  const readings = await counterReadings(deps, devices, quantity, range)
  const out = new Map<string, BucketAmount[]>()
  for (const [key, samples] of readings) {
    const { increments, anomalies } = counterIncrements(samples, { maxGapMs: READING_STEP_MS })
    const series = allocateIncrements(increments, buckets, anomalies)
    out.set(key, series.windows.map((w) => ({ amount: w.amount, coverage: w.coverage })))
  }
  return out
}

/** The time zone of a scope: its lines' zone when they share one, else the plant's. */
export function scopeTimezone(model: PlantModel, lines: readonly ScopeLine[]): string {
  const zones = new Set(lines.map((l) => l.timezone))
  return zones.size === 1 ? (lines[0] as ScopeLine).timezone : model.timezone
}

/** Buckets of a range for a scope; `shift` needs every line of the scope to have the same shifts. */
export function scopeBuckets(range: TimeRange, granularity: ReportGranularity, lines: readonly ScopeLine[], timezone: string): Bucket[] {
  if (granularity === 'total') return [{ start: range.start, end: range.end, label: 'total' }]
  let g: Granularity
  if (granularity === 'shift') {
    const patterns = new Set(lines.map((l) => JSON.stringify(l.model.shifts)))
    const shifts = (lines[0] as ScopeLine).model.shifts
    if (patterns.size !== 1 || shifts.length === 0) {
      throw reportError('REPORTS_ERR_INPUT', 'granularity shift needs a scope whose lines all have the same shift pattern (plant model: line.shifts)')
    }
    g = { shifts }
  } else {
    g = granularity
  }
  return bucketWindows(range, g, timezone)
}

/** The plant model of a scope with only what holds energy counters: meters (or the one device asked for). */
function meterModel(model: PlantModel, scope: Scope): PlantModel {
  const cut = modelOfScope(model, scope)
  for (const e of cut.enterprises) {
    for (const s of e.sites) {
      s.lines = s.lines.map((l) => ({
        ...l,
        devices: l.devices.filter((d) => (scope.device !== undefined ? d.id === scope.device : d.kind === 'meter' || d.id === l.mainMeter)),
        ...(scope.device !== undefined && l.mainMeter !== scope.device ? { mainMeter: undefined } : {}),
      }))
    }
  }
  return cut
}

function findNode(nodes: readonly RollupNode[], path: string): RollupNode | undefined {
  for (const n of nodes) {
    if (n.path === path) return n
    if (path.startsWith(`${n.path}/`)) return findNode(n.children, path)
  }
  return undefined
}

export interface EnergyRow {
  scope: string
  bucket: string
  start: number
  end: number
  energyKwh: number
  /** 0..1: share of the bucket covered by data. */
  coverage: number
}

export interface EnergyReport {
  scope: string
  level: ReturnType<typeof scopeLevel>
  timezone: string
  granularity: ReportGranularity
  start: number
  end: number
  energyKwh: number
  coverage: number
  /** Device paths that should have contributed but sent no counter readings in the range. */
  missing: string[]
  /** One row per bucket of the scope. */
  rows: EnergyRow[]
  /** The roll-up below the scope (line → devices, site → lines …) for drill-down; sub-meters marked. */
  node: RollupNode
}

/**
 * Energy of a scope per bucket, from the energy counters (energy_import_kwh) of its meters, rolled
 * up by the plant model: a line is its main meter (else the sum of its meters), a site the sum of its
 * lines, an enterprise the sum of its sites. Throws REPORTS_ERR_SCOPE for a scope not in the model.
 */
export async function energyReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<EnergyReport> {
  const lines = linesOf(deps.model, scope)
  const timezone = scopeTimezone(deps.model, lines)
  const buckets = scopeBuckets(range, granularity, lines, timezone)
  const model = meterModel(deps.model, scope)
  const devices = model.enterprises.flatMap((e) =>
    e.sites.flatMap((s) => s.lines.flatMap((l) => l.devices.map((d) => ({ enterprise: e.id, site: s.id, line: l.id, device: d.id })))),
  )
  const amounts = await deviceBucketAmounts(deps, devices, 'energy_import_kwh', buckets)
  const tree = rollupEnergy(model, buckets, amounts)
  const path = formatScope(scope)
  const node = findNode(tree, path)
  if (!node) throw reportError('REPORTS_ERR_SCOPE', `no ${scopeLevel(scope)} ${JSON.stringify(path)} with energy meters in the plant model`)
  return {
    scope: path,
    level: scopeLevel(scope),
    timezone,
    granularity,
    start: range.start,
    end: range.end,
    energyKwh: node.energyKwh,
    coverage: node.coverage,
    missing: node.missing,
    rows: node.buckets.map((b) => ({ scope: path, bucket: b.label, start: b.start, end: b.end, energyKwh: b.energyKwh, coverage: b.coverage })),
    node,
  }
}

export interface ProductionRow {
  line: string
  product: string
  unit: string
  bucket: string
  start: number
  end: number
  output: number
  coverage: number
}

/**
 * Output per bucket of every line of the scope that has a product, from its production counter
 * (output_t for tonnes, output_count for pieces).
 */
export async function productionReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<{ timezone: string; rows: ProductionRow[] }> {
  const lines = linesOf(deps.model, scope).filter((l) => l.productionDevice !== undefined && l.model.product !== undefined)
  const timezone = scopeTimezone(deps.model, lines.length > 0 ? lines : linesOf(deps.model, scope))
  const rows: ProductionRow[] = []
  for (const quantity of ['output_t', 'output_count'] as const) {
    const group = lines.filter((l) => (l.model.product?.unit === 't') === (quantity === 'output_t'))
    if (group.length === 0) continue
    const buckets = scopeBuckets(range, granularity, group, timezone)
    const amounts = await deviceBucketAmounts(deps, group.map((l) => l.productionDevice as DeviceAddress), quantity, buckets)
    for (const l of group) {
      const series = amounts.get(deviceKey(l.productionDevice as DeviceAddress))
      buckets.forEach((b, i) => {
        const a = series?.[i]
        rows.push({ line: l.path, product: l.model.product?.id ?? '', unit: l.model.product?.unit ?? '', bucket: b.label, start: b.start, end: b.end, output: a?.amount ?? 0, coverage: a?.coverage ?? 0 })
      })
    }
  }
  return { timezone, rows }
}
