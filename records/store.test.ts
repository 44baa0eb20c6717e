import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { MemoryEventLog, openEventLog, type EventLog } from '../storage/events.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { createRecordStore, kindOfRecordId, type RecordBody, type RecordStore } from './store.ts'

const DAY = 86_400_000
// 2026-03-01 00:00 Asia/Shanghai
const D0 = Date.UTC(2026, 1, 28, 16)
const T_ENTER = Date.UTC(2026, 2, 2, 1, 30)

function coalDay(day: number, amountT: number, line = 'kiln-1'): RecordBody {
  return {
    tags: { enterprise: 'hb-cement', site: 'plant-a', line, carrier: 'raw-coal' },
    start: D0 + day * DAY,
    end: D0 + (day + 1) * DAY,
    data: { amount: amountT, unit: 't', ncvKjPerUnit: 21_500_000, source: 'weighbridge' },
  }
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return isPlantWattError(err) ? err.code : String(err)
  }
}

interface Under {
  log: EventLog
  cleanup(): Promise<void>
}

function describeRecordStore(name: string, factory: () => Promise<Under>): void {
  describe(`record store on the ${name} event log`, () => {
    let under: Under
    let store: RecordStore
    let clock = T_ENTER
    beforeEach(async () => {
      under = await factory()
      clock = T_ENTER
      store = createRecordStore(under.log, { now: () => clock })
    })
    afterEach(async () => {
      await under.log.close()
      await under.cleanup()
    })

    it('puts, revises and voids a record; history keeps who, when and why of every revision', async () => {
      const { id, revision } = await store.put('energy_entry', coalDay(0, 412.6), { user: 'li.wei', reason: 'weighbridge slip 0301' })
      expect(revision).toBe(1)
      expect(kindOfRecordId(id)).toBe('energy_entry')
      clock += 3_600_000
      expect(await store.revise(id, coalDay(0, 415.2), { user: 'wang.fang', reason: 'slip misread', expectedRevision: 1 })).toEqual({ id, revision: 2 })
      const [current] = await store.current('energy_entry', { start: D0, end: D0 + DAY })
      expect(current?.revision).toBe(2)
      expect(current?.body.data.amount).toBe(415.2)
      clock += 3_600_000
      expect(await store.void(id, { user: 'li.wei', reason: 'entered twice', expectedRevision: 2 })).toEqual({ id, revision: 3 })
      expect(await store.current('energy_entry', { start: D0, end: D0 + DAY })).toEqual([])
      const history = await store.history(id)
      expect(history.map((r) => [r.revision, r.user, r.at - T_ENTER, r.reason, r.voided, r.body.data.amount])).toEqual([
        [1, 'li.wei', 0, 'weighbridge slip 0301', false, 412.6],
        [2, 'wang.fang', 3_600_000, 'slip misread', false, 415.2],
        [3, 'li.wei', 7_200_000, 'entered twice', true, 415.2],
      ])
      expect(history[0]?.body.tags).toEqual(coalDay(0, 0).tags)
      expect(history[0]?.body.start).toBe(D0)
      expect(history[0]?.body.end).toBe(D0 + DAY)
    })

    it('refuses a stale expectedRevision with RECORDS_ERR_CONFLICT and writes nothing', async () => {
      const { id } = await store.put('energy_entry', coalDay(0, 400), { user: 'li.wei' })
      await store.revise(id, coalDay(0, 401), { user: 'li.wei', reason: 'typo', expectedRevision: 1 })
      expect(await codeOf(store.revise(id, coalDay(0, 402), { user: 'wang.fang', reason: 'typo', expectedRevision: 1 }))).toBe('RECORDS_ERR_CONFLICT')
      expect(await codeOf(store.void(id, { user: 'wang.fang', reason: 'x', expectedRevision: 1 }))).toBe('RECORDS_ERR_CONFLICT')
      expect((await store.history(id)).map((r) => r.body.data.amount)).toEqual([400, 401])
      await store.void(id, { user: 'li.wei', reason: 'wrong day', expectedRevision: 2 })
      expect(await codeOf(store.revise(id, coalDay(0, 1), { user: 'li.wei', reason: 'back', expectedRevision: 3 }))).toBe('RECORDS_ERR_VOIDED')
      expect(await codeOf(store.revise('energy_entry-abc-0000000f', coalDay(0, 1), { user: 'a', reason: 'b', expectedRevision: 1 }))).toBe(
        'RECORDS_ERR_NOT_FOUND',
      )
      expect(await codeOf(store.revise(id, coalDay(0, 1), { user: 'a', reason: '', expectedRevision: 3 }))).toBe('RECORDS_ERR_BODY')
    })

    it('answers the latest revision of each record overlapping the range and matching the filter', async () => {
      const a = await store.put('energy_entry', coalDay(0, 10), { user: 'u' })
      const b = await store.put('energy_entry', coalDay(1, 11), { user: 'u' })
      const c = await store.put('energy_entry', coalDay(1, 12, 'kiln-2'), { user: 'u' })
      await store.put('production_entry', coalDay(1, 99), { user: 'u' })
      const amounts = async (start: number, end: number, filter?: Record<string, string | string[]>): Promise<unknown[]> =>
        (await store.current('energy_entry', { start, end, ...(filter ? { filter } : {}) })).map((r) => Number(r.body.data.amount)).sort((x, y) => x - y)
      expect(await amounts(D0, D0 + 2 * DAY)).toEqual([10, 11, 12])
      // [start, end): the day after ends where the range starts, the first day starts where it ends
      expect(await amounts(D0 + DAY, D0 + 2 * DAY)).toEqual([11, 12])
      expect(await amounts(D0 - DAY, D0)).toEqual([])
      expect(await amounts(D0, D0 + 2 * DAY, { line: 'kiln-2' })).toEqual([12])
      expect(await amounts(D0, D0 + 2 * DAY, { line: ['kiln-1', 'kiln-2'] })).toEqual([10, 11, 12])
      // a revision that moves a record to another line and day takes it out of the old filter and range
      await store.revise(b.id, coalDay(5, 13, 'kiln-2'), { user: 'u', reason: 'wrong line and day', expectedRevision: 1 })
      expect(await amounts(D0, D0 + 2 * DAY, { line: 'kiln-1' })).toEqual([10])
      expect(await amounts(D0, D0 + 10 * DAY, { line: 'kiln-2' })).toEqual([12, 13])
      expect((await store.get(a.id))?.revision).toBe(1)
      expect((await store.get(c.id))?.body.tags.line).toBe('kiln-2')
      expect(await store.history('nonsense')).toEqual([])
    })

    it('writes many records all or none, and refuses a bad body naming the field', async () => {
      const bad = { ...coalDay(1, 5), end: D0 }
      const err = await store.putMany('energy_entry', [coalDay(0, 5), bad], { user: 'u' }).catch((e: unknown) => e)
      expect(isPlantWattError(err, 'RECORDS_ERR_BODY') && err.details).toEqual({ field: 'end', index: 1 })
      expect(await store.current('energy_entry', { start: D0, end: D0 + 3 * DAY })).toEqual([])
      expect(await codeOf(store.put('energy_entry', { ...coalDay(0, 1), tags: { record: 'x' } }, { user: 'u' }))).toBe('RECORDS_ERR_BODY')
      expect(await codeOf(store.put('Energy-Entry', coalDay(0, 1), { user: 'u' }))).toBe('RECORDS_ERR_KIND')
      expect(await codeOf(store.put('energy_entry', coalDay(0, 1), { user: ' ' }))).toBe('RECORDS_ERR_BODY')
      const ids = await store.putMany('energy_entry', [coalDay(0, 5), coalDay(1, 6)], { user: 'u', reason: 'ERP export' })
      expect(ids.map((r) => r.revision)).toEqual([1, 1])
      expect((await store.current('energy_entry', { start: D0, end: D0 + 3 * DAY })).map((r) => [r.body.data.amount, r.reason])).toEqual([
        [5, 'ERP export'],
        [6, 'ERP export'],
      ])
    })

    it('finds a long record (a quarter) from its last month, and follows a revision into the other span class', async () => {
      const quarter: RecordBody = { ...coalDay(0, 9000), end: D0 + 92 * DAY }
      const { id } = await store.put('energy_entry', quarter, { user: 'u' })
      const inMay = { start: D0 + 61 * DAY, end: D0 + 92 * DAY }
      expect((await store.current('energy_entry', inMay)).map((r) => r.body.data.amount)).toEqual([9000])
      // revised to ten days at the end of the quarter: short now, and no longer in the first month
      await store.revise(id, { ...coalDay(82, 1000), end: D0 + 92 * DAY }, { user: 'u', reason: 'only the last ten days', expectedRevision: 1 })
      expect((await store.current('energy_entry', inMay)).map((r) => [r.revision, r.body.data.amount])).toEqual([[2, 1000]])
      expect(await store.current('energy_entry', { start: D0, end: D0 + 31 * DAY })).toEqual([])
      // and back to the quarter
      await store.revise(id, quarter, { user: 'u', reason: 'the quarter after all', expectedRevision: 2 })
      expect((await store.current('energy_entry', { start: D0, end: D0 + 31 * DAY })).map((r) => r.revision)).toEqual([3])
      expect((await store.history(id)).map((r) => [r.revision, r.body.end - r.body.start])).toEqual([
        [1, 92 * DAY],
        [2, 10 * DAY],
        [3, 92 * DAY],
      ])
    })

    it('keeps an instant (start = end) and finds it in a range holding it', async () => {
      const at = D0 + 10 * 3_600_000
      await store.put(
        'meter_event',
        { tags: { enterprise: 'e', device: 'm1' }, start: at, end: at, data: { event: 'replaced', old: { kwh: 1234.5 } } },
        { user: 'u' },
      )
      expect((await store.current('meter_event', { start: at, end: at + 1 })).map((r) => r.body.data)).toEqual([{ event: 'replaced', old: { kwh: 1234.5 } }])
      expect(await store.current('meter_event', { start: at + 1, end: at + DAY })).toEqual([])
    })

    it('runs concurrent revisions one at a time: the second with the same expectedRevision conflicts', async () => {
      const { id } = await store.put('energy_entry', coalDay(0, 1), { user: 'u' })
      const results = await Promise.allSettled([
        store.revise(id, coalDay(0, 2), { user: 'a', reason: 'r', expectedRevision: 1 }),
        store.revise(id, coalDay(0, 3), { user: 'b', reason: 'r', expectedRevision: 1 }),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected'])
      expect((await store.history(id)).map((r) => r.body.data.amount)).toEqual([1, 2])
      // a write inside exclusive() does not wait for itself
      const inside = await store.exclusive(() => store.revise(id, coalDay(0, 4), { user: 'a', reason: 'r', expectedRevision: 2 }))
      expect(inside.revision).toBe(3)
    })
  })
}

describeRecordStore('memory', async () => ({ log: new MemoryEventLog(), cleanup: async () => {} }))

describeRecordStore('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-records-'))
  return {
    log: await openEventLog({ backend: 'embedded', path: join(dir, 'plantwatt.db') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

let influx: RunningInfluxd | undefined
let n = 0
beforeAll(async () => {
  influx = await startInfluxd()
})
afterAll(async () => {
  await influx?.stop()
})

describeRecordStore('influxdb', async () => {
  const url = influx?.url ?? ''
  const database = `records_${++n}`
  return {
    log: await openEventLog({ backend: 'influxdb', url, database, createDatabase: true, timeoutMs: 10_000 }),
    cleanup: async () => {
      await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) })
    },
  }
})
