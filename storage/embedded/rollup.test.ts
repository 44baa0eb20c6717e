import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AggregateFn, TelemetryPoint } from '../store.ts'
import { createEmbeddedStore, type EmbeddedStore } from './index.ts'

const T0 = Date.UTC(2025, 0, 1)
const MIN = 60_000
const DAY = 86_400_000
const FNS: AggregateFn[] = ['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'spread']

/** Point i at T0 + 10 s·i with value i: minute k holds i = 6k … 6k+5. */
const series = (n: number): TelemetryPoint[] =>
  Array.from({ length: n }, (_, i) => ({ measurement: 'telemetry', tags: { device: 'd1' }, fields: { p: i }, ts: T0 + 10_000 * i }))

describe('embedded roll-ups and retention', () => {
  let dir: string
  let path: string
  let now: number
  let store: EmbeddedStore
  const sql = <T>(q: string): T => {
    const db = new Database(path, { readonly: true })
    try {
      return db.prepare(q).get() as T
    } finally {
      db.close()
    }
  }
  const agg = (fn: AggregateFn, every: string | undefined, start = T0, stop = T0 + 2 * 3_600_000) =>
    store.aggregate({ measurement: 'telemetry', fields: ['p'], fn, start, stop, ...(every ? { every } : {}), timezone: 'UTC' })

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-rollup-'))
    path = join(dir, 'plantwatt.db')
    now = T0 + 3 * 3_600_000
    store = createEmbeddedStore({ path, retention: { rawDays: 90 }, clock: () => now, maintenanceIntervalMs: 0 })
    await store.write(series(720)) // two hours
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('rolls up closed minutes and quarters with count, sum, min, max, first and last', () => {
    expect(store.maintain()).toBeGreaterThan(0)
    // Everything up to a minute before now counts as closed.
    expect(store.horizons().rolledTo).toBe(now - MIN)
    expect(sql('SELECT count(*) AS n FROM rollup_1m')).toEqual({ n: 120 })
    // Minute 1: i = 6 … 11 at T0+60 s … T0+110 s.
    expect(sql(`SELECT count, sum, min, max, first, first_ts, last, last_ts FROM rollup_1m WHERE ts = ${T0 + MIN}`)).toEqual({
      count: 6,
      sum: 51,
      min: 6,
      max: 11,
      first: 6,
      first_ts: T0 + MIN,
      last: 11,
      last_ts: T0 + 110_000,
    })
    // Quarter 1: i = 90 … 179: sum (90+179)·90/2 = 12105.
    expect(sql(`SELECT count, sum, min, max, first, last FROM rollup_15m WHERE ts = ${T0 + 15 * MIN}`)).toEqual({
      count: 90,
      sum: 12_105,
      min: 90,
      max: 179,
      first: 90,
      last: 179,
    })
  })

  it('answers every function the same before and after the raw points expire', async () => {
    store.maintain()
    const before = new Map<string, unknown>()
    for (const fn of FNS) for (const every of ['1m', '15m', '1h', undefined]) before.set(`${fn} ${every}`, await agg(fn, every))
    // Hand-worked: quarter k holds i = 90k … 90k+89, mean 90k + 44.5; the two hours sum to 719·720/2.
    expect((await agg('mean', '15m')).map((r) => r.value)).toEqual([44.5, 134.5, 224.5, 314.5, 404.5, 494.5, 584.5, 674.5])
    expect((await agg('sum', undefined))[0]?.value).toBe(258_840)
    expect((await agg('spread', '1h')).map((r) => r.value)).toEqual([359, 359])

    now = T0 + 91 * DAY
    store.maintain()
    expect(sql('SELECT count(*) AS n FROM points')).toEqual({ n: 0 })
    expect(store.maintenanceStats()?.rawDeleted).toBe(720)
    for (const fn of FNS) for (const every of ['1m', '15m', '1h', undefined]) expect(await agg(fn, every)).toEqual(before.get(`${fn} ${every}`))
    // A late point of another series (report state at ts 0) lowers the roll-up only for that series.
    await store.write([{ measurement: 'report_state', tags: { device: 'd1' }, fields: { x: 1 }, ts: 0 }])
    expect(store.horizons().rolledTo).toBe(0)
    expect(await agg('sum', '15m')).toEqual(before.get('sum 15m'))
    // latest() reads raw points: none are left.
    expect(await store.latest({ measurement: 'telemetry' })).toEqual([])
  })

  it('reads the open minute and a start inside a minute from raw points', async () => {
    store.maintain()
    await store.write([{ measurement: 'telemetry', tags: { device: 'd1' }, fields: { p: 1000 }, ts: now - 10_000 }])
    store.maintain()
    expect((await agg('sum', undefined, T0, now))[0]?.value).toBe(258_840 + 1000)
    // i = 0, 1, 2 lie before T0+30 s.
    expect((await agg('sum', undefined, T0 + 30_000))[0]?.value).toBe(258_840 - 3)
    expect((await agg('count', '15m', T0 + 30_000))[0]?.value).toBe(87)
  })

  it('recomputes a minute written after its roll-up, and answers from raw points until then', async () => {
    store.maintain()
    await store.write([{ measurement: 'telemetry', tags: { device: 'd1' }, fields: { p: 0.5 }, ts: T0 + 5000 }])
    expect(store.horizons().rolledTo).toBe(T0)
    expect((await agg('sum', '15m'))[0]?.value).toBe(4005.5)
    store.maintain()
    expect(store.horizons().rolledTo).toBe(now - MIN)
    expect(sql(`SELECT count, sum, first, last FROM rollup_1m WHERE ts = ${T0}`)).toEqual({ count: 7, sum: 15.5, first: 0, last: 5 })
    expect((await agg('sum', '15m'))[0]?.value).toBe(4005.5)
  })

  it('adds late points for a minute whose raw data expired to its roll-ups, then expires them', async () => {
    store.maintain()
    now = T0 + 91 * DAY
    store.maintain()
    await store.write([{ measurement: 'telemetry', tags: { device: 'd1' }, fields: { p: -2 }, ts: T0 + 5000 }])
    store.maintain()
    expect(sql('SELECT count(*) AS n FROM points')).toEqual({ n: 0 })
    expect(sql(`SELECT count, sum, min, first FROM rollup_1m WHERE ts = ${T0}`)).toEqual({ count: 7, sum: 13, min: -2, first: 0 })
    expect(sql(`SELECT count, sum, min FROM rollup_15m WHERE ts = ${T0}`)).toEqual({ count: 91, sum: 4003, min: -2 })
  })

  it('expires minutes and quarters after their own retention, keeping other measurements', async () => {
    await store.write([{ measurement: 'report_state', tags: { device: 'd1' }, fields: { x: 1 }, ts: T0 }])
    store.maintain()
    now = T0 + 401 * DAY
    store.maintain()
    expect(sql('SELECT count(*) AS n FROM rollup_1m WHERE series_id = 1')).toEqual({ n: 0 })
    expect(sql('SELECT count(*) AS n FROM rollup_15m WHERE series_id = 1')).toEqual({ n: 8 })
    expect((await agg('sum', '1h')).map((r) => r.value)).toEqual([64_620, 194_220])
    expect(await store.latest({ measurement: 'report_state' })).toHaveLength(1)
    now = T0 + 3661 * DAY
    store.maintain()
    expect(sql('SELECT count(*) AS n FROM rollup_15m WHERE series_id = 1')).toEqual({ n: 0 })
  })

  it('merges quarters of several series in one group, and a window split between minutes and raw points', async () => {
    // d2: value 1000 + i at T0 + 5 s + 10 s·i, so in every window d1 holds the first value and d2 the last.
    await store.write(
      Array.from({ length: 720 }, (_, i) => ({ measurement: 'telemetry', tags: { device: 'd2' }, fields: { p: 1000 + i }, ts: T0 + 5000 + 10_000 * i })),
    )
    // From inside a quarter (minutes 20–29 of quarter 1) to 30 s into minute 100 (quarter 6 = minutes 90–99 and 30 s of raw points).
    const start = T0 + 20 * MIN
    const stop = T0 + 100 * MIN + 30_000
    const fromRaw = new Map<string, unknown>()
    for (const fn of FNS) fromRaw.set(fn, await agg(fn, '15m', start, stop))
    store.maintain()
    for (const fn of FNS) expect(await agg(fn, '15m', start, stop)).toEqual(fromRaw.get(fn))
    // Quarter 1 from minute 20: d1 i = 120 … 179 (mean 149.5), d2 1120 … 1179; whole quarters k = 2 … 5:
    // d1 90k … 90k+89 and d2 1000 more, mean 90k + 544.5; the last window: i = 540 … 602 of each (mean 571, 1571).
    expect((await agg('mean', '15m', start, stop)).map((r) => r.value)).toEqual([649.5, 724.5, 814.5, 904.5, 994.5, 1071])
    expect((await agg('count', '15m', start, stop)).map((r) => r.value)).toEqual([120, 180, 180, 180, 180, 126])
    expect((await agg('first', '15m', start, stop)).map((r) => r.value)).toEqual([120, 180, 270, 360, 450, 540])
    expect((await agg('last', '15m', start, stop)).map((r) => r.value)).toEqual([1179, 1269, 1359, 1449, 1539, 1602])
  })

  it('refuses a retention where a coarser resolution expires first', () => {
    expect(() => createEmbeddedStore({ path: ':memory:', retention: { rawDays: 90, minuteDays: 30 } })).toThrow(
      expect.objectContaining({ code: 'STORAGE_ERR_CONFIG' }),
    )
  })
})
