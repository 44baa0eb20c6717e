import { addressOfTags, type DeviceAddress } from '../core/topic.ts'
import { deviceKey, type PlantModel } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type AggregateRow, type TelemetryStore } from '../storage/store.ts'
import {
  allocateIncrements,
  bucketWindows,
  counterIncrements,
  rollupEnergy,
  type AnomalyCounts,
  type Bucket,
  type BucketAmount,
  type CounterEvent,
  type CounterOptions,
  type Granularity,
  type Increment,
  type RollupNode,
  type Sample,
  type TimeRange,
} from '../analytics/index.ts'
import type { ReferenceData } from '../analytics/index.ts'
import type { RecordReader } from '../records/index.ts'
import { reportError } from './errors.ts'
import { cacheAnswer, cachedAnswer, ceilQuarter, closedEnd, ensureRollup, floorQuarter, rollupReadings, type CounterRollup } from './counter-rollup.ts'
import { deviceFilter, formatScope, linesOf, modelOfScope, scopeLevel, type Scope, type ScopeLine } from './scope.ts'
import { DAY_MS, HOUR_MS } from '../core/duration.ts'

/** What every report reads from. */
export interface ReportDeps {
  store: TelemetryStore
  model: PlantModel
  /** Clock, epoch ms (the newest, still open window ends here). */
  now: () => number
  /**
   * Counter roll-up (reports/counter-rollup.ts): closed quarters are read from `counter_15m`, filled on
   * demand; absent = every reading comes from the raw telemetry.
   */
  rollup?: CounterRollup
  /** Reference data (tariffs, factors, benchmarks); default analytics DEFAULT_REFERENCE. */
  reference?: ReferenceData
  /** Readings already fetched during one answer (monthlyReport shares them between its parts). */
  memo?: Map<string, Promise<Map<string, Sample[]>>>
  /** Audited energy and production entries (records/): what no meter measures; absent = meters only. */
  records?: RecordReader
  /**
   * Recorded meter events (records/meter-events.ts `meterEventReader`): replacements, ratio changes
   * and resets make counters exact across them. Absent: every counter drop is classified from the
   * data alone (rollover at the model's `counterModulus`, jitter, else an unexplained reset).
   */
  meterEvents?: MeterEventReader
}

/** A device's recorded events of one quantity, and a signature that changes with any record, revision or void. */
export interface DeviceMeterEvents {
  events: CounterEvent[]
  /** E.g. `id@revision,…`: cached answers are keyed by it, so an event recorded later is never hidden by a cache. */
  signature: string
}

/** What reports read recorded meter events through. */
export interface MeterEventReader {
  /**
   * The current (not voided) events of `quantity` of these devices with ts < `before`, all of their
   * history (a ratio change or a new modulus long ago still applies), by deviceKey, sorted by ts.
   * Devices without events may be left out.
   */
  eventsOf(devices: readonly DeviceAddress[], quantity: string, before: number): Promise<Map<string, DeviceMeterEvents>>
}

const NO_EVENTS: DeviceMeterEvents = { events: [], signature: '' }

/** The register modulus of each device's counter quantities, from the plant model (`counterModulus`), by deviceKey. */
const moduliCache = new WeakMap<PlantModel, Map<string, Readonly<Record<string, number>>>>()
export function counterModuli(model: PlantModel): Map<string, Readonly<Record<string, number>>> {
  let m = moduliCache.get(model)
  if (m) return m
  m = new Map()
  for (const e of model.enterprises)
    for (const s of e.sites)
      for (const l of s.lines)
        for (const d of l.devices) if (d.counterModulus) m.set(deviceKey({ enterprise: e.id, site: s.id, line: l.id, device: d.id }), d.counterModulus)
  moduliCache.set(model, m)
  return m
}

/** What the counter maths of one device need besides its readings: its modulus and its recorded events. */
export interface DeviceCounterContext {
  modulus?: number
  events: DeviceMeterEvents
}

/**
 * The counter context of each device (by deviceKey): the model's modulus and, with `deps.meterEvents`,
 * the events recorded up to `before` (one read for all of them).
 */
export async function counterContexts(
  deps: ReportDeps,
  devices: readonly DeviceAddress[],
  quantity: string,
  before: number,
): Promise<Map<string, DeviceCounterContext>> {
  const moduli = counterModuli(deps.model)
  const events = deps.meterEvents && devices.length > 0 ? await deps.meterEvents.eventsOf(devices, quantity, before) : undefined
  const out = new Map<string, DeviceCounterContext>()
  for (const d of devices) {
    const key = deviceKey(d)
    const modulus = moduli.get(key)?.[quantity]
    out.set(key, { ...(modulus === undefined ? {} : { modulus }), events: events?.get(key) ?? NO_EVENTS })
  }
  return out
}

/** A context's cache signature: modulus and events. */
const contextSignature = (c: DeviceCounterContext | undefined): string => (c ? `${c.modulus ?? ''}#${c.events.signature}` : '')

/** Counter readings are the first value of each quarter hour: fine enough for 15-minute demand and any shift start on a quarter hour. */
export const READING_STEP = '15m'
export const READING_STEP_MS = 900_000
/** How far before the range the reading that opens it is looked for. */
export const READING_LOOKBACK_MS = DAY_MS

export type ReportGranularity = 'hour' | 'shift' | 'day' | 'month' | 'total'
export const REPORT_GRANULARITIES: readonly ReportGranularity[] = ['hour', 'shift', 'day', 'month', 'total']

/**
 * Readings of a cumulative counter (energy_import_kwh, output_t …) per device: the first value of each
 * quarter hour, placed at the quarter's start (with 1-second or 1-minute data it was read then), from
 * READING_LOOKBACK_MS before the range (to open it) to the first reading at or after its end (to close
 * it), plus the device's newest reading inside the range (so the open quarter counts up to now).
 * Both ends are widened to whole quarters, so the answer is the same whether a quarter comes from
 * the raw data or from the roll-up. With `deps.rollup`, closed quarters come from the roll-up
 * (filled on demand) and only the open tail from the raw data.
 */
export function counterReadings(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, range: TimeRange): Promise<Map<string, Sample[]>> {
  if (!deps.memo) return readWithFallback(deps, devices, quantity, range)
  const key = `${quantity}|${range.start}|${range.end}|${devices.map(deviceKey).join(',')}`
  let p = deps.memo.get(key)
  if (!p) deps.memo.set(key, (p = readWithFallback(deps, devices, quantity, range)))
  return p
}

/** Energy counters; a device that has none over the range gets one made from its power (below). */
async function readWithFallback(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, range: TimeRange): Promise<Map<string, Sample[]>> {
  const out = await readCounter(deps, devices, quantity, range)
  if (quantity !== 'energy_import_kwh') return out
  const without = devices.filter((d) => !out.has(deviceKey(d)))
  if (without.length === 0) return out
  for (const [key, samples] of await powerReadings(deps, without, range)) out.set(key, samples)
  return out
}

/**
 * For a device without an energy counter (a power transducer, a drive reporting kW only): a counter
 * integrated from its power, E(quarter k) = Σ_{j<k} mean kW of quarter j × 0.25 h, as readings at the
 * quarter starts — the same shape as a real counter's readings, so every report (cost, demand, roll-ups)
 * treats the device alike. A quarter without power samples adds nothing and, as a missing reading,
 * counts as a gap in coverage.
 */
async function powerReadings(deps: ReportDeps, devices: readonly DeviceAddress[], range: TimeRange): Promise<Map<string, Sample[]>> {
  const wanted = new Set(devices.map(deviceKey))
  const start = floorQuarter(range.start - READING_LOOKBACK_MS)
  const stop = ceilQuarter(range.end) + READING_STEP_MS
  const rows = await deps.store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields: ['active_power_kw'],
    filter: deviceFilter(devices),
    start,
    stop,
    every: READING_STEP,
    fn: 'mean',
    groupBy: ['enterprise', 'site', 'line', 'device'],
    timezone: 'UTC',
  })
  const byDevice = new Map<string, { ts: number; kw: number }[]>()
  for (const r of rows) {
    const key = deviceKey(addressOfTags(r.tags))
    if (!wanted.has(key)) continue
    const list = byDevice.get(key)
    if (list) list.push({ ts: r.windowStart, kw: r.value })
    else byDevice.set(key, [{ ts: r.windowStart, kw: r.value }])
  }
  const out = new Map<string, Sample[]>()
  for (const [key, windows] of byDevice) {
    windows.sort((a, b) => a.ts - b.ts)
    const samples: Sample[] = []
    let kwh = 0
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i] as { ts: number; kw: number }
      // A reading opens each quarter with data and closes it, so a quarter without data between two is a gap.
      if (samples.length === 0 || (samples[samples.length - 1] as Sample).ts !== w.ts) samples.push({ ts: w.ts, value: kwh })
      // The open quarter counts up to now only.
      const end = Math.min(w.ts + READING_STEP_MS, Math.max(w.ts, deps.now()))
      if (end === w.ts) continue
      kwh += (Math.max(0, w.kw) * (end - w.ts)) / HOUR_MS
      samples.push({ ts: end, value: kwh })
    }
    out.set(
      key,
      samples.filter((x) => x.ts <= stop),
    )
  }
  return out
}

async function readCounter(deps: ReportDeps, devices: readonly DeviceAddress[], quantity: string, range: TimeRange): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>()
  if (devices.length === 0) return out
  const wanted = new Set(devices.map(deviceKey))
  const filter = deviceFilter(devices)
  const start = floorQuarter(range.start - READING_LOOKBACK_MS)
  const stop = ceilQuarter(range.end) + READING_STEP_MS
  const now = deps.now()
  // Quarters before `split` come from the roll-up, the rest from the raw data.
  let split = start
  let settled: Parameters<typeof rollupReadings>[5]
  if (deps.rollup) {
    split = Math.max(start, Math.min(stop, closedEnd(deps.rollup, now)))
    // Always up to the closed part at `now`, not only to the range's end: each advance re-reads the
    // last rereadMs, which is what picks up late data in ranges already materialised.
    if (split > start)
      settled = { rollup: deps.rollup, watermarks: (await ensureRollup(deps.store, deps.rollup, devices, quantity, start, now, now)).watermarks }
  }
  const rawPart = (): Promise<AggregateRow[]> =>
    split < stop
      ? deps.store.aggregate({
          measurement: TELEMETRY_MEASUREMENT,
          fields: [quantity],
          filter,
          start: split,
          stop,
          every: READING_STEP,
          fn: 'first',
          groupBy: ['enterprise', 'site', 'line', 'device'],
          timezone: 'UTC',
        })
      : Promise.resolve([])
  const [rolled, tail] = await Promise.all([
    split > start ? rollupReadings(deps.store, devices, quantity, start, split, settled) : Promise.resolve(new Map<string, Sample[]>()),
    rawPart(),
  ])
  for (const [key, samples] of rolled) out.set(key, samples)
  // Rows come grouped by device: the key is worked out once per device, not per row.
  let tags: Readonly<Record<string, string>> | undefined
  let list: Sample[] | undefined
  for (const r of tail) {
    if (!tags || !sameDevice(tags, r.tags)) {
      tags = r.tags
      const key = deviceKey(addressOfTags(r.tags))
      list = wanted.has(key) ? out.get(key) : undefined
      if (wanted.has(key) && !list) out.set(key, (list = []))
    }
    list?.push({ ts: r.windowStart, value: r.value })
  }
  // The newest reading counts only after a list's last reading (below): reading from the earliest of
  // those is the same answer as reading from `start`, without scanning the whole range for it.
  let since = Number.POSITIVE_INFINITY
  for (const samples of out.values()) if (samples.length > 0) since = Math.min(since, (samples[samples.length - 1] as Sample).ts)
  if (since === Number.POSITIVE_INFINITY) return out
  const newest = await deps.store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: [quantity], filter, since: Math.max(start, since) })
  for (const r of newest) {
    const key = deviceKey(addressOfTags(r.tags))
    const list = out.get(key)
    // Only a reading newer than the last quarter's start and inside the range: the open quarter so far.
    if (!list || !wanted.has(key) || r.ts > range.end) continue
    const last = list[list.length - 1] as Sample
    if (r.ts > last.ts && r.ts < last.ts + READING_STEP_MS) list.push({ ts: r.ts, value: r.value })
  }
  return out
}

const sameDevice = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
  a === b || (a.device === b.device && a.line === b.line && a.site === b.site && a.enterprise === b.enterprise)

/** A device's counter turned into increments, with what was odd about it. */
export interface DeviceIncrements {
  key: string
  increments: Increment[]
  counts: AnomalyCounts
}

/** Increments of each device's counter over the range (resets, rollovers, gaps handled by analytics). */
export async function deviceIncrements(
  deps: ReportDeps,
  devices: readonly DeviceAddress[],
  quantity: string,
  range: TimeRange,
): Promise<Map<string, Increment[]>> {
  const [readings, contexts] = await Promise.all([
    counterReadings(deps, devices, quantity, range),
    counterContexts(deps, devices, quantity, readingsStop(range)),
  ])
  const out = new Map<string, Increment[]>()
  for (const [key, samples] of readings) out.set(key, readingIncrements(samples, contexts.get(key)).increments)
  return out
}

/** Where the readings of a range end (exclusive): events before it can touch them. */
export const readingsStop = (range: TimeRange): number => ceilQuarter(range.end) + READING_STEP_MS

const incrementsCache = new WeakMap<readonly Sample[], Map<string, ReturnType<typeof counterIncrements>>>()

/**
 * counterIncrements of a reading list with the device's modulus and recorded events, computed once
 * per list and context (readings are shared through ReportDeps.memo).
 */
export function readingIncrements(samples: readonly Sample[], context?: DeviceCounterContext): ReturnType<typeof counterIncrements> {
  let byContext = incrementsCache.get(samples)
  if (!byContext) incrementsCache.set(samples, (byContext = new Map()))
  const sig = contextSignature(context)
  let r = byContext.get(sig)
  if (!r) {
    const options: CounterOptions = { maxGapMs: READING_STEP_MS }
    if (context?.modulus !== undefined) options.modulus = context.modulus
    if (context && context.events.events.length > 0) options.events = context.events.events
    byContext.set(sig, (r = counterIncrements(samples, options)))
  }
  return r
}

/** Amount per bucket of each device (aligned with `buckets`), from its counter. */
export async function deviceBucketAmounts(
  deps: ReportDeps,
  devices: readonly DeviceAddress[],
  quantity: string,
  buckets: readonly Bucket[],
): Promise<Map<string, BucketAmount[]>> {
  if (buckets.length === 0) return new Map()
  const range = { start: (buckets[0] as Bucket).start, end: (buckets[buckets.length - 1] as Bucket).end }
  const out = new Map<string, BucketAmount[]>()
  let todo: readonly DeviceAddress[] = devices
  const contexts = await counterContexts(deps, devices, quantity, readingsStop(range))
  // Settled answers (wholly before the roll-up's watermark minus its re-read window) are kept in memory.
  let keyOf: ((d: DeviceAddress) => string | undefined) | undefined
  const rollup = deps.rollup
  if (rollup && rollup.maxCachedAnswers > 0 && buckets.length <= 400) {
    const stop = ceilQuarter(range.end) + READING_STEP_MS
    const now = deps.now()
    const { watermarks } = await ensureRollup(deps.store, rollup, devices, quantity, floorQuarter(range.start - READING_LOOKBACK_MS), now, now)
    const sig = `${quantity}|${buckets.map((b) => b.start).join(',')}|${range.end}`
    keyOf = (d) => {
      const w = watermarks.get(deviceKey(d))
      // The events' signature is part of the key: an event recorded, revised or voided later is a new answer.
      return w && stop <= w.to - rollup.rereadMs ? `${deviceKey(d)}|${w.gen}|${contextSignature(contexts.get(deviceKey(d)))}|${sig}` : undefined
    }
    todo = devices.filter((d) => {
      const key = keyOf?.(d)
      const hit = key === undefined ? undefined : cachedAnswer<BucketAmount[]>(rollup, key)
      if (hit) out.set(deviceKey(d), hit)
      return !hit
    })
    if (todo.length === 0) return out
  }
  const readings = await counterReadings(deps, todo, quantity, range)
  for (const d of todo) {
    const key = deviceKey(d)
    const samples = readings.get(key)
    if (!samples) continue
    const { increments, anomalies } = readingIncrements(samples, contexts.get(key))
    const series = allocateIncrements(increments, buckets, anomalies)
    const amounts = series.windows.map((w) => ({ amount: w.amount, coverage: w.coverage }))
    out.set(key, amounts)
    const cacheKey = keyOf?.(d)
    if (rollup && cacheKey !== undefined) cacheAnswer(rollup, cacheKey, amounts)
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

function devicesOfModel(model: PlantModel): DeviceAddress[] {
  return model.enterprises.flatMap((e) =>
    e.sites.flatMap((s) => s.lines.flatMap((l) => l.devices.map((d) => ({ enterprise: e.id, site: s.id, line: l.id, device: d.id })))),
  )
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
  const devices = devicesOfModel(model)
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
export async function productionReport(
  deps: ReportDeps,
  scope: Scope,
  range: TimeRange,
  granularity: ReportGranularity,
): Promise<{ timezone: string; rows: ProductionRow[] }> {
  const lines = linesOf(deps.model, scope).filter((l) => l.productionDevice !== undefined && l.model.product !== undefined)
  const timezone = scopeTimezone(deps.model, lines.length > 0 ? lines : linesOf(deps.model, scope))
  const rows: ProductionRow[] = []
  for (const quantity of ['output_t', 'output_count'] as const) {
    const group = lines.filter((l) => (l.model.product?.unit === 't') === (quantity === 'output_t'))
    if (group.length === 0) continue
    const buckets = scopeBuckets(range, granularity, group, timezone)
    const amounts = await deviceBucketAmounts(
      deps,
      group.map((l) => l.productionDevice as DeviceAddress),
      quantity,
      buckets,
    )
    for (const l of group) {
      const series = amounts.get(deviceKey(l.productionDevice as DeviceAddress))
      buckets.forEach((b, i) => {
        const a = series?.[i]
        rows.push({
          line: l.path,
          product: l.model.product?.id ?? '',
          unit: l.model.product?.unit ?? '',
          bucket: b.label,
          start: b.start,
          end: b.end,
          output: a?.amount ?? 0,
          coverage: a?.coverage ?? 0,
        })
      })
    }
  }
  return { timezone, rows }
}

/** Increments clipped to a range, pro rata by time (as allocateIncrements spreads them). */
export function clipIncrements(increments: readonly Increment[], range: TimeRange): Increment[] {
  const out: Increment[] = []
  for (const inc of increments) {
    const a = Math.max(inc.start, range.start)
    const b = Math.min(inc.end, range.end)
    if (!(a < b)) continue
    out.push(a === inc.start && b === inc.end ? inc : { start: a, end: b, amount: (inc.amount * (b - a)) / (inc.end - inc.start), gap: inc.gap })
  }
  return out
}

/** The energy intervals of one line of a scope (its main meter's increments, or those of each of its meters). */
export interface LineIntervals {
  line: ScopeLine
  /** Sorted by start within each device; several devices' intervals overlap in time. */
  intervals: Increment[]
  /** Device paths that sent no readings. */
  missing: string[]
  /** Devices whose intervals are in `intervals`. */
  devices: number
}

/**
 * Energy increments of every line of the scope, clipped to the range: the devices `energyReport`
 * counts (a line's main meter, else its meters; for a device scope, that device). Feed them to
 * touCost and demandFromEnergy.
 */
/** The devices whose counters make up a line's energy within a scope (a device scope: that device). */
export function lineEnergyDevices(line: ScopeLine, scope: Scope): DeviceAddress[] {
  return scope.device !== undefined ? line.devices.filter((d) => d.device === scope.device) : line.energyDevices
}

export async function scopeEnergyIntervals(deps: ReportDeps, scope: Scope, range: TimeRange): Promise<LineIntervals[]> {
  const lines = linesOf(deps.model, scope)
  const devicesOfLine = (l: ScopeLine): DeviceAddress[] => lineEnergyDevices(l, scope)
  // The same device list as energyReport reads (sub-meters included), so one answer reads it once (memo).
  const all = devicesOfModel(meterModel(deps.model, scope))
  const [readings, contexts] = await Promise.all([
    counterReadings(deps, all, 'energy_import_kwh', range),
    counterContexts(deps, all, 'energy_import_kwh', readingsStop(range)),
  ])
  return lines.map((line) => {
    const intervals: Increment[] = []
    const missing: string[] = []
    let devices = 0
    for (const d of devicesOfLine(line)) {
      const samples = readings.get(deviceKey(d))
      if (!samples) {
        missing.push(deviceKey(d))
        continue
      }
      devices++
      for (const iv of clipIncrements(readingIncrements(samples, contexts.get(deviceKey(d))).increments, range)) intervals.push(iv)
    }
    return { line, intervals, missing, devices }
  })
}
