import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { maxSampleSlots, scanSamples, type SamplesResult } from '../core/payload-scan.ts'
import type { AggregateQuery, AggregateRow, RawRow, SampleBlock, TelemetryPoint, TelemetryStore, WriteConflict } from './store.ts'

/**
 * The one suite every TelemetryStore backend runs. Numbers are computed by hand; timestamps are
 * fixed historical instants (2024), and each test gets a fresh, empty store from `factory`.
 */

const M = 'telemetry'
const T0 = Date.UTC(2024, 4, 1) // 2024-05-01T00:00Z = 08:00 in Asia/Shanghai
const S = 1000
const MIN = 60 * S
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const BASE = { enterprise: 'e1', site: 's1', line: 'l1' }
const utc = (iso: string): number => Date.parse(iso)

function pt(device: string, ts: number, fields: Record<string, number>, extraTags: Record<string, string> = {}): TelemetryPoint {
  return { measurement: M, tags: { ...BASE, device, ...extraTags }, fields, ts }
}

function windows(rows: AggregateRow[]): [string, number][] {
  return rows.map((r) => [new Date(r.windowStart).toISOString(), r.value])
}

/** Blocks as ingest builds them: scanSamples of each payload, the slots of all in one array. */
function blocks(payloads: readonly [Readonly<Record<string, string>>, string][]): SampleBlock[] {
  const slots = new Float64Array(payloads.reduce((n, [, json]) => n + maxSampleSlots(json.length), 1))
  const result: SamplesResult = { seq: 0, end: 0, samples: 0 }
  let from = 1
  return payloads.map(([tags, text]) => {
    const json = Buffer.from(text)
    if (scanSamples(json, slots, from, result, json.length) !== 1) throw new Error(`not a fast-path payload: ${text}`)
    const block = { measurement: M, tags, json, seq: result.seq, slots, from, samples: result.samples }
    from = result.end
    return block
  })
}

export interface StoreUnderTest {
  store: TelemetryStore
  cleanup(): Promise<void>
}

/** What a backend offers beyond the required methods; the suite checks the claim both ways. */
export interface StoreCapabilities {
  /** writeKeepFirst: the store tells exactly which values differed from those stored. */
  writeKeepFirst: boolean
}

export function describeStoreContract(name: string, factory: () => Promise<StoreUnderTest>, capabilities: StoreCapabilities): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let sut: StoreUnderTest
    let store: TelemetryStore
    const agg = (q: Partial<AggregateQuery> & Pick<AggregateQuery, 'fn' | 'start' | 'stop'>): Promise<AggregateRow[]> =>
      store.aggregate({ measurement: M, fields: ['p'], ...q })

    beforeEach(async () => {
      sut = await factory()
      store = sut.store
    })

    afterEach(async () => {
      await sut.store.close()
      await sut.cleanup()
    })

    it('names its backend and answers ping', async () => {
      expect(store.backend).toBe(name)
      await expect(store.ping()).resolves.toBeUndefined()
    })

    describe('writes', () => {
      it('is idempotent by (series, ts): a second write replaces the value, count stays 1', async () => {
        await store.write([pt('d1', T0, { p: 10 })])
        await store.write([pt('d1', T0, { p: 12.5 })])
        const q = { start: T0, stop: T0 + MIN }
        expect(await agg({ ...q, fn: 'count' })).toEqual([{ tags: {}, field: 'p', windowStart: T0, value: 1 }])
        expect((await agg({ ...q, fn: 'last' }))[0]?.value).toBe(12.5)
        expect((await agg({ ...q, fn: 'sum' }))[0]?.value).toBe(12.5)
        const latest = await store.latest({ measurement: M })
        expect(latest).toEqual([{ tags: { ...BASE, device: 'd1' }, field: 'p', ts: T0, value: 12.5 }])
      })

      it('keeps the last of duplicates within one batch, and other fields of the same point', async () => {
        await store.write([pt('d1', T0, { p: 1, q: 5 }), pt('d1', T0, { p: 2 }), pt('d1', T0 + S, { p: 3 })])
        const rows = await store.aggregate({ measurement: M, fields: ['p', 'q'], start: T0, stop: T0 + MIN, fn: 'sum' })
        expect(rows).toEqual([
          { tags: {}, field: 'p', windowStart: T0, value: 5 },
          { tags: {}, field: 'q', windowStart: T0, value: 5 },
        ])
        expect((await agg({ start: T0, stop: T0 + MIN, fn: 'count' }))[0]?.value).toBe(2)
      })

      it('stores a 12,000-point batch completely', async () => {
        const points = Array.from({ length: 12_000 }, (_, i) => pt('d1', T0 + i * S, { p: i }))
        await store.write(points)
        const q = { start: T0, stop: T0 + 12_000 * S }
        expect((await agg({ ...q, fn: 'count' }))[0]?.value).toBe(12_000)
        expect((await agg({ ...q, fn: 'sum' }))[0]?.value).toBe(71_994_000) // 0 + 1 + … + 11,999
        expect((await agg({ ...q, fn: 'min' }))[0]?.value).toBe(0)
        expect((await agg({ ...q, fn: 'max' }))[0]?.value).toBe(11_999)
        expect((await agg({ ...q, fn: 'last' }))[0]?.value).toBe(11_999)
      })

      it('accepts an empty batch', async () => {
        await store.write([])
        expect(await store.latest({ measurement: M })).toEqual([])
      })

      it('rejects a batch with a non-finite value and stores none of it', async () => {
        const err = await store.write([pt('d1', T0, { p: 1 }), pt('d1', T0 + S, { p: Number.NaN })]).catch((e: unknown) => e)
        expect(isPlantWattError(err, 'STORAGE_ERR_INVALID_POINT')).toBe(true)
        expect((err as Error).message).toContain('point 1')
        expect(await agg({ start: T0, stop: T0 + MIN, fn: 'count' })).toEqual([])
      })

      it('rejects a tag value with a line break', async () => {
        const err = await store.write([pt('d1', T0, { p: 1 }, { note: 'a\nb' })]).catch((e: unknown) => e)
        expect(isPlantWattError(err, 'STORAGE_ERR_INVALID_POINT')).toBe(true)
      })
    })

    describe('writeBlocks', () => {
      const writeBlocks = (b: SampleBlock[]): Promise<void> => (store.writeBlocks as NonNullable<TelemetryStore['writeBlocks']>)(b)

      it('stores the samples of validated payloads as their points: values as fields, numbers as written, then seq; idempotent', async () => {
        expect(store.writeBlocks).toBeTypeOf('function')
        const d1 = { ...BASE, device: 'd 1,x=y' }
        const d2 = { ...BASE, device: 'd2' }
        const written = blocks([
          [
            d1,
            ` { "samples" : [ {"values": { "active_power_kw" : 412.50 , "frequency_hz":49.95 }, "ts": ${T0} }, {"ts":${T0 + S},"values":{ }} ], "seq": 7 } `,
          ],
          [d1, `{"seq":8,"samples":[{"ts":${T0 + 2 * S},"values":{"active_power_kw":-3,"frequency_hz":50}}]}`],
          [d2, `{"seq":1,"samples":[{"ts":${T0},"values":{"gas_m3":1000.0600000000001}}]}`],
        ])
        await writeBlocks(written)
        await writeBlocks(written)
        const rows = await store.raw({ measurement: M, fields: ['active_power_kw', 'frequency_hz', 'gas_m3', 'seq'], start: T0, stop: T0 + MIN, limit: 100 })
        expect(rows.map((r) => [r.tags.device, r.field, r.ts - T0, r.value])).toEqual([
          ['d 1,x=y', 'active_power_kw', 0, 412.5],
          ['d 1,x=y', 'active_power_kw', 2 * S, -3],
          ['d 1,x=y', 'frequency_hz', 0, 49.95],
          ['d 1,x=y', 'frequency_hz', 2 * S, 50],
          ['d 1,x=y', 'seq', 0, 7],
          ['d 1,x=y', 'seq', S, 7],
          ['d 1,x=y', 'seq', 2 * S, 8],
          ['d2', 'gas_m3', 0, 1000.0600000000001],
          ['d2', 'seq', 0, 1],
        ])
        expect(rows[0]?.tags).toEqual(d1)
      })

      it('stores 12,000 samples in 1,200 blocks completely, and nothing for no blocks', async () => {
        await writeBlocks([])
        const tags = { ...BASE, device: 'd1' }
        const payload = (b: number): string =>
          JSON.stringify({ seq: b, samples: Array.from({ length: 10 }, (_, k) => ({ ts: T0 + (b * 10 + k) * S, values: { active_power_kw: b * 10 + k } })) })
        await writeBlocks(blocks(Array.from({ length: 1200 }, (_, b) => [tags, payload(b)] as const)))
        const [count] = await store.aggregate({ measurement: M, fields: ['active_power_kw'], start: T0, stop: T0 + DAY, fn: 'count' })
        const [sum] = await store.aggregate({ measurement: M, fields: ['active_power_kw'], start: T0, stop: T0 + DAY, fn: 'sum' })
        expect(count?.value).toBe(12_000)
        expect(sum?.value).toBe((11_999 * 12_000) / 2)
      })
    })

    it(`${capabilities.writeKeepFirst ? 'has' : 'has no'} writeKeepFirst`, () => {
      expect(typeof store.writeKeepFirst).toBe(capabilities.writeKeepFirst ? 'function' : 'undefined')
    })

    // Registered only for a backend that has it (the test above checks the others have none).
    if (capabilities.writeKeepFirst)
      describe('writeKeepFirst', () => {
        const keepFirst = (points: TelemetryPoint[]): Promise<WriteConflict[]> =>
          (store.writeKeepFirst as NonNullable<TelemetryStore['writeKeepFirst']>)(points)

        it('keeps the first value of a (series, ts) and reports each field whose later value differs', async () => {
          expect(await keepFirst([pt('d1', T0, { p: 10, q: 1 }), pt('d1', T0 + S, { p: 11 })])).toEqual([])
          // Same p again (no conflict), q different, a new field r at the same ts, d2 untouched by d1's rows.
          expect(await keepFirst([pt('d2', T0, { p: 99 }), pt('d1', T0, { p: 10, q: 2, r: 5 }), pt('d1', T0 + S, { p: 12.5 })])).toEqual([
            { point: 1, field: 'q', ts: T0, stored: 1, refused: 2 },
            { point: 2, field: 'p', ts: T0 + S, stored: 11, refused: 12.5 },
          ])
          const rows = await store.raw({ measurement: M, fields: ['p', 'q', 'r'], start: T0, stop: T0 + MIN, limit: 100 })
          expect(rows.map((r) => [r.tags.device, r.field, r.ts - T0, r.value])).toEqual([
            ['d1', 'p', 0, 10],
            ['d1', 'p', S, 11],
            ['d1', 'q', 0, 1],
            ['d1', 'r', 0, 5],
            ['d2', 'p', 0, 99],
          ])
        })

        it('sees a conflict inside one batch (the earlier point wins) and a re-delivery as none', async () => {
          const batch = [pt('d1', T0, { p: 1 }), pt('d1', T0, { p: 1 }), pt('d1', T0, { p: 2 })]
          expect(await keepFirst(batch)).toEqual([{ point: 2, field: 'p', ts: T0, stored: 1, refused: 2 }])
          expect(await keepFirst([pt('d1', T0, { p: 1 })])).toEqual([])
          expect(await agg({ start: T0, stop: T0 + MIN, fn: 'count' })).toEqual([{ tags: {}, field: 'p', windowStart: T0, value: 1 }])
          expect((await agg({ start: T0, stop: T0 + MIN, fn: 'sum' }))[0]?.value).toBe(1)
        })

        it('rejects an invalid batch whole, as write() does', async () => {
          const err = await keepFirst([pt('d1', T0, { p: 1 }), pt('d1', T0 + S, { p: Number.POSITIVE_INFINITY })]).catch((e: unknown) => e)
          expect(isPlantWattError(err, 'STORAGE_ERR_INVALID_POINT')).toBe(true)
          expect(await agg({ start: T0, stop: T0 + MIN, fn: 'count' })).toEqual([])
        })
      })

    describe('aggregate functions', () => {
      // Written out of time order on purpose: first/last follow time, not arrival.
      const values: [number, number][] = [
        [T0 + 20 * S, 7],
        [T0, 4],
        [T0 + 30 * S, 2],
        [T0 + 10 * S, 1],
      ]
      const expected: Record<AggregateQuery['fn'], number> = { mean: 3.5, min: 1, max: 7, sum: 14, count: 4, first: 4, last: 2, spread: 6 }

      for (const [fn, value] of Object.entries(expected) as [AggregateQuery['fn'], number][]) {
        it(`${fn} of 4, 1, 7, 2 is ${value}`, async () => {
          await store.write(values.map(([ts, v]) => pt('d1', ts, { p: v })))
          expect(await agg({ start: T0, stop: T0 + MIN, fn })).toEqual([{ tags: {}, field: 'p', windowStart: T0, value }])
        })
      }

      it('aggregates across the series of a group: first/last by time over all devices', async () => {
        await store.write([pt('d1', T0 + 5 * S, { p: 1 }), pt('d2', T0 + 2 * S, { p: 8 }), pt('d3', T0 + 9 * S, { p: 4 })])
        const q = { start: T0, stop: T0 + MIN }
        expect((await agg({ ...q, fn: 'first' }))[0]?.value).toBe(8)
        expect((await agg({ ...q, fn: 'last' }))[0]?.value).toBe(4)
        expect((await agg({ ...q, fn: 'spread' }))[0]?.value).toBe(7)
        expect((await agg({ ...q, fn: 'mean' }))[0]?.value).toBeCloseTo(13 / 3, 12)
      })

      it('rejects an unknown fn with STORAGE_ERR_QUERY', async () => {
        const err = await store
          .aggregate({ measurement: M, fields: ['p'], start: T0, stop: T0 + MIN, fn: 'median' as AggregateQuery['fn'] })
          .catch((e: unknown) => e)
        expect(isPlantWattError(err, 'STORAGE_ERR_QUERY')).toBe(true)
      })
    })

    describe('groups and filters', () => {
      beforeEach(async () => {
        await store.write([
          pt('d1', T0, { p: 1 }),
          pt('d1', T0 + S, { p: 2 }),
          pt('d1', T0 + 2 * S, { p: 3 }),
          pt('d2', T0, { p: 10 }),
          pt('d2', T0 + S, { p: 20 }),
          { measurement: M, tags: { ...BASE, line: 'l2', device: 'd3' }, fields: { p: 100 }, ts: T0 },
          { measurement: 'other', tags: { ...BASE, device: 'd1' }, fields: { p: 1000 }, ts: T0 },
        ])
      })
      const q = { start: T0, stop: T0 + MIN }

      it('groups by device, rows carrying only that tag, ordered by tag value', async () => {
        expect(await agg({ ...q, fn: 'mean', groupBy: ['device'] })).toEqual([
          { tags: { device: 'd1' }, field: 'p', windowStart: T0, value: 2 },
          { tags: { device: 'd2' }, field: 'p', windowStart: T0, value: 15 },
          { tags: { device: 'd3' }, field: 'p', windowStart: T0, value: 100 },
        ])
      })

      it('groups by line, and by nothing (one total)', async () => {
        expect(await agg({ ...q, fn: 'sum', groupBy: ['line'] })).toEqual([
          { tags: { line: 'l1' }, field: 'p', windowStart: T0, value: 36 },
          { tags: { line: 'l2' }, field: 'p', windowStart: T0, value: 100 },
        ])
        expect(await agg({ ...q, fn: 'sum' })).toEqual([{ tags: {}, field: 'p', windowStart: T0, value: 136 }])
      })

      it('groups by two tags', async () => {
        const rows = await agg({ ...q, fn: 'count', groupBy: ['line', 'device'] })
        expect(rows.map((r) => [r.tags.line, r.tags.device, r.value])).toEqual([
          ['l1', 'd1', 3],
          ['l1', 'd2', 2],
          ['l2', 'd3', 1],
        ])
      })

      it('filters by one value, by a list, by several tags', async () => {
        expect((await agg({ ...q, fn: 'sum', filter: { device: 'd2' } }))[0]?.value).toBe(30)
        expect((await agg({ ...q, fn: 'sum', filter: { device: ['d1', 'd3'] } }))[0]?.value).toBe(106)
        expect((await agg({ ...q, fn: 'sum', filter: { line: 'l1', device: ['d2', 'd3'] } }))[0]?.value).toBe(30)
        expect(await agg({ ...q, fn: 'sum', filter: { device: ['d1', 'd3'] }, groupBy: ['device'] })).toEqual([
          { tags: { device: 'd1' }, field: 'p', windowStart: T0, value: 6 },
          { tags: { device: 'd3' }, field: 'p', windowStart: T0, value: 100 },
        ])
      })

      it('matches nothing for an empty list, an unknown value or an unknown measurement', async () => {
        expect(await agg({ ...q, fn: 'sum', filter: { device: [] } })).toEqual([])
        expect(await agg({ ...q, fn: 'sum', filter: { device: 'nope' } })).toEqual([])
        expect(await store.aggregate({ measurement: 'missing', fields: ['p'], ...q, fn: 'sum' })).toEqual([])
        expect(await agg({ ...q, fields: ['missing_field'], fn: 'sum' })).toEqual([])
      })

      it('keeps measurements apart', async () => {
        expect(await store.aggregate({ measurement: 'other', fields: ['p'], ...q, fn: 'sum' })).toEqual([
          { tags: {}, field: 'p', windowStart: T0, value: 1000 },
        ])
      })
    })

    describe('ranges', () => {
      it('includes start and excludes stop', async () => {
        await store.write([pt('d1', T0, { p: 1 }), pt('d1', T0 + MIN, { p: 2 })])
        expect((await agg({ start: T0, stop: T0 + MIN, fn: 'sum' }))[0]?.value).toBe(1)
        expect(await agg({ start: T0 + 1, stop: T0 + MIN + 1, fn: 'sum' })).toEqual([{ tags: {}, field: 'p', windowStart: T0 + 1, value: 2 }])
        expect((await agg({ start: T0, stop: T0 + MIN + 1, fn: 'sum' }))[0]?.value).toBe(3)
        expect(await agg({ start: T0 + 1, stop: T0 + MIN, fn: 'sum' })).toEqual([])
      })

      it('returns [] for an empty or inverted range and for a range without data', async () => {
        await store.write([pt('d1', T0, { p: 1 })])
        expect(await agg({ start: T0, stop: T0, fn: 'count' })).toEqual([])
        expect(await agg({ start: T0 + MIN, stop: T0, fn: 'count' })).toEqual([])
        expect(await agg({ start: T0 + HOUR, stop: T0 + 2 * HOUR, fn: 'count', every: '1m' })).toEqual([])
      })
    })

    describe('windows (Asia/Shanghai unless named)', () => {
      it('1m: omits windows without data', async () => {
        await store.write([pt('d1', T0 + 10 * S, { p: 1 }), pt('d1', T0 + 50 * S, { p: 3 }), pt('d1', T0 + 70 * S, { p: 5 }), pt('d1', T0 + 185 * S, { p: 7 })])
        const rows = await agg({ start: T0, stop: T0 + 5 * MIN, every: '1m', fn: 'mean' })
        expect(rows.map((r) => [r.windowStart - T0, r.value])).toEqual([
          [0, 2],
          [60 * S, 5],
          [180 * S, 7],
        ])
      })

      it('15m: the first window starts on the grid even when the range starts inside it', async () => {
        await store.write([pt('d1', T0 + 6 * MIN, { p: 1 }), pt('d1', T0 + 15 * MIN - 1, { p: 2 }), pt('d1', T0 + 15 * MIN, { p: 4 })])
        const rows = await agg({ start: T0 + 5 * MIN, stop: T0 + HOUR, every: '15m', fn: 'sum' })
        expect(rows.map((r) => [r.windowStart, r.value])).toEqual([
          [T0, 3],
          [T0 + 15 * MIN, 4],
        ])
      })

      it('1h: hours of Shanghai, and of Kolkata (UTC+5:30) at half past UTC hours', async () => {
        await store.write([pt('d1', utc('2024-05-01T00:20:00Z'), { p: 2 }), pt('d1', utc('2024-05-01T00:40:00Z'), { p: 4 })])
        const range = { start: utc('2024-04-30T20:00:00Z'), stop: utc('2024-05-01T04:00:00Z') }
        expect(windows(await agg({ ...range, every: '1h', fn: 'sum' }))).toEqual([['2024-05-01T00:00:00.000Z', 6]])
        expect(windows(await agg({ ...range, every: '1h', fn: 'sum', timezone: 'Asia/Kolkata' }))).toEqual([
          ['2024-04-30T23:30:00.000Z', 2],
          ['2024-05-01T00:30:00.000Z', 4],
        ])
      })

      it('1d: days start at Shanghai midnight, 16:00 UTC', async () => {
        await store.write([
          pt('d1', utc('2024-05-01T15:59:59.999Z'), { p: 1 }), // May 1, 23:59:59.999 local
          pt('d1', utc('2024-05-01T16:00:00Z'), { p: 2 }), // May 2, 00:00 local
          pt('d1', utc('2024-05-02T03:00:00Z'), { p: 3 }),
        ])
        const rows = await agg({ start: utc('2024-04-30T00:00:00Z'), stop: utc('2024-05-04T00:00:00Z'), every: '1d', fn: 'sum' })
        expect(windows(rows)).toEqual([
          ['2024-04-30T16:00:00.000Z', 1],
          ['2024-05-01T16:00:00.000Z', 5],
        ])
      })

      it('1w: weeks start on Monday, Shanghai midnight', async () => {
        await store.write([
          pt('d1', utc('2024-05-01T04:00:00Z'), { p: 1 }), // Wednesday
          pt('d1', utc('2024-05-05T15:59:00Z'), { p: 2 }), // Sunday 23:59 local
          pt('d1', utc('2024-05-05T16:00:00Z'), { p: 4 }), // Monday May 6, 00:00 local
        ])
        const rows = await agg({ start: utc('2024-04-25T00:00:00Z'), stop: utc('2024-05-20T00:00:00Z'), every: '1w', fn: 'sum' })
        expect(windows(rows)).toEqual([
          ['2024-04-28T16:00:00.000Z', 3],
          ['2024-05-05T16:00:00.000Z', 4],
        ])
      })

      it('1mo: calendar months of 31, 29 and 31 days at Shanghai midnight', async () => {
        await store.write([
          pt('d1', utc('2024-01-31T15:59:59.999Z'), { p: 1 }), // Jan 31, 23:59:59.999 local
          pt('d1', utc('2024-01-31T16:00:00Z'), { p: 2 }), // Feb 1, 00:00 local
          pt('d1', utc('2024-02-29T12:00:00Z'), { p: 4 }),
          pt('d1', utc('2024-02-29T16:00:00Z'), { p: 8 }), // Mar 1, 00:00 local
          pt('d1', utc('2024-03-31T15:59:59Z'), { p: 16 }),
        ])
        const rows = await agg({ start: utc('2024-01-01T00:00:00Z'), stop: utc('2024-04-01T00:00:00Z'), every: '1mo', fn: 'sum' })
        expect(windows(rows)).toEqual([
          ['2023-12-31T16:00:00.000Z', 1],
          ['2024-01-31T16:00:00.000Z', 6],
          ['2024-02-29T16:00:00.000Z', 24],
        ])
      })

      it('1y: calendar years', async () => {
        await store.write([
          pt('d1', utc('2023-06-01T00:00:00Z'), { p: 1 }),
          pt('d1', utc('2023-12-31T16:00:00Z'), { p: 2 }),
          pt('d1', utc('2024-05-01T00:00:00Z'), { p: 4 }),
        ])
        const rows = await agg({ start: utc('2023-01-01T00:00:00Z'), stop: utc('2025-01-01T00:00:00Z'), every: '1y', fn: 'sum' })
        expect(windows(rows)).toEqual([
          ['2022-12-31T16:00:00.000Z', 1],
          ['2023-12-31T16:00:00.000Z', 6],
        ])
      })

      const hourly = (fromIso: string, toIso: string): TelemetryPoint[] => {
        const out: TelemetryPoint[] = []
        for (let t = utc(fromIso); t < utc(toIso); t += HOUR) out.push(pt('d1', t, { p: 1 }))
        return out
      }

      it('1d in America/New_York: the spring-forward day has 23 hours (2024-03-10)', async () => {
        await store.write(hourly('2024-03-09T05:00:00Z', '2024-03-12T04:00:00Z'))
        const rows = await agg({
          start: utc('2024-03-09T05:00:00Z'),
          stop: utc('2024-03-12T04:00:00Z'),
          every: '1d',
          fn: 'count',
          timezone: 'America/New_York',
        })
        expect(windows(rows)).toEqual([
          ['2024-03-09T05:00:00.000Z', 24],
          ['2024-03-10T05:00:00.000Z', 23],
          ['2024-03-11T04:00:00.000Z', 24],
        ])
      })

      it('1d in America/New_York: the fall-back day has 25 hours (2024-11-03)', async () => {
        await store.write(hourly('2024-11-02T04:00:00Z', '2024-11-05T05:00:00Z'))
        const rows = await agg({
          start: utc('2024-11-02T04:00:00Z'),
          stop: utc('2024-11-05T05:00:00Z'),
          every: '1d',
          fn: 'count',
          timezone: 'America/New_York',
        })
        expect(windows(rows)).toEqual([
          ['2024-11-02T04:00:00.000Z', 24],
          ['2024-11-03T04:00:00.000Z', 25],
          ['2024-11-04T05:00:00.000Z', 24],
        ])
      })

      it('1d and 1h in Europe/Berlin across 2024-03-31 (23 h)', async () => {
        await store.write(hourly('2024-03-29T23:00:00Z', '2024-04-01T22:00:00Z'))
        const range = { start: utc('2024-03-29T23:00:00Z'), stop: utc('2024-04-01T22:00:00Z'), timezone: 'Europe/Berlin' }
        expect(windows(await agg({ ...range, every: '1d', fn: 'count' }))).toEqual([
          ['2024-03-29T23:00:00.000Z', 24],
          ['2024-03-30T23:00:00.000Z', 23],
          ['2024-03-31T22:00:00.000Z', 24],
        ])
        const hours = await agg({ ...range, every: '1h', fn: 'count' })
        expect(hours).toHaveLength(71)
        expect(hours.every((r) => r.value === 1 && r.windowStart % HOUR === 0)).toBe(true)
      })

      it('1w in America/New_York: the week holding 2024-03-10 is 167 hours', async () => {
        await store.write(hourly('2024-03-04T05:00:00Z', '2024-03-18T04:00:00Z'))
        const rows = await agg({
          start: utc('2024-03-04T05:00:00Z'),
          stop: utc('2024-03-18T04:00:00Z'),
          every: '1w',
          fn: 'count',
          timezone: 'America/New_York',
        })
        expect(windows(rows)).toEqual([
          ['2024-03-04T05:00:00.000Z', 167], // Monday Mar 4 EST → Monday Mar 11 EDT
          ['2024-03-11T04:00:00.000Z', 168],
        ])
      })
    })

    describe('latest', () => {
      beforeEach(async () => {
        await store.write([pt('d1', T0, { p: 1 }), pt('d1', T0 + 60 * S, { p: 2 }), pt('d1', T0 + 30 * S, { q: 5 }), pt('d2', T0 + 10 * S, { p: 7 })])
      })
      const tags = (device: string): Record<string, string> => ({ ...BASE, device })

      it('returns the newest point of each series, with the full tag set', async () => {
        expect(await store.latest({ measurement: M })).toEqual([
          { tags: tags('d1'), field: 'p', ts: T0 + 60 * S, value: 2 },
          { tags: tags('d1'), field: 'q', ts: T0 + 30 * S, value: 5 },
          { tags: tags('d2'), field: 'p', ts: T0 + 10 * S, value: 7 },
        ])
      })

      it('honours since, fields and filter', async () => {
        expect(await store.latest({ measurement: M, since: T0 + 20 * S })).toEqual([
          { tags: tags('d1'), field: 'p', ts: T0 + 60 * S, value: 2 },
          { tags: tags('d1'), field: 'q', ts: T0 + 30 * S, value: 5 },
        ])
        expect(await store.latest({ measurement: M, fields: ['q'] })).toEqual([{ tags: tags('d1'), field: 'q', ts: T0 + 30 * S, value: 5 }])
        expect(await store.latest({ measurement: M, filter: { device: 'd2' } })).toEqual([{ tags: tags('d2'), field: 'p', ts: T0 + 10 * S, value: 7 }])
        expect(await store.latest({ measurement: M, filter: { device: ['d2', 'd9'] }, fields: ['p'] })).toHaveLength(1)
        expect(await store.latest({ measurement: M, since: T0 + 61 * S })).toEqual([])
        expect(await store.latest({ measurement: 'missing' })).toEqual([])
      })
    })

    describe('names', () => {
      const odd = `Mill "No. 1", bay=3 'east'`

      it('round-trips tag values with spaces, commas, quotes and =, and filters and groups on them', async () => {
        await store.write([pt(odd, T0, { p: 1.5 }, { 'zone name': 'a=b, c' }), pt('plain', T0, { p: 2 })])
        const latest = await store.latest({ measurement: M, filter: { device: odd } })
        expect(latest).toEqual([{ tags: { ...BASE, device: odd, 'zone name': 'a=b, c' }, field: 'p', ts: T0, value: 1.5 }])
        expect(await agg({ start: T0, stop: T0 + MIN, fn: 'sum', filter: { device: [odd, `x' OR 'a'='a`] }, groupBy: ['device', 'zone name'] })).toEqual([
          { tags: { device: odd, 'zone name': 'a=b, c' }, field: 'p', windowStart: T0, value: 1.5 },
        ])
        expect(await agg({ start: T0, stop: T0 + MIN, fn: 'sum', filter: { 'zone name': 'a=b, c' } })).toEqual([
          { tags: {}, field: 'p', windowStart: T0, value: 1.5 },
        ])
      })

      it('stores fields named with units and answers several fields in query order', async () => {
        await store.write([
          pt('d1', T0, { active_power_kw: 412.5, energy_import_kwh: 1834021.75, power_factor: 0.5 }),
          pt('d1', T0 + MIN, { active_power_kw: 400.25, energy_import_kwh: 1834028.5, power_factor: 0.75 }),
        ])
        const rows = await store.aggregate({
          measurement: M,
          fields: ['energy_import_kwh', 'active_power_kw', 'power_factor'],
          start: T0,
          stop: T0 + HOUR,
          fn: 'mean',
        })
        expect(rows.map((r) => [r.field, r.value])).toEqual([
          ['energy_import_kwh', 1834025.125],
          ['active_power_kw', 406.375],
          ['power_factor', 0.625],
        ])
        const spread = await store.aggregate({ measurement: M, fields: ['energy_import_kwh'], start: T0, stop: T0 + HOUR, fn: 'spread', every: '1h' })
        expect(spread).toEqual([{ tags: {}, field: 'energy_import_kwh', windowStart: T0, value: 6.75 }])
      })

      it('groups by a tag some series lack, with an empty value', async () => {
        await store.write([pt('d1', T0, { p: 1 }, { phase: 'L1' }), pt('d2', T0, { p: 2 })])
        expect(await agg({ start: T0, stop: T0 + MIN, fn: 'sum', groupBy: ['phase'] })).toEqual([
          { tags: { phase: '' }, field: 'p', windowStart: T0, value: 2 },
          { tags: { phase: 'L1' }, field: 'p', windowStart: T0, value: 1 },
        ])
      })
    })

    describe('raw', () => {
      const tags = (device: string, line = 'l1'): Record<string, string> => ({ ...BASE, line, device })
      const rows = (r: RawRow[]): [string, string, number, number][] => r.map((x) => [x.tags.device as string, x.field, x.ts - T0, x.value])
      beforeEach(async () => {
        // Out of time order and across batches on purpose: the answer follows tags, field, ts.
        await store.write([
          pt('d2', T0 + 2 * S, { p: 22 }),
          pt('d1', T0 + 1 * S, { p: 12, q: 0.5 }),
          pt('d1', T0, { p: 11 }),
          { measurement: M, tags: tags('d3', 'l2'), fields: { p: 31 }, ts: T0 },
          { measurement: 'other', tags: tags('d1'), fields: { p: 1000 }, ts: T0 },
        ])
        await store.write([pt('d2', T0, { p: 21 }), pt('d1', T0 + MIN, { p: 13 }), pt('d1', T0 - 1, { p: 10 })])
      })
      const q = { measurement: M, start: T0, stop: T0 + MIN, limit: 100 }

      it('returns the points in [start, stop) ordered by tag set, field in query order, ts, with the full tag set', async () => {
        const r = await store.raw({ ...q, fields: ['q', 'p'] })
        expect(rows(r)).toEqual([
          ['d1', 'q', 1 * S, 0.5],
          ['d1', 'p', 0, 11],
          ['d1', 'p', 1 * S, 12],
          ['d2', 'p', 0, 21],
          ['d2', 'p', 2 * S, 22],
          ['d3', 'p', 0, 31], // line l2 sorts after l1
        ])
        expect(r[0]?.tags).toEqual(tags('d1'))
        expect(r[5]?.tags).toEqual(tags('d3', 'l2'))
      })

      it('stops at limit, in answer order', async () => {
        expect(rows(await store.raw({ ...q, fields: ['p'], limit: 1 }))).toEqual([['d1', 'p', 0, 11]])
        // 2 of d1, then the first of d2.
        expect(rows(await store.raw({ ...q, fields: ['p'], limit: 3 }))).toEqual([
          ['d1', 'p', 0, 11],
          ['d1', 'p', 1 * S, 12],
          ['d2', 'p', 0, 21],
        ])
        expect(await store.raw({ ...q, fields: ['p'], limit: 5 })).toHaveLength(5)
        expect(await store.raw({ ...q, fields: ['p'], limit: 6 })).toHaveLength(5)
      })

      it('filters by several values of a tag and by several tags', async () => {
        expect(rows(await store.raw({ ...q, fields: ['p'], filter: { device: ['d1', 'd3'] } }))).toEqual([
          ['d1', 'p', 0, 11],
          ['d1', 'p', 1 * S, 12],
          ['d3', 'p', 0, 31],
        ])
        expect(rows(await store.raw({ ...q, fields: ['p'], filter: { line: 'l1', device: ['d2', 'd3'] } }))).toEqual([
          ['d2', 'p', 0, 21],
          ['d2', 'p', 2 * S, 22],
        ])
      })

      it('answers [] for no data, an empty range, an unknown measurement, field or value, an empty list', async () => {
        expect(await store.raw({ ...q, fields: ['p'], start: T0 + HOUR, stop: T0 + 2 * HOUR })).toEqual([])
        expect(await store.raw({ ...q, fields: ['p'], stop: T0 })).toEqual([])
        expect(await store.raw({ ...q, measurement: 'missing', fields: ['p'] })).toEqual([])
        expect(await store.raw({ ...q, fields: ['missing_field'] })).toEqual([])
        expect(await store.raw({ ...q, fields: ['p'], filter: { device: 'nope' } })).toEqual([])
        expect(await store.raw({ ...q, fields: ['p'], filter: { device: [] } })).toEqual([])
      })

      it('returns quality fields q_<quantity> like any field, also where the value itself is absent', async () => {
        // As ingest stores them: an uncertain sample keeps its value and q_ = 1; a bad one only q_ = 2.
        await store.write([
          pt('m1', T0, { power_factor: 0.92, seq: 1 }),
          pt('m1', T0 + S, { power_factor: 0.81, q_power_factor: 1, seq: 1 }),
          pt('m1', T0 + 2 * S, { q_power_factor: 2, seq: 1 }),
        ])
        const r = await store.raw({ ...q, fields: ['power_factor', 'q_power_factor'], filter: { device: 'm1' } })
        expect(rows(r)).toEqual([
          ['m1', 'power_factor', 0, 0.92],
          ['m1', 'power_factor', 1 * S, 0.81],
          ['m1', 'q_power_factor', 1 * S, 1],
          ['m1', 'q_power_factor', 2 * S, 2],
        ])
      })

      it('rejects a missing or non-positive limit with STORAGE_ERR_QUERY', async () => {
        for (const limit of [0, -1, 1.5, undefined]) {
          const err = await store.raw({ ...q, fields: ['p'], limit: limit as number }).catch((e: unknown) => e)
          expect(isPlantWattError(err, 'STORAGE_ERR_QUERY')).toBe(true)
        }
      })

      it('reads a long series in order, in range, up to the limit (60,000 1-second points)', async () => {
        await store.write(Array.from({ length: 60_000 }, (_, i) => pt('big', T0 + HOUR + i * S, { p: i })))
        const hour = await store.raw({ ...q, fields: ['p'], filter: { device: 'big' }, start: T0 + HOUR, stop: T0 + 2 * HOUR, limit: 20_000 })
        expect(hour).toHaveLength(3600) // one hour of 1-second points
        expect(hour.every((x, i) => x.value === i && x.ts === T0 + HOUR + i * S)).toBe(true)
        // Points 100 … 55,099: more than a backend may fetch at once.
        const r = await store.raw({ ...q, fields: ['p'], filter: { device: 'big' }, start: T0 + HOUR + 100 * S, stop: T0 + 2 * DAY, limit: 55_000 })
        expect(r).toHaveLength(55_000)
        expect(r.every((x, i) => x.value === i + 100 && x.ts === T0 + HOUR + (i + 100) * S)).toBe(true)
      })
    })

    it('rejects calls after close with STORAGE_ERR_CLOSED', async () => {
      await store.close()
      const err = await store.ping().catch((e: unknown) => e)
      expect(isPlantWattError(err, 'STORAGE_ERR_CLOSED')).toBe(true)
      await expect(store.write([pt('d1', T0, { p: 1 })])).rejects.toThrow(/closed/)
    })
  })
}
