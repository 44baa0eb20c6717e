import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../../storage/events.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { DAY_MS, ENTRY_TEST_PLANT, MARCH_1, coalDayInput } from '../../records/testing/plant.ts'
import { build } from '../app.ts'

/** The real API (fastify inject) on the embedded store and its event log, with API keys per role and enterprise. */

const NOW = Date.UTC(2026, 2, 3, 2, 0) // 2026-03-03 10:00 Shanghai
const KEYS = {
  admin: 'admin-key-0123456789',
  cement: 'cement-engineer-key',
  steel: 'steel-engineer-key',
  operator: 'cement-operator-key',
  commission: 'commission-key-000',
}
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

let dir: string
let store: TelemetryStore
let events: EventLog
let app: FastifyInstance
let clock = NOW

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-entries-api-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  events = await openEventLog({ backend: 'embedded', path })
  app = await build({
    store,
    events,
    plant: ENTRY_TEST_PLANT,
    now: () => clock,
    config: {
      auth: {
        apiKeys: [
          { id: 'admin', keyHash: sha(KEYS.admin), role: 'admin' },
          { id: 'li-wei', keyHash: sha(KEYS.cement), role: 'engineer', enterprise: 'hb-cement' },
          { id: 'zhao-steel', keyHash: sha(KEYS.steel), role: 'engineer', enterprise: 'hb-steel' },
          { id: 'op', keyHash: sha(KEYS.operator), role: 'operator', enterprise: 'hb-cement' },
          { id: 'nea', keyHash: sha(KEYS.commission), role: 'commission' },
        ],
        users: [],
        tokenTtlS: 3600,
      },
    },
  })
})
afterAll(async () => {
  await app?.close()
  await events?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

type Json = Record<string, unknown>
async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, key: string, payload?: unknown): Promise<{ status: number; body: Json }> {
  const res = await app.inject({ method, url: `/api/v1${url}`, headers: { 'x-api-key': key }, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: res.json() as Json }
}
const errorOf = (b: Json) =>
  b.error as { code: string; message: string; details?: { field?: string; otherId?: string; rows?: unknown[]; problems?: unknown[] } }
const MARCH = `from=${MARCH_1}&to=${MARCH_1 + 31 * DAY_MS}`

describe('entries API', () => {
  let coalId = ''

  it('enters a coal weighbridge day, revises it (revision 2, history with who/when/why), voids it', async () => {
    const posted = await call('POST', '/entries', KEYS.cement, { entries: [coalDayInput(0, 412.6)], reason: 'weighbridge slip 0301' })
    expect(posted.status).toBe(201)
    const [row] = posted.body.entries as Json[]
    expect(row).toMatchObject({
      kind: 'energy',
      revision: 1,
      carrier: 'raw-coal',
      direction: 'import',
      amount: 412.6,
      unit: 't',
      ncvKjPerUnit: 21_500_000,
      enteredBy: 'li-wei',
      enteredAt: NOW,
      reason: 'weighbridge slip 0301',
      site: 'plant-a',
      line: 'kiln-1',
    })
    coalId = String(row?.id)
    clock = NOW + 3_600_000
    // start/end as ISO 8601 in the plant zone are the same instants
    const revised = await call('PUT', `/entries/${coalId}`, KEYS.cement, {
      entry: { ...coalDayInput(0, 415.2), start: '2026-03-01', end: '2026-03-02T00:00+08:00' },
      reason: 'slip misread',
      expectedRevision: 1,
    })
    expect(revised.status).toBe(200)
    expect(revised.body.entry).toMatchObject({
      id: coalId,
      revision: 2,
      amount: 415.2,
      start: MARCH_1,
      end: MARCH_1 + DAY_MS,
      enteredBy: 'li-wei',
      enteredAt: NOW + 3_600_000,
    })
    const stale = await call('PUT', `/entries/${coalId}`, KEYS.admin, { entry: coalDayInput(0, 1), reason: 'x', expectedRevision: 1 })
    expect([stale.status, errorOf(stale.body).code]).toEqual([409, 'RECORDS_ERR_CONFLICT'])
    const list = await call('GET', `/entries?scope=hb-cement&${MARCH}`, KEYS.cement)
    expect((list.body.rows as Json[]).map((r) => [r.id, r.revision, r.amount])).toEqual([[coalId, 2, 415.2]])
    const history = await call('GET', `/entries/${coalId}/history`, KEYS.cement)
    expect((history.body.rows as Json[]).map((r) => [r.revision, r.enteredBy, r.enteredAt, r.reason, r.voided])).toEqual([
      [1, 'li-wei', NOW, 'weighbridge slip 0301', false],
      [2, 'li-wei', NOW + 3_600_000, 'slip misread', false],
    ])
  })

  it('refuses an overlapping entry naming the other id (409 RECORDS_ERR_OVERLAP), and bad input per field with its code', async () => {
    const overlap = await call('POST', '/entries', KEYS.cement, { entries: [{ ...coalDayInput(0, 300), start: MARCH_1 + 6 * 3_600_000 }] })
    expect([overlap.status, errorOf(overlap.body).code, errorOf(overlap.body).details?.otherId]).toEqual([409, 'RECORDS_ERR_OVERLAP', coalId])
    const cases: [Json, string, string][] = [
      [{ amount: -3 }, 'RECORDS_ERR_AMOUNT', 'amount'],
      [{ carrier: 'moonrock' }, 'RECORDS_ERR_CARRIER', 'carrier'],
      [{ unit: 'kWh' }, 'RECORDS_ERR_UNIT', 'unit'],
      [{ ncvKjPerUnit: 90_000_000 }, 'RECORDS_ERR_NCV', 'ncvKjPerUnit'],
      [{ end: MARCH_1 + 5 * DAY_MS }, 'RECORDS_ERR_PERIOD', 'end'],
      [{ line: 'kiln-7' }, 'RECORDS_ERR_SCOPE', 'line'],
      [{ amount: 'lots' }, 'RECORDS_ERR_SCHEMA', 'amount'],
    ]
    for (const [change, code, field] of cases) {
      const r = await call('POST', '/entries', KEYS.cement, { entries: [{ ...coalDayInput(5, 100), ...change }] })
      expect([r.status, errorOf(r.body).code, errorOf(r.body).details?.field], JSON.stringify(change)).toEqual([400, code, field])
    }
    const noEntries = await call('POST', '/entries', KEYS.cement, { entries: [] })
    expect([noEntries.status, errorOf(noEntries.body).code, errorOf(noEntries.body).details?.field]).toEqual([400, 'RECORDS_ERR_SCHEMA', 'entries'])
    const prod = await call('POST', '/entries', KEYS.cement, {
      entries: [{ kind: 'production', enterprise: 'hb-cement', site: 'plant-a', line: 'mill-1', amount: 10, unit: 't', start: MARCH_1, end: MARCH_1 + DAY_MS }],
    })
    expect([prod.status, errorOf(prod.body).code, errorOf(prod.body).details?.field]).toEqual([400, 'RECORDS_ERR_PRODUCT', 'line'])
    // nothing of the refused submissions was written
    expect(((await call('GET', `/entries?${MARCH}`, KEYS.admin)).body.rows as Json[]).map((r) => r.id)).toEqual([coalId])
  })

  it("keeps another enterprise's user out: no reading, revising, voiding or writing of hb-cement entries", async () => {
    const read = await call('GET', `/entries?scope=hb-cement&${MARCH}`, KEYS.steel)
    expect([read.status, errorOf(read.body).code]).toEqual([404, 'API_ERR_NOT_FOUND'])
    const own = await call('GET', `/entries?${MARCH}`, KEYS.steel)
    expect(own.body.rows).toEqual([])
    const history = await call('GET', `/entries/${coalId}/history`, KEYS.steel)
    expect([history.status, errorOf(history.body).code]).toEqual([404, 'RECORDS_ERR_NOT_FOUND'])
    const revise = await call('PUT', `/entries/${coalId}`, KEYS.steel, { entry: coalDayInput(0, 1), reason: 'x', expectedRevision: 2 })
    expect(revise.status).toBe(404)
    const voided = await call('DELETE', `/entries/${coalId}`, KEYS.steel, { reason: 'x', expectedRevision: 2 })
    expect(voided.status).toBe(404)
    const write = await call('POST', '/entries', KEYS.steel, { entries: [coalDayInput(9, 1)] })
    expect([write.status, errorOf(write.body).code]).toEqual([404, 'API_ERR_NOT_FOUND'])
    // an operator reads live data, not entries; the commission reads but does not write
    expect((await call('GET', `/entries?${MARCH}`, KEYS.operator)).status).toBe(403)
    expect((await call('POST', '/entries', KEYS.operator, { entries: [coalDayInput(9, 1)] })).status).toBe(403)
    expect(((await call('GET', `/entries?${MARCH}`, KEYS.commission)).body.rows as Json[]).length).toBe(1)
    expect((await call('POST', '/entries', KEYS.commission, { entries: [coalDayInput(9, 1)] })).status).toBe(403)
    expect((await call('GET', `/entries/${coalId}/history`, KEYS.cement)).body.rows).toHaveLength(2)
  })

  it('voids with a reason; the entry leaves the list, its history shows the void', async () => {
    clock = NOW + 7_200_000
    const v = await call('DELETE', `/entries/${coalId}`, KEYS.cement, { reason: 'entered twice', expectedRevision: 2 })
    expect(v.status).toBe(200)
    expect(v.body.entry).toMatchObject({ revision: 3, voided: true, reason: 'entered twice', enteredAt: NOW + 7_200_000 })
    expect((await call('GET', `/entries?${MARCH}`, KEYS.cement)).body.rows).toEqual([])
    const h = await call('GET', `/entries/${coalId}/history`, KEYS.cement)
    expect((h.body.rows as Json[]).map((r) => [r.revision, r.voided, r.reason])).toEqual([
      [1, false, 'weighbridge slip 0301'],
      [2, false, 'slip misread'],
      [3, true, 'entered twice'],
    ])
    const again = await call('DELETE', `/entries/${coalId}`, KEYS.cement, { reason: 'again', expectedRevision: 3 })
    expect([again.status, errorOf(again.body).code]).toEqual([409, 'RECORDS_ERR_VOIDED'])
    const noReason = await call('DELETE', `/entries/${coalId}`, KEYS.cement, { expectedRevision: 3 })
    expect([noReason.status, errorOf(noReason.body).code, errorOf(noReason.body).details?.field]).toEqual([400, 'RECORDS_ERR_SCHEMA', 'reason'])
  })

  it('imports a CSV all or nothing: one bad row writes nothing and is named by row, column and code', async () => {
    const csv = (rows: string[]) => ['kind,enterprise,site,line,carrier,amount,unit,start,end,ncvKjPerUnit,source', ...rows].join('\n')
    const good = [
      'energy,hb-cement,plant-a,kiln-1,raw-coal,401.5,t,2026-03-10,2026-03-11,21800000,weighbridge',
      'energy,hb-cement,plant-a,kiln-1,raw-coal,398,t,2026-03-11,2026-03-12,,weighbridge',
      'production,hb-cement,plant-a,kiln-1,,4810,t,2026-03-10,2026-03-11,,ERP',
    ]
    const importCsv = (text: string, key = KEYS.cement) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/entries/import?reason=March%20slips',
        headers: { 'x-api-key': key, 'content-type': 'text/csv' },
        payload: text,
      })
    const bad = await importCsv(csv([...good, 'energy,hb-cement,plant-a,kiln-1,raw-coal,-4,t,2026-03-12,2026-03-13,,weighbridge']))
    expect(bad.statusCode).toBe(400)
    const err = errorOf(bad.json() as Json)
    expect([err.code, err.details?.rows]).toEqual([
      'RECORDS_ERR_CSV',
      [{ row: 5, column: 'amount', code: 'RECORDS_ERR_AMOUNT', message: 'amount must be a finite number ≥ 0, got -4' }],
    ])
    expect((await call('GET', `/entries?${MARCH}`, KEYS.cement)).body.rows).toEqual([])
    // a row of another enterprise answers as an unknown one
    const foreign = await importCsv(csv(['energy,hb-steel,eaf,eaf-1,natural-gas,1200,m3,2026-03-10,2026-03-11,,meter reading']))
    expect((foreign.json() as Json).error).toMatchObject({
      code: 'RECORDS_ERR_CSV',
      details: { rows: [{ row: 2, column: 'enterprise', code: 'RECORDS_ERR_SCOPE' }] },
    })
    const ok = await importCsv(csv(good))
    expect(ok.statusCode).toBe(201)
    const body = ok.json() as { rows: number; entries: Json[] }
    expect(body.rows).toBe(3)
    expect(body.entries.map((e) => [e.kind, e.amount, e.start, e.reason])).toEqual([
      ['energy', 401.5, MARCH_1 + 9 * DAY_MS, 'March slips'],
      ['energy', 398, MARCH_1 + 10 * DAY_MS, 'March slips'],
      ['production', 4810, MARCH_1 + 9 * DAY_MS, 'March slips'],
    ])
    const listed = await call('GET', `/entries?scope=hb-cement/plant-a/kiln-1&kind=energy&carrier=raw-coal&${MARCH}`, KEYS.cement)
    expect((listed.body.rows as Json[]).map((r) => r.amount)).toEqual([401.5, 398])
    // the same file again overlaps every row
    const twice = await importCsv(csv(good))
    expect((twice.json() as Json).error).toMatchObject({ code: 'RECORDS_ERR_CSV' })
    expect(((errorOf(twice.json() as Json).details?.rows ?? []) as Json[]).map((r) => [r.row, r.code])).toEqual([
      [2, 'RECORDS_ERR_OVERLAP'],
      [3, 'RECORDS_ERR_OVERLAP'],
      [4, 'RECORDS_ERR_OVERLAP'],
    ])
  })

  it('documents the routes in the OpenAPI', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> }
    expect(Object.keys(doc.paths).filter((p) => p.includes('/entries'))).toEqual([
      '/api/v1/entries',
      '/api/v1/entries/{id}',
      '/api/v1/entries/{id}/history',
      '/api/v1/entries/import',
    ])
    expect(Object.keys(doc.paths['/api/v1/entries'] ?? {}).sort()).toEqual(['get', 'post'])
  })
})
