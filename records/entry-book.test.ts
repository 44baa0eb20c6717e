import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { EntryBook } from './entry-book.ts'
import { createRecordReader } from './reader.ts'
import { createRecordStore, type RecordStore } from './store.ts'
import { DAY_MS, ENTRY_TEST_PLANT, MARCH_1, coalDayInput } from './testing/plant.ts'

let dir: string
let log: EventLog
let store: RecordStore
let book: EntryBook
let clock: number
const T_ENTER = Date.UTC(2026, 2, 2, 1, 0)

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-entries-'))
  log = await openEventLog({ backend: 'embedded', path: join(dir, 'plantwatt.db') })
  clock = T_ENTER
  store = createRecordStore(log, { now: () => clock })
  book = new EntryBook(store, ENTRY_TEST_PLANT)
})
afterEach(async () => {
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The error's code and the field it names (and every problem as code:field). */
async function refusal(p: Promise<unknown>): Promise<{ code: string; field: unknown; problems: string[] }> {
  try {
    await p
  } catch (err) {
    if (!isPlantWattError(err)) throw err
    const d = err.details as { field?: unknown; problems?: { code: string; field: string; index?: number }[] }
    return { code: err.code, field: d.field, problems: (d.problems ?? []).map((x) => `${x.index ?? '-'}:${x.code}:${x.field}`) }
  }
  throw new Error('expected a refusal')
}

describe('energy entries', () => {
  it('enters, revises and voids a coal weighbridge day; the reader answers the current revision only', async () => {
    const [entry] = await book.submit([coalDayInput(0, 412.6)], { user: 'li.wei', reason: 'weighbridge slip 0301' })
    expect(entry).toMatchObject({
      kind: 'energy',
      revision: 1,
      carrier: 'raw-coal',
      amount: 412.6,
      unit: 't',
      ncvKjPerUnit: 21_500_000,
      enteredBy: 'li.wei',
      enteredAt: T_ENTER,
    })
    const id = entry?.id ?? ''
    clock += 3_600_000
    const revised = await book.revise(id, coalDayInput(0, 415.2, 22_100_000), { user: 'wang.fang', reason: 'slip misread', expectedRevision: 1 })
    expect(revised).toMatchObject({ revision: 2, amount: 415.2, ncvKjPerUnit: 22_100_000, enteredBy: 'wang.fang', reason: 'slip misread' })
    const reader = createRecordReader(store)
    const march = { enterprise: 'hb-cement', start: MARCH_1, end: MARCH_1 + 31 * DAY_MS }
    expect((await reader.energyEntries(march)).map((e) => [e.id, e.revision, e.amount, e.site, e.line])).toEqual([[id, 2, 415.2, 'plant-a', 'kiln-1']])
    expect(await reader.energyEntries({ ...march, site: 'plant-a', line: 'mill-1' })).toEqual([])
    expect(await reader.productionEntries(march)).toEqual([])
    clock += 3_600_000
    const voided = await book.void(id, { user: 'li.wei', reason: 'entered twice', expectedRevision: 2 })
    expect(voided).toMatchObject({ revision: 3, voided: true, enteredBy: 'li.wei', reason: 'entered twice' })
    expect(await reader.energyEntries(march)).toEqual([])
    expect((await book.history(id)).map((r) => [r.revision, r.enteredBy, r.enteredAt - T_ENTER, r.reason ?? null, r.voided, r.amount])).toEqual([
      [1, 'li.wei', 0, 'weighbridge slip 0301', false, 412.6],
      [2, 'wang.fang', 3_600_000, 'slip misread', false, 415.2],
      [3, 'li.wei', 7_200_000, 'entered twice', true, 415.2],
    ])
  })

  it('refuses an entry overlapping a current one of the same scope, carrier and direction, naming it; allows it as a revision of that one', async () => {
    const [first] = await book.submit([coalDayInput(0, 400)], { user: 'li.wei' })
    // 12:00 on the 1st to 12:00 on the 2nd overlaps the 1st
    const half = { ...coalDayInput(0, 380), start: MARCH_1 + DAY_MS / 2, end: MARCH_1 + DAY_MS * 1.5 }
    const r = await refusal(book.submit([half], { user: 'wang.fang' }))
    expect(r).toEqual({ code: 'RECORDS_ERR_OVERLAP', field: 'start', problems: ['-:RECORDS_ERR_OVERLAP:start'] })
    const err = await book.submit([half], { user: 'wang.fang' }).catch((e: unknown) => e)
    expect(isPlantWattError(err) && (err.details as { otherId?: string }).otherId).toBe(first?.id)
    expect(isPlantWattError(err) && err.message).toContain(first?.id ?? 'x')
    // the next day, another direction, another line, another carrier: no overlap
    await book.submit(
      [
        coalDayInput(1, 390),
        { ...coalDayInput(0, 2), direction: 'export' },
        { ...coalDayInput(0, 5), line: 'mill-1', ncvKjPerUnit: undefined },
        { ...coalDayInput(0, 3), carrier: 'diesel', ncvKjPerUnit: 42_600_000 },
      ],
      { user: 'li.wei' },
    )
    // revising the overlapped entry itself to the new period is allowed
    const moved = await book.revise(
      first?.id ?? '',
      { ...coalDayInput(0, 400), end: MARCH_1 + DAY_MS / 2 },
      { user: 'li.wei', reason: 'half a day', expectedRevision: 1 },
    )
    expect(moved.end).toBe(MARCH_1 + DAY_MS / 2)
    // two overlapping rows of one submission: refused, nothing written
    const before = await book.list({ start: MARCH_1, end: MARCH_1 + 31 * DAY_MS })
    expect((await refusal(book.submit([coalDayInput(5, 1), coalDayInput(5, 2)], { user: 'u' }))).problems).toEqual(['1:RECORDS_ERR_OVERLAP:start'])
    expect(await book.list({ start: MARCH_1, end: MARCH_1 + 31 * DAY_MS })).toEqual(before)
    expect(before).toHaveLength(5)
  })

  it('refuses bad input with a code naming the field, and writes nothing of a bulk submission with one bad entry', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ amount: -1 }, 'RECORDS_ERR_AMOUNT', 'amount'],
      [{ carrier: 'unobtanium' }, 'RECORDS_ERR_CARRIER', 'carrier'],
      [{ unit: 'm3' }, 'RECORDS_ERR_UNIT', 'unit'],
      // 80 000 kJ/kg is no coal
      [{ ncvKjPerUnit: 80_000_000 }, 'RECORDS_ERR_NCV', 'ncvKjPerUnit'],
      [{ ncvKjPerUnit: 4_000_000 }, 'RECORDS_ERR_NCV', 'ncvKjPerUnit'],
      [{ end: MARCH_1 }, 'RECORDS_ERR_PERIOD', 'end'],
      [{ enterprise: 'nowhere' }, 'RECORDS_ERR_SCOPE', 'enterprise'],
      [{ site: 'plant-z' }, 'RECORDS_ERR_SCOPE', 'site'],
      [{ line: 'kiln-9' }, 'RECORDS_ERR_SCOPE', 'line'],
      [{ site: undefined }, 'RECORDS_ERR_SCOPE', 'site'],
      [{ direction: 'sideways' }, 'RECORDS_ERR_SCHEMA', 'direction'],
      [{ colour: 'red' }, 'RECORDS_ERR_SCHEMA', 'colour'],
      [{ amount: '12' }, 'RECORDS_ERR_SCHEMA', 'amount'],
      [{ kind: 'gossip' }, 'RECORDS_ERR_SCHEMA', 'kind'],
    ]
    for (const [change, code, field] of cases) {
      const r = await refusal(book.submit([{ ...coalDayInput(0, 400), ...change }], { user: 'u' }))
      expect([r.code, r.field], JSON.stringify(change)).toEqual([code, field])
    }
    // electricity has no calorific value
    const kwh = { ...coalDayInput(0, 1000), carrier: 'electricity', unit: 'kWh', ncvKjPerUnit: 3600 }
    expect((await refusal(book.submit([kwh], { user: 'u' }))).code).toBe('RECORDS_ERR_NCV')
    const bulk = await refusal(book.submit([coalDayInput(0, 400), { ...coalDayInput(1, 400), amount: -5 }], { user: 'u' }))
    expect(bulk.problems).toEqual(['1:RECORDS_ERR_AMOUNT:amount'])
    expect(await book.list({ start: MARCH_1, end: MARCH_1 + 31 * DAY_MS })).toEqual([])
  })
})

describe('bulk submissions', () => {
  it('takes a year of daily coal for two lines in one submission, and refuses it whole the second time, naming every row', async () => {
    const year = Array.from({ length: 365 }, (_, d) => [
      coalDayInput(d, 400 + (d % 7)),
      { ...coalDayInput(d, 5), line: 'mill-1', ncvKjPerUnit: undefined },
    ]).flat()
    const written = await book.submit(year, { user: 'erp', reason: '2026 weighbridge export' })
    expect(written).toHaveLength(730)
    const all = await book.list({ start: MARCH_1, end: MARCH_1 + 365 * DAY_MS })
    expect(all).toHaveLength(730)
    // Σ over the kiln: 52 full weeks of 400…406 (2 821 t each) + day 364 (364 mod 7 = 0: 400 t) = 147 092 t
    expect(all.filter((e) => e.line === 'kiln-1').reduce((sum, e) => sum + e.amount, 0)).toBe(147_092)
    const again = await refusal(book.submit(year, { user: 'erp' }))
    expect(again.code).toBe('RECORDS_ERR_OVERLAP')
    expect(again.problems).toHaveLength(730)
    expect(again.problems[729]).toBe('729:RECORDS_ERR_OVERLAP:start')
  })
})

describe('production entries', () => {
  const clinker = (change: Record<string, unknown> = {}) => ({
    kind: 'production',
    enterprise: 'hb-cement',
    site: 'plant-a',
    line: 'kiln-1',
    amount: 4820,
    unit: 't',
    start: MARCH_1,
    end: MARCH_1 + DAY_MS,
    source: 'ERP',
    ...change,
  })

  it('enters a line production figure, refuses a line without a product or the wrong unit', async () => {
    const [p] = await book.submit([clinker()], { user: 'erp-sync' })
    expect(p).toMatchObject({ kind: 'production', line: 'kiln-1', amount: 4820, unit: 't', source: 'ERP', revision: 1 })
    expect(
      (await createRecordReader(store).productionEntries({ enterprise: 'hb-cement', start: MARCH_1, end: MARCH_1 + DAY_MS })).map((e) => e.amount),
    ).toEqual([4820])
    expect(await refusal(book.submit([clinker({ line: 'mill-1' })], { user: 'u' }))).toMatchObject({ code: 'RECORDS_ERR_PRODUCT', field: 'line' })
    expect(await refusal(book.submit([clinker({ unit: 'pcs', start: MARCH_1 + DAY_MS, end: MARCH_1 + 2 * DAY_MS })], { user: 'u' }))).toMatchObject({
      code: 'RECORDS_ERR_UNIT',
      field: 'unit',
    })
    expect(await refusal(book.submit([clinker({ line: undefined })], { user: 'u' }))).toMatchObject({ code: 'RECORDS_ERR_SCHEMA', field: 'line' })
    expect(await refusal(book.submit([clinker({ amount: 10 })], { user: 'u' }))).toMatchObject({ code: 'RECORDS_ERR_OVERLAP' })
    // a revision keeps the kind
    expect(await refusal(book.revise(p?.id ?? '', coalDayInput(3, 1), { user: 'u', reason: 'r', expectedRevision: 1 }))).toMatchObject({
      code: 'RECORDS_ERR_SCHEMA',
      field: 'kind',
    })
  })

  it('lists by kind, carrier and scope', async () => {
    await book.submit([clinker(), coalDayInput(0, 400), { ...coalDayInput(0, 3), carrier: 'diesel', ncvKjPerUnit: undefined }], { user: 'u' })
    const range = { start: MARCH_1, end: MARCH_1 + DAY_MS }
    expect((await book.list({ ...range, kind: 'production' })).map((e) => e.kind)).toEqual(['production'])
    expect((await book.list({ ...range, carrier: 'diesel' })).map((e) => e.amount)).toEqual([3])
    expect(await book.list({ ...range, enterprise: 'hb-steel' })).toEqual([])
    expect(await book.list({ ...range, enterprise: ['hb-cement'], line: 'kiln-1' })).toHaveLength(3)
  })
})
