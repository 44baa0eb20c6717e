import { addressOfTags, addressTags, type DeviceAddress } from '../core/topic.ts'
import { deviceKey, type PlantModel } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import type { Sample } from '../analytics/index.ts'
import { allLines, deviceFilter } from './scope.ts'
import { DAY_MS } from '../core/duration.ts'

/**
 * Roll-up of counter readings (reports/README.md, "Roll-up"). Reports read a counter as the first
 * value of each quarter hour; over a year of 1-minute data that is a scan of 525,600 rows per
 * device. The roll-up materialises those quarter-hour readings of *closed* quarters in the same
 * store, as measurement `counter_15m` (same tags as telemetry, one field per counter quantity, the
 * point at the quarter's start), so a report reads 35,040 rows a year per device and the raw data
 * only for the open tail.
 *
 * What is materialised is tracked per (device, quantity) as an interval [from, to) of quarter
 * starts, stored in the store itself (measurement `counter_15m_state`, fields `<quantity>_from`
 * and `<quantity>_to`, one point at ts 0 that every update overwrites), so every process sharing
 * the store sees it.
 *
 * Freshness:
 *  - a quarter is closed `settleMs` after its end (default 2 min): later it is read from the roll-up;
 *  - each time the roll-up of a device advances, the last `rereadMs` (default 1 day) before its
 *    watermark are re-read from the raw data and overwritten (writes are idempotent by series and
 *    ts), so samples that arrive up to a day late (edge-agent buffers replayed after an outage) are
 *    picked up at the next quarter;
 *  - anything older (CSV imports of history, long replays) must call `invalidateRollup` or
 *    `invalidateForPoints`: it lowers the watermark to the quarter of the oldest point, and the
 *    next report or `refreshRollup` re-reads from there.
 * Updates of one store are serialised in this process; two processes filling the same device at
 * once write the same values (idempotent), but an invalidation from process A racing a fill in
 * process B can be overwritten by B's watermark: run imports and the periodic refresh in one process.
 */

/** Measurement of the materialised quarter-hour readings. */
export const COUNTER_ROLLUP_MEASUREMENT = 'counter_15m'
/** Measurement of the watermarks (one point per device at ts 0). */
export const COUNTER_ROLLUP_STATE_MEASUREMENT = 'counter_15m_state'
/** The counters reports read (core/quantities.ts). */
export const ROLLUP_QUANTITIES = ['energy_import_kwh', 'output_t', 'output_count'] as const

const QUARTER_MS = 900_000
const STATE_TS = 0
const WRITE_BATCH = 5000

/** Options of the counter roll-up. */
export interface CounterRollupOptions {
  /** A quarter counts as closed this long after its end, ms. Default 120_000 (2 min). */
  settleMs?: number
  /** Each advance re-reads this much raw data before the watermark, ms. Default 86_400_000 (1 day). */
  rereadMs?: number
  /** Length of the raw range one fill query reads, ms. Default 7 days. */
  chunkMs?: number
}

/**
 * The roll-up's settings (no I/O: the state lives in the store) and this process' cache of
 * settled answers: amounts per bucket of a device over a range that lies wholly before its
 * watermark minus `rereadMs` cannot change until the watermark's generation changes (an
 * invalidation), so they are kept, keyed by device, quantity, generation and buckets.
 */
export interface CounterRollup {
  readonly settleMs: number
  readonly rereadMs: number
  readonly chunkMs: number
  /** Most settled answers kept (least recently used dropped). 0 = no cache. */
  readonly maxCachedAnswers: number
  readonly answers: Map<string, unknown>
  /** Most quarter readings of `counter_15m` kept in memory (settled ranges, see keptReadings). 0 = none. */
  readonly maxKeptReadings: number
  readonly kept: KeptReadings
}

/**
 * Settled readings as stored in `counter_15m`, kept per (quantity, device): quarters [from, to) of
 * watermark generation `gen`, `to` at most the watermark minus `rereadMs`. Like the settled answers
 * they cannot change until the generation does; unlike them they are only the stored rows — every
 * report still computes increments, buckets, prices and demand from them. A second report over the
 * same year then reads only what is newer than `to` from the store.
 */
export interface KeptReadings {
  byKey: Map<string, { gen: number; from: number; to: number; ts: Float64Array; values: Float64Array }>
  /** Readings held in all. */
  count: number
}

export function counterRollup(options: CounterRollupOptions & { maxCachedAnswers?: number; maxKeptReadings?: number } = {}): CounterRollup {
  const settleMs = options.settleMs ?? 120_000
  const rereadMs = options.rereadMs ?? DAY_MS
  const chunkMs = options.chunkMs ?? 7 * DAY_MS
  return {
    settleMs: Math.max(0, settleMs),
    rereadMs: Math.max(0, rereadMs),
    chunkMs: Math.max(QUARTER_MS, chunkMs - (chunkMs % QUARTER_MS)),
    maxCachedAnswers: Math.max(0, options.maxCachedAnswers ?? 20_000),
    answers: new Map(),
    // 2 M readings: 32 MB, about 57 device-years of quarters.
    maxKeptReadings: Math.max(0, options.maxKeptReadings ?? 2_000_000),
    kept: { byKey: new Map(), count: 0 },
  }
}

/** A settled answer, or undefined; refreshes its place in the LRU order. */
export function cachedAnswer<T>(rollup: CounterRollup, key: string): T | undefined {
  const v = rollup.answers.get(key)
  if (v === undefined) return undefined
  rollup.answers.delete(key)
  rollup.answers.set(key, v)
  return v as T
}

export function cacheAnswer(rollup: CounterRollup, key: string, value: unknown): void {
  if (rollup.maxCachedAnswers === 0) return
  rollup.answers.set(key, value)
  while (rollup.answers.size > rollup.maxCachedAnswers) rollup.answers.delete(rollup.answers.keys().next().value as string)
}

export const floorQuarter = (ts: number): number => Math.floor(ts / QUARTER_MS) * QUARTER_MS
export const ceilQuarter = (ts: number): number => Math.ceil(ts / QUARTER_MS) * QUARTER_MS

/** Quarters starting before this instant are closed at `now`. */
export function closedEnd(rollup: CounterRollup, now: number): number {
  return floorQuarter(now - rollup.settleMs)
}

const locks = new WeakMap<TelemetryStore, Promise<unknown>>()

/** Serialises roll-up updates of one store inside this process. */
function withLock<T>(store: TelemetryStore, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(store) ?? Promise.resolve()
  const next = prev.then(fn, fn)
  locks.set(
    store,
    next.catch(() => undefined),
  )
  return next
}

/** What is materialised of one device's counter: quarters [from, to); `gen` counts invalidations. */
export interface Watermark {
  from: number
  to: number
  gen: number
}

async function readState(store: TelemetryStore, devices: readonly DeviceAddress[], quantity: string): Promise<Map<string, Watermark>> {
  const rows = await store.latest({
    measurement: COUNTER_ROLLUP_STATE_MEASUREMENT,
    fields: [`${quantity}_from`, `${quantity}_to`, `${quantity}_gen`],
    filter: deviceFilter(devices),
  })
  const partial = new Map<string, Partial<Watermark>>()
  for (const r of rows) {
    const key = deviceKey(addressOfTags(r.tags))
    const w = partial.get(key) ?? {}
    if (r.field === `${quantity}_from`) w.from = r.value
    else if (r.field === `${quantity}_to`) w.to = r.value
    else w.gen = r.value
    partial.set(key, w)
  }
  const out = new Map<string, Watermark>()
  for (const [key, w] of partial) if (w.from !== undefined && w.to !== undefined) out.set(key, { from: w.from, to: w.to, gen: w.gen ?? 0 })
  return out
}

function stateOf(d: DeviceAddress, quantity: string, w: Watermark): TelemetryPoint {
  return {
    measurement: COUNTER_ROLLUP_STATE_MEASUREMENT,
    tags: addressTags(d),
    fields: { [`${quantity}_from`]: w.from, [`${quantity}_to`]: w.to, [`${quantity}_gen`]: w.gen },
    ts: STATE_TS,
  }
}

/** Materialises [from, to) (quarter-aligned) of the devices' counter from the raw telemetry. */
async function fillSegment(
  store: TelemetryStore,
  rollup: CounterRollup,
  devices: readonly DeviceAddress[],
  quantity: string,
  from: number,
  to: number,
): Promise<number> {
  const wanted = new Set(devices.map(deviceKey))
  let written = 0
  for (let a = from; a < to; a += rollup.chunkMs) {
    const b = Math.min(to, a + rollup.chunkMs)
    const rows = await store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: [quantity],
      filter: deviceFilter(devices),
      start: a,
      stop: b,
      every: '15m',
      fn: 'first',
      groupBy: ['enterprise', 'site', 'line', 'device'],
      timezone: 'UTC',
    })
    const points: TelemetryPoint[] = []
    for (const r of rows) {
      if (!wanted.has(deviceKey(addressOfTags(r.tags)))) continue
      points.push({ measurement: COUNTER_ROLLUP_MEASUREMENT, tags: r.tags, fields: { [quantity]: r.value }, ts: r.windowStart })
    }
    for (let i = 0; i < points.length; i += WRITE_BATCH) await store.write(points.slice(i, i + WRITE_BATCH))
    written += points.length
  }
  return written
}

/** What one update did. */
export interface RollupFillStats {
  /** Devices whose roll-up was extended or re-read. */
  devices: number
  /** Quarter readings written. */
  readings: number
  /** The watermarks after the update, by deviceKey. */
  watermarks: Map<string, Watermark>
}

/**
 * Makes sure quarters [from, to) of the devices' counter are materialised (both rounded to quarters
 * and `to` capped at the closed part at `now`), extending each device's interval and re-reading
 * `rereadMs` before its watermark when it advances.
 */
export function ensureRollup(
  store: TelemetryStore,
  rollup: CounterRollup,
  devices: readonly DeviceAddress[],
  quantity: string,
  from: number,
  to: number,
  now: number,
): Promise<RollupFillStats> {
  const a = floorQuarter(from)
  const b = Math.min(ceilQuarter(to), closedEnd(rollup, now))
  if (devices.length === 0 || !(a < b)) return Promise.resolve({ devices: 0, readings: 0, watermarks: new Map() })
  return withLock(store, async () => {
    const state = await readState(store, devices, quantity)
    // Devices needing the same segments are read together: one aggregate query for all of them.
    const groups = new Map<string, { segments: Array<[number, number]>; devices: DeviceAddress[] }>()
    const updates: Array<[DeviceAddress, Watermark]> = []
    for (const d of devices) {
      const w = state.get(deviceKey(d))
      const segments: Array<[number, number]> = []
      if (!w) segments.push([a, b])
      else {
        if (a < w.from) segments.push([a, w.from])
        if (b > w.to) segments.push([Math.max(w.from, w.to - rollup.rereadMs), b])
      }
      if (segments.length === 0) continue
      const key = JSON.stringify(segments)
      const g = groups.get(key) ?? { segments, devices: [] }
      g.devices.push(d)
      groups.set(key, g)
      const next = w ? { from: Math.min(a, w.from), to: Math.max(b, w.to), gen: w.gen } : { from: a, to: b, gen: 0 }
      updates.push([d, next])
      state.set(deviceKey(d), next)
    }
    let readings = 0
    for (const g of groups.values()) for (const [s, e] of g.segments) readings += await fillSegment(store, rollup, g.devices, quantity, s, e)
    // The watermark moves only after its readings are durable.
    if (updates.length > 0) await store.write(updates.map(([d, w]) => stateOf(d, quantity, w)))
    return { devices: updates.length, readings, watermarks: state }
  })
}

/**
 * Marks the devices' roll-up as stale from `fromTs` on (its quarter): call it when data older than
 * `rereadMs` was written for a closed quarter (CSV import, a long replay). The next report or
 * refresh re-reads the raw data from there. `quantities` defaults to every counter of ROLLUP_QUANTITIES.
 */
export function invalidateRollup(
  store: TelemetryStore,
  devices: readonly DeviceAddress[],
  fromTs: number,
  quantities: readonly string[] = ROLLUP_QUANTITIES,
): Promise<number> {
  if (devices.length === 0) return Promise.resolve(0)
  const q = floorQuarter(fromTs)
  return withLock(store, async () => {
    const points: TelemetryPoint[] = []
    for (const quantity of quantities) {
      const state = await readState(store, devices, quantity)
      for (const d of devices) {
        const w = state.get(deviceKey(d))
        if (!w || q >= w.to) continue
        // Before the interval: nothing of it can be trusted any more, re-read all of it.
        points.push(stateOf(d, quantity, { from: w.from, to: Math.max(w.from, q), gen: w.gen + 1 }))
      }
    }
    if (points.length > 0) await store.write(points)
    return points.length
  })
}

/**
 * Invalidates from what was just written: for each device, the oldest point carrying a counter
 * quantity. Importers call it after a successful write. Returns the watermarks lowered.
 */
export async function invalidateForPoints(store: TelemetryStore, points: readonly TelemetryPoint[]): Promise<number> {
  const oldest = new Map<string, { device: DeviceAddress; ts: number; quantities: Set<string> }>()
  for (const p of points) {
    if (p.measurement !== TELEMETRY_MEASUREMENT) continue
    const quantities = ROLLUP_QUANTITIES.filter((q) => q in p.fields)
    if (quantities.length === 0) continue
    const device = addressOfTags(p.tags)
    const key = deviceKey(device)
    const o = oldest.get(key)
    if (!o) oldest.set(key, { device, ts: p.ts, quantities: new Set(quantities) })
    else {
      o.ts = Math.min(o.ts, p.ts)
      for (const q of quantities) o.quantities.add(q)
    }
  }
  let lowered = 0
  for (const o of oldest.values()) lowered += await invalidateRollup(store, [o.device], o.ts, [...o.quantities])
  return lowered
}

/**
 * Materialised readings of [from, to) per device (deviceKey → samples at quarter starts). Only
 * meaningful inside what `ensureRollup` covered. With `settled` (the rollup and the watermarks
 * `ensureRollup` answered), the settled part of each device's readings is kept in memory
 * (KeptReadings) and only what lies after the kept part is read from the store.
 */
export async function rollupReadings(
  store: TelemetryStore,
  devices: readonly DeviceAddress[],
  quantity: string,
  from: number,
  to: number,
  settled?: { rollup: CounterRollup; watermarks: ReadonlyMap<string, Watermark> },
): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>()
  if (devices.length === 0 || !(from < to)) return out
  const keep = settled && settled.rollup.maxKeptReadings > 0 ? settled : undefined
  // Devices grouped by where their store read starts: after their kept readings, else at `from`.
  const reads = new Map<number, DeviceAddress[]>()
  for (const d of devices) {
    const key = deviceKey(d)
    const k = keep?.rollup.kept.byKey.get(`${quantity}|${key}`)
    let readFrom = from
    if (k && k.gen === keep?.watermarks.get(key)?.gen && k.from <= from && from <= k.to) {
      // Most recently used last: the first entries are the ones dropped past maxKeptReadings.
      keep?.rollup.kept.byKey.delete(`${quantity}|${key}`)
      keep?.rollup.kept.byKey.set(`${quantity}|${key}`, k)
      const list = keptSamples(k, from, to)
      if (list.length > 0) out.set(key, list)
      readFrom = Math.min(to, k.to)
    }
    if (readFrom >= to) continue
    const group = reads.get(readFrom)
    if (group) group.push(d)
    else reads.set(readFrom, [d])
  }
  for (const [readFrom, group] of reads) {
    const read = await readStored(store, group, quantity, readFrom, to)
    for (const [key, samples] of read) {
      const list = out.get(key)
      if (list) for (const x of samples) list.push(x)
      else out.set(key, samples)
    }
    if (keep)
      for (const d of group)
        keepReadings(keep.rollup, quantity, deviceKey(d), keep.watermarks.get(deviceKey(d)), from, readFrom, to, out.get(deviceKey(d)) ?? [])
  }
  return out
}

async function readStored(
  store: TelemetryStore,
  devices: readonly DeviceAddress[],
  quantity: string,
  from: number,
  to: number,
): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>()
  const wanted = new Set(devices.map(deviceKey))
  const limit = devices.length * Math.ceil((to - from) / QUARTER_MS) + 1
  const rows = await store.raw({ measurement: COUNTER_ROLLUP_MEASUREMENT, fields: [quantity], filter: deviceFilter(devices), start: from, stop: to, limit })
  let key = ''
  let tags: Readonly<Record<string, string>> | undefined
  let list: Sample[] | undefined
  for (const r of rows) {
    // Rows of one series share their tags object: look the key up once per series.
    if (r.tags !== tags) {
      tags = r.tags
      key = deviceKey(addressOfTags(r.tags))
      list = wanted.has(key) ? out.get(key) : undefined
      if (wanted.has(key) && !list) out.set(key, (list = []))
    }
    list?.push({ ts: r.ts, value: r.value })
  }
  return out
}

/** New Sample objects of kept readings in [from, to): callers own (and may cache by) what they get. */
function keptSamples(k: { ts: Float64Array; values: Float64Array }, from: number, to: number): Sample[] {
  const out: Sample[] = []
  for (let i = lowerBound(k.ts, from); i < k.ts.length && (k.ts[i] as number) < to; i++) out.push({ ts: k.ts[i] as number, value: k.values[i] as number })
  return out
}

function lowerBound(xs: Float64Array, x: number): number {
  let lo = 0
  let hi = xs.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((xs[mid] as number) < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Keeps the settled part of a device's readings of [from, to) — before its watermark minus rereadMs —
 * replacing what was kept for it; the least recently kept devices go first past maxKeptReadings.
 */
function keepReadings(
  rollup: CounterRollup,
  quantity: string,
  key: string,
  w: Watermark | undefined,
  from: number,
  readFrom: number,
  to: number,
  samples: readonly Sample[],
): void {
  if (!w) return
  const settledTo = Math.min(to, w.to - rollup.rereadMs)
  // Nothing settled was read from the store: what is kept already holds it.
  if (!(from >= w.from && readFrom < settledTo)) return
  let n = 0
  while (n < samples.length && (samples[n] as Sample).ts < settledTo) n++
  if (n > rollup.maxKeptReadings) return
  const kept = rollup.kept
  const id = `${quantity}|${key}`
  const old = kept.byKey.get(id)
  if (old) {
    kept.byKey.delete(id)
    kept.count -= old.ts.length
  }
  const ts = new Float64Array(n)
  const values = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    ts[i] = (samples[i] as Sample).ts
    values[i] = (samples[i] as Sample).value
  }
  kept.byKey.set(id, { gen: w.gen, from, to: settledTo, ts, values })
  kept.count += n
  for (const [k, v] of kept.byKey) {
    if (kept.count <= rollup.maxKeptReadings) break
    kept.byKey.delete(k)
    kept.count -= v.ts.length
  }
}

/** Every device of the model whose counter reports read, with its quantity. */
export function counterDevicesOf(model: PlantModel): Array<{ quantity: string; devices: DeviceAddress[] }> {
  const energy = new Map<string, DeviceAddress>()
  const output = { output_t: new Map<string, DeviceAddress>(), output_count: new Map<string, DeviceAddress>() }
  for (const l of allLines(model)) {
    for (const d of l.devices) if (d.kind === 'meter' || d.mainMeter) energy.set(deviceKey(d), d)
    if (l.productionDevice && l.model.product) {
      output[l.model.product.unit === 't' ? 'output_t' : 'output_count'].set(deviceKey(l.productionDevice), l.productionDevice)
    }
  }
  return [
    { quantity: 'energy_import_kwh', devices: [...energy.values()] },
    { quantity: 'output_t', devices: [...output.output_t.values()] },
    { quantity: 'output_count', devices: [...output.output_count.values()] },
  ].filter((g) => g.devices.length > 0)
}

/**
 * The periodic job: brings the roll-up of every counter of the model up to the closed part at `now`.
 * Devices never rolled up start `sinceMs` before now (default 400 days, the API's default range limit).
 * Call it every few minutes (or after a restart) so reports never fill on the request path.
 */
export async function refreshRollup(
  store: TelemetryStore,
  model: PlantModel,
  rollup: CounterRollup,
  now: number,
  options: { sinceMs?: number } = {},
): Promise<RollupFillStats> {
  const since = now - (options.sinceMs ?? 400 * DAY_MS)
  const total: RollupFillStats = { devices: 0, readings: 0, watermarks: new Map() }
  for (const g of counterDevicesOf(model)) {
    const s = await ensureRollup(store, rollup, g.devices, g.quantity, since, now, now)
    total.devices += s.devices
    total.readings += s.readings
    for (const [k, w] of s.watermarks) total.watermarks.set(`${g.quantity}|${k}`, w)
  }
  return total
}
