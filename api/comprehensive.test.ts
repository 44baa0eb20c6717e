import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import { DAY_MS, ENTRY_TEST_PLANT, MARCH_1, coalDayInput } from '../records/testing/plant.ts'
import { build } from './app.ts'

/** GET /api/v1/comprehensive through the real API on the embedded store, with a coal entry posted through /entries. */

const KEYS = { cement: 'cement-engineer-key', steel: 'steel-engineer-key', commission: 'commission-key' }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

let dir: string
let store: TelemetryStore
let events: EventLog
let app: FastifyInstance

/** March 1st (local): kiln main meter m1 55 000 kWh, mill m2 12 000 kWh, 5-minute counters from an hour before to an hour after. */
function points(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  const tags = (line: string, device: string) => ({ enterprise: 'hb-cement', site: 'plant-a', line, device })
  for (let ts = MARCH_1 - HOUR_MS; ts <= MARCH_1 + DAY_MS + HOUR_MS; ts += 5 * MINUTE_MS) {
    const h = (ts - (MARCH_1 - HOUR_MS)) / HOUR_MS
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('kiln-1', 'm1'), fields: { energy_import_kwh: (55_000 / 24) * h }, ts })
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('mill-1', 'm2'), fields: { energy_import_kwh: 500 * h }, ts })
  }
  return out
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-comprehensive-api-'))
  const path = join(dir, 'plantwatt.db')
  store = createEmbeddedStore({ path })
  await store.write(points())
  events = await openEventLog({ backend: 'embedded', path })
  app = await build({
    store,
    events,
    plant: ENTRY_TEST_PLANT,
    now: () => MARCH_1 + 3 * DAY_MS,
    config: {
      auth: {
        apiKeys: [
          { id: 'li-wei', keyHash: sha(KEYS.cement), role: 'engineer', enterprise: 'hb-cement' },
          { id: 'zhao-steel', keyHash: sha(KEYS.steel), role: 'engineer', enterprise: 'hb-steel' },
          { id: 'province', keyHash: sha(KEYS.commission), role: 'commission' },
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

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
async function call(method: 'GET' | 'POST', url: string, key: string, payload?: unknown): Promise<{ status: number; body: Json }> {
  const res = await app.inject({ method, url: `/api/v1${url}`, headers: { 'x-api-key': key }, ...(payload === undefined ? {} : { payload: payload as Json }) })
  return { status: res.statusCode, body: res.json() as Json }
}

describe('GET /comprehensive', () => {
  it('answers every carrier of the enterprise with its source, conversion and basis', async () => {
    // 125 t of coal at 23 446 080 kJ/t (0.8 kgce/kg) on the kiln, through the entries API
    const posted = await call('POST', '/entries', KEYS.cement, { entries: [coalDayInput(0, 125, 23_446_080)], reason: 'weighbridge' })
    expect(posted.status).toBe(201)
    const r = await call('GET', '/comprehensive?scope=hb-cement&start=2026-03-01&stop=2026-03-02&granularity=day', KEYS.cement)
    expect(r.status).toBe(200)
    // (55 000 + 12 000) kWh × 0.1229 = 8 234.3 kgce + 100 000 kgce of coal; no incomers: the sum of the lines
    expect(r.body.kgce).toBeCloseTo(108_234.3, 4)
    expect(r.body.tce).toBeCloseTo(108.2343, 7)
    expect(r.body.basis).toMatchObject({ standard: 'GB/T 2589-2020', tableVersion: 'gbt2589-2020', kjPerKgce: 29307.6 })
    expect(r.body.entriesRead).toBe(true)
    const site = r.body.nodes.find((n: Json) => n.level === 'site')
    expect(site).toMatchObject({ path: 'hb-cement/plant-a', parent: 'hb-cement', totalBasis: 'sum-of-lines' })
    const kiln = r.body.nodes.find((n: Json) => n.path === 'hb-cement/plant-a/kiln-1')
    const coal = kiln.flows.find((f: Json) => f.carrier === 'raw-coal')
    expect(coal).toMatchObject({ source: 'entry', unit: 'kg', amount: expect.closeTo(125_000, 6), conversion: { method: 'measured-ncv', verified: true } })
    expect(coal.conversion.kgcePerUnit).toBeCloseTo(0.8, 12)
    expect(r.body.rows.filter((x: Json) => x.path === 'hb-cement')).toHaveLength(1)
  })

  it("the commission view's energy of the enterprise is the same boundary total, entries included", async () => {
    // After the first test's coal entry: 108 234.3 kgce = 108.2343 tce, as GET /comprehensive answers.
    const r = await call('GET', '/commission/enterprises/hb-cement?start=2026-03-01&stop=2026-03-02', KEYS.commission)
    expect(r.status).toBe(200)
    expect(r.body.energyTce).toBeCloseTo(108.2343, 7)
    expect(r.body.energyKwh).toBeCloseTo(67_000, 4)
  })

  it('bad input and another enterprise answer coded errors', async () => {
    const device = await call('GET', '/comprehensive?scope=hb-cement/plant-a/kiln-1/m1&start=2026-03-01&stop=2026-03-02', KEYS.cement)
    expect(device.status).toBe(400)
    expect(device.body.error.code).toBe('REPORTS_ERR_INPUT')
    const other = await call('GET', '/comprehensive?scope=hb-cement&start=2026-03-01&stop=2026-03-02', KEYS.steel)
    expect(other.status).toBe(404)
    expect(other.body.error.code).toBe('REPORTS_ERR_SCOPE')
  })
})
