import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/index.ts'
import type { EventLog } from '../storage/events.ts'
import { MeterEventBook, meterEventReader } from './meter-events.ts'
import { createRecordStore, type RecordStore } from './store.ts'

const T0 = Date.UTC(2026, 2, 1, 16) // 2026-03-02 00:00 Asia/Shanghai
const Q = 900_000
const model: PlantModel = validateConfig(
  PlantModelSchema,
  { timezone: 'Asia/Shanghai', enterprises: [{ id: 'acme', sites: [{ id: 'w1', lines: [{ id: 'l1', devices: [{ id: 'main' }, { id: 'sub' }] }] }] }] },
  'test plant',
)
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
const sub = { ...main, device: 'sub' }
/** The swap: old meter 99,700 / 99,850 / 100,000 at 00:00–00:30, new meter 60,100 at 00:45 then +150 a quarter. */
const readings = [99_700, 99_850, 100_000, 60_100, 60_250, 60_400]
const swap = { type: 'replacement', ...main, ts: T0 + 35 * 60_000, oldFinalReading: 100_050, newStartReading: 60_000 }

async function codeOf(p: Promise<unknown>): Promise<{ code: string; field?: unknown }> {
  try {
    await p
  } catch (err) {
    if (isPlantWattError(err)) return { code: err.code, field: (err.details as { field?: unknown } | undefined)?.field }
    return { code: String(err) }
  }
  return { code: 'none' }
}

describe('meter events on the embedded store', () => {
  let dir: string
  let telemetry: TelemetryStore
  let log: EventLog
  let records: RecordStore
  let book: MeterEventBook
  const changes: unknown[] = []
  const now = T0 + 24 * 3_600_000
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-meter-events-'))
    telemetry = createEmbeddedStore({ path: join(dir, 'store.db') })
    log = createEmbeddedEventLog({ path: join(dir, 'store.db') })
    await telemetry.write(readings.map((v, i) => ({ measurement: TELEMETRY_MEASUREMENT, tags: main, fields: { energy_import_kwh: v }, ts: T0 + i * Q })))
    records = createRecordStore(log, { now: () => now })
    book = new MeterEventBook(records, model, telemetry, { now: () => now, onChange: async (c) => void changes.push(c) })
  })
  afterAll(async () => {
    await log.close()
    await telemetry.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses bad input with a code naming the field, and writes nothing', async () => {
    const meta = { user: 'li.wei', reason: 'swap' }
    const cases: Array<[unknown, string, string]> = [
      [{ ...swap, oldFinalReading: 99_990 }, 'RECORDS_ERR_READING', 'oldFinalReading'], // below the last reading (100,000)
      [{ ...swap, newStartReading: 60_200 }, 'RECORDS_ERR_READING', 'newStartReading'], // above the first reading after (60,100)
      [{ ...swap, device: 'ghost' }, 'RECORDS_ERR_DEVICE', 'device'],
      [{ ...swap, quantity: 'active_power_kw' }, 'RECORDS_ERR_QUANTITY', 'quantity'],
      [{ ...swap, newStartReading: undefined }, 'RECORDS_ERR_FIELD', 'newStartReading'],
      [{ ...swap, oldRatio: 20 }, 'RECORDS_ERR_FIELD', 'oldRatio'],
      [{ ...swap, ts: 'yesterday' }, 'RECORDS_ERR_SCHEMA', 'ts'],
      [{ ...swap, colour: 'red' }, 'RECORDS_ERR_SCHEMA', 'colour'],
      [{ ...swap, ts: now + 60_000 }, 'RECORDS_ERR_FIELD', 'ts'],
      [{ type: 'ratio_change', ...main, ts: T0 + 60 * 60_000, oldRatio: 20, newRatio: 20 }, 'RECORDS_ERR_FIELD', 'newRatio'],
    ]
    for (const [raw, code, field] of cases) expect(await codeOf(book.record(raw, meta)), JSON.stringify(raw)).toEqual({ code, field })
    expect(await book.list({ start: 0, end: now })).toEqual([])
  })

  it('records, refuses an overlapping event, revises and voids, with who, when and why', async () => {
    const e = await book.record(swap, { user: 'li.wei', reason: 'meter 0012 replaced by 0047 (work order 3381)' })
    expect(e).toMatchObject({
      revision: 1,
      type: 'replacement',
      quantity: 'energy_import_kwh',
      oldFinalReading: 100_050,
      newStartReading: 60_000,
      enteredBy: 'li.wei',
    })
    // Another event of the same device and quantity 10 min later: refused, naming ts and the other id.
    const overlap = book.record({ type: 'reset', ...main, ts: swap.ts + 10 * 60_000, valueAfter: 0 }, { user: 'x', reason: 'y' })
    expect(await codeOf(overlap)).toEqual({ code: 'RECORDS_ERR_OVERLAP', field: 'ts' })
    // The same time on another device is fine.
    const subEvent = await book.record({ type: 'reset', ...sub, ts: swap.ts }, { user: 'x', reason: 'cleared on commissioning' })
    expect(subEvent.valueAfter).toBe(0)

    const reader = meterEventReader(records)
    const before = await reader.eventsOf([main], 'energy_import_kwh', now)
    expect(before.get('acme/w1/l1/main')).toEqual({
      events: [{ kind: 'replacement', ts: swap.ts, oldFinalReading: 100_050, newStartReading: 60_000 }],
      signature: `${e.id}@1`,
    })
    const revised = await book.revise(e.id, { ...swap, oldFinalReading: 100_060 }, { user: 'wang.fang', reason: 'final reading misread', expectedRevision: 1 })
    expect(revised).toMatchObject({ revision: 2, oldFinalReading: 100_060, enteredBy: 'wang.fang', reason: 'final reading misread' })
    expect((await reader.eventsOf([main], 'energy_import_kwh', now)).get('acme/w1/l1/main')?.signature).toBe(`${e.id}@2`)
    // A stale revision is a conflict; a revision contradicting the data is refused like a new record.
    expect(await codeOf(book.revise(e.id, swap, { user: 'x', reason: 'y', expectedRevision: 1 }))).toMatchObject({ code: 'RECORDS_ERR_CONFLICT' })
    expect(await codeOf(book.revise(e.id, { ...swap, oldFinalReading: 1 }, { user: 'x', reason: 'y', expectedRevision: 2 }))).toEqual({
      code: 'RECORDS_ERR_READING',
      field: 'oldFinalReading',
    })
    // Every write tells what energy it changed: the record, the revision (ts unchanged), so far.
    expect(changes).toEqual([
      { device: main, quantity: 'energy_import_kwh', fromTs: swap.ts },
      { device: sub, quantity: 'energy_import_kwh', fromTs: swap.ts },
      { device: main, quantity: 'energy_import_kwh', fromTs: swap.ts },
    ])
    const voided = await book.void(e.id, { user: 'li.wei', reason: 'entered on the wrong meter', expectedRevision: 2 })
    expect(voided).toMatchObject({ revision: 3, voided: true })
    expect(await reader.eventsOf([main], 'energy_import_kwh', now)).toEqual(new Map())
    expect((await book.history(e.id)).map((r) => [r.revision, r.enteredBy, r.reason, r.voided])).toEqual([
      [1, 'li.wei', 'meter 0012 replaced by 0047 (work order 3381)', false],
      [2, 'wang.fang', 'final reading misread', false],
      [3, 'li.wei', 'entered on the wrong meter', true],
    ])
    expect((await book.list({ start: 0, end: now })).map((x) => x.id)).toEqual([subEvent.id])
    expect(changes).toHaveLength(4)
    expect(await book.get('meter_event-zz-00000000')).toBeUndefined()
    expect(await codeOf(book.void('meter_event-zz-00000000', { user: 'x', reason: 'y', expectedRevision: 1 }))).toEqual({
      code: 'RECORDS_ERR_NOT_FOUND',
      field: 'id',
    })
  })
})
