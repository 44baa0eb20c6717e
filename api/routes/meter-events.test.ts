import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema } from '../../core/plant.ts'
import { createEmbeddedEventLog } from '../../storage/embedded/events.ts'
import type { EventLog } from '../../storage/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../../storage/index.ts'
import { build } from '../app.ts'

/**
 * /api/v1/meter-events through the real API (fastify inject) on the embedded store and event log:
 * the meter swap (old meter at 100,000 kWh, new one starting at 60,000) recorded, listed,
 * revised and voided, the energy report following each step, and every kind of bad input refused
 * with a code naming the field and nothing written.
 */
const sha = (key: string) => `sha256$${createHash('sha256').update(key).digest('hex')}`
const ADMIN = { 'x-api-key': 'admin-key' }
const OPERATOR = { 'x-api-key': 'op-key' }
const OTHER = { 'x-api-key': 'other-key' }
const ENGINEER = { 'x-api-key': 'eng-key' }
const auth = {
  apiKeys: [
    { id: 'admin', keyHash: sha('admin-key'), role: 'admin' as const },
    { id: 'op', keyHash: sha('op-key'), role: 'operator' as const, enterprise: 'acme' },
    { id: 'eng', keyHash: sha('eng-key'), role: 'engineer' as const, enterprise: 'acme' },
    { id: 'other-eng', keyHash: sha('other-key'), role: 'engineer' as const, enterprise: 'other' },
  ],
}
// 2026-03-02 00:00 Asia/Shanghai
const DAY0 = Date.UTC(2026, 2, 1, 16)
const MIN = 60_000
const model = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      { id: 'acme', sites: [{ id: 'w1', lines: [{ id: 'l1', mainMeter: 'main', devices: [{ id: 'main' }] }] }] },
      { id: 'other', sites: [{ id: 's', lines: [{ id: 'x', devices: [{ id: 'm' }] }] }] },
    ],
  },
  'test plant',
)
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }

/** 600 kW for a day in 1-minute samples: the old meter 99,000 + 10·m until 01:40 (100,000), the new one 60,000 + 10·(m − 100) from 01:40. */
function day(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  for (let m = 0; m <= 1440; m++) {
    const kwh = m < 100 ? 99_000 + 10 * m : 60_000 + 10 * (m - 100)
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: main, fields: { energy_import_kwh: kwh }, ts: DAY0 + m * MIN })
  }
  return pts
}
const swap = { type: 'replacement', ...main, ts: '2026-03-02T01:40:00', oldFinalReading: 99_995, newStartReading: 60_000 }

describe('/api/v1/meter-events on the embedded store', () => {
  let dir: string
  let store: TelemetryStore
  let events: EventLog
  let app: FastifyInstance
  const energy = async () =>
    (await app.inject({ method: 'GET', url: '/api/v1/energy?scope=acme/w1/l1&start=2026-03-02&stop=2026-03-03&granularity=day', headers: ADMIN })).json()
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-meter-events-api-'))
    store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
    events = createEmbeddedEventLog({ path: join(dir, 'plantwatt.db') })
    await store.write(day())
    app = await build({ store, events, plant: model, now: () => DAY0 + 3 * 86_400_000, config: { auth } })
  }, 60_000)
  afterAll(async () => {
    await app?.close()
    await events?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses bad input with a code naming the field and writes nothing', async () => {
    const post = (event: unknown, headers = ADMIN, reason: unknown = 'swap') =>
      app.inject({ method: 'POST', url: '/api/v1/meter-events', headers, payload: { event, reason } })
    const cases: Array<[unknown, number, string, string]> = [
      // The old meter's last sample before 01:40 is 99,990 (01:39): a final reading of 99,980 is below it.
      [{ ...swap, oldFinalReading: 99_980 }, 400, 'RECORDS_ERR_READING', 'oldFinalReading'],
      // The new meter reads 60,000 at 01:40: it cannot have started at 60,010.
      [{ ...swap, newStartReading: 60_010 }, 400, 'RECORDS_ERR_READING', 'newStartReading'],
      [{ ...swap, device: 'ghost' }, 400, 'RECORDS_ERR_DEVICE', 'device'],
      [{ ...swap, quantity: 'voltage_l1_v' }, 400, 'RECORDS_ERR_QUANTITY', 'quantity'],
      [{ ...swap, newRatio: 40 }, 400, 'RECORDS_ERR_FIELD', 'newRatio'],
      [{ ...swap, oldFinalReading: 'lots' }, 400, 'RECORDS_ERR_SCHEMA', 'oldFinalReading'],
      [{ ...swap, ts: 'yesterday' }, 400, 'API_ERR_VALIDATION', ''],
    ]
    for (const [event, status, code, field] of cases) {
      const res = await post(event)
      expect([res.statusCode, res.json().error.code], JSON.stringify(res.json())).toEqual([status, code])
      if (field) expect(res.json().error.details.field).toBe(field)
    }
    expect((await post(swap, ADMIN, '')).json().error).toMatchObject({ code: 'RECORDS_ERR_SCHEMA', details: { field: 'reason' } })
    // An operator may not write; another tenant's engineer may not write acme's events.
    expect((await post(swap, OPERATOR)).statusCode).toBe(403)
    expect((await post(swap, OTHER)).statusCode).toBe(404)
    expect((await app.inject({ method: 'GET', url: '/api/v1/meter-events?scope=acme', headers: ADMIN })).json().rows).toEqual([])
  })

  it('a swap without its record loses a quarter and says so; with it the day is exact; revise, void and history', async () => {
    // True: 1,440 min × 10 kWh = 14,400 kWh. Without the record: the 01:30–01:45 quarter (99,900 → 60,050)
    // is an unexplained reset: 14,400 − 150 = 14,250 kWh, coverage 95/96.
    const before = await energy()
    expect(before.energyKwh).toBeCloseTo(14_250, 6)
    expect(before.coverage).toBeCloseTo(95 / 96, 9)

    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/meter-events',
      headers: ADMIN,
      payload: { event: swap, reason: 'meter 0012 → 0047, work order 3381' },
    })
    expect(res.statusCode).toBe(201)
    const e = res.json().event
    expect(e).toMatchObject({
      type: 'replacement',
      ts: DAY0 + 100 * MIN,
      unit: 'kWh',
      oldFinalReading: 99_995,
      newStartReading: 60_000,
      revision: 1,
      enteredBy: 'admin',
    })
    // 01:30–01:45: (99,995 − 99,900) + (60,050 − 60,000) = 95 + 50 = 145 kWh: the old meter's last 5 kWh were never counted by it.
    const after = await energy()
    expect(after.energyKwh).toBeCloseTo(14_250 + 145, 6)
    expect(after.coverage).toBe(1)

    // An event 10 minutes later on the same counter overlaps: 409, naming ts and the other id.
    const overlap = await app.inject({
      method: 'POST',
      url: '/api/v1/meter-events',
      headers: ADMIN,
      payload: { event: { type: 'reset', ...main, ts: '2026-03-02T01:50:00', valueAfter: 0 }, reason: 'x' },
    })
    expect(overlap.statusCode).toBe(409)
    expect(overlap.json().error).toMatchObject({ code: 'RECORDS_ERR_OVERLAP', details: { field: 'ts', otherId: e.id } })

    // The final reading was 100,000 (the meter ran on until 01:40): revised, the day is 14,400 exactly.
    const revised = await app.inject({
      method: 'PUT',
      url: `/api/v1/meter-events/${e.id}`,
      headers: ADMIN,
      payload: { event: { ...swap, oldFinalReading: 100_000 }, reason: 'final reading read off the photo', expectedRevision: 1 },
    })
    expect(revised.statusCode).toBe(200)
    expect(revised.json().event).toMatchObject({ revision: 2, oldFinalReading: 100_000 })
    expect((await energy()).energyKwh).toBeCloseTo(14_400, 6)
    const stale = await app.inject({
      method: 'PUT',
      url: `/api/v1/meter-events/${e.id}`,
      headers: ADMIN,
      payload: { event: swap, reason: 'x', expectedRevision: 1 },
    })
    expect([stale.statusCode, stale.json().error.code]).toEqual([409, 'RECORDS_ERR_CONFLICT'])

    const list = await app.inject({ method: 'GET', url: '/api/v1/meter-events?scope=acme/w1/l1/main&from=2026-03-01&to=2026-03-05', headers: ENGINEER })
    expect(list.json().rows.map((r: { id: string; revision: number }) => [r.id, r.revision])).toEqual([[e.id, 2]])
    expect((await app.inject({ method: 'GET', url: '/api/v1/meter-events?scope=acme', headers: OTHER })).statusCode).toBe(404)

    const voided = await app.inject({
      method: 'DELETE',
      url: `/api/v1/meter-events/${e.id}`,
      headers: ADMIN,
      payload: { reason: 'wrong meter', expectedRevision: 2 },
    })
    expect(voided.json().event).toMatchObject({ revision: 3, voided: true })
    expect((await energy()).energyKwh).toBeCloseTo(14_250, 6)
    const history = await app.inject({ method: 'GET', url: `/api/v1/meter-events/${e.id}/history`, headers: ADMIN })
    expect(history.json().rows.map((r: { revision: number; reason: string; voided: boolean }) => [r.revision, r.reason, r.voided])).toEqual([
      [1, 'meter 0012 → 0047, work order 3381', false],
      [2, 'final reading read off the photo', false],
      [3, 'wrong meter', true],
    ])
  })

  it('is in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/meter-events', '/api/v1/meter-events/{id}', '/api/v1/meter-events/{id}/history']))
    expect(doc.paths['/api/v1/meter-events'].post.requestBody.content['application/json'].schema.properties.event.properties.type.enum).toEqual([
      'replacement',
      'ratio_change',
      'reset',
    ])
  })
})
