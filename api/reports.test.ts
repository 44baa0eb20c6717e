import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { createEmbeddedStore, createInfluxStore, type TelemetryStore } from '../storage/index.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { HUBEI_SINGLE_PART_1_10KV } from '../analytics/index.ts'
import { AFTER, H, MAR2, model, points } from '../reports/testing/figures-fixture.ts'
import { build } from './app.ts'

/**
 * The report endpoints on a real store holding the fixture of reports/testing/figures-fixture.ts (a month of
 * 5-minute counters, a reset at a tariff boundary, a 48 h gap), figures worked out by hand.
 * Asia/Shanghai is UTC+8: `start=2026-03-02` is local midnight.
 */

const sha = (key: string) => `sha256$${createHash('sha256').update(key).digest('hex')}`
const ADMIN = { 'x-api-key': 'admin-key' }
const ACME = { 'x-api-key': 'acme-key' }
const OTHER = { 'x-api-key': 'other-key' }
const auth = {
  apiKeys: [
    { id: 'admin', keyHash: sha('admin-key'), role: 'admin' as const },
    { id: 'acme-eng', keyHash: sha('acme-key'), role: 'engineer' as const, enterprise: 'acme' },
    { id: 'other-eng', keyHash: sha('other-key'), role: 'engineer' as const, enterprise: 'other' },
  ],
}

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

function suite(name: string, open: () => Promise<TelemetryStore>, full: boolean) {
  describe(`report endpoints on ${name}`, () => {
    let store: TelemetryStore
    let app: FastifyInstance
    const get = async (url: string, headers: Record<string, string> = ADMIN) => {
      const res = await app.inject({ method: 'GET', url: `/api/v1${url}`, headers })
      const json = res.headers['content-type']?.toString().startsWith('application/json')
      return { status: res.statusCode, body: (json ? res.json() : {}) as Json, res }
    }
    beforeAll(async () => {
      store = await open()
      await store.write(points())
      app = await build({ store, plant: model, now: () => AFTER, config: { auth, maxRangeDays: 40 } })
    }, 60_000)
    afterAll(async () => {
      await app?.close()
      await store?.close()
    })

    it('GET /energy: a day with a reset, a month with a gap (coverage < 1)', async () => {
      const day = await get('/energy?scope=acme/w1/l1&start=2026-03-02&stop=2026-03-03&granularity=hour')
      expect(day.status).toBe(200)
      expect(day.body.rows).toHaveLength(24)
      // 100 kW; the 11:45 → 12:00 quarter is lost to the reset at 12:00: hour 11 = 75 kWh, day 2375.
      expect(day.body.rows[11].energyKwh).toBeCloseTo(75, 6)
      expect(day.body.energyKwh).toBeCloseTo(2375, 6)
      const month = await get('/energy?scope=acme/w1/l1&start=2026-03-01&stop=2026-04-01&granularity=month')
      // 31 × 2400 − 25 = 74375 kWh; no data for 48 of 744 hours, and the reset's quarter (unexplained: no coverage).
      expect(month.body.rows).toEqual([
        {
          scope: 'acme/w1/l1',
          bucket: '2026-03',
          start: MAR2 - 24 * H,
          end: MAR2 + 30 * 24 * H,
          energyKwh: expect.closeTo(74375, 6),
          coverage: expect.closeTo(695.75 / 744, 9),
        },
      ])
    })

    it('GET /cost: a day straddling every tariff period, the reset on the flat → valley boundary', async () => {
      const r = await get('/cost?scope=acme/w1/l1&start=2026-03-02&stop=2026-03-03&granularity=day')
      expect(r.status).toBe(200)
      // valley 800 kWh × 0.496924 = 397.5392; flat (800 − 25) × 0.715686 = 554.65665;
      // peak 600 × 0.910961 = 546.5766; critical peak 200 × 1.113999 = 222.7998 → 1721.57225 CNY.
      const cost = Object.fromEntries(r.body.rows.map((x: Json) => [x.period, x.cost]))
      expect(cost.valley).toBeCloseTo(397.5392, 6)
      expect(cost.flat).toBeCloseTo(554.65665, 6)
      expect(cost.peak).toBeCloseTo(546.5766, 6)
      expect(cost.critical_peak).toBeCloseTo(222.7998, 6)
      expect(r.body.totalCost).toBeCloseTo(1721.57225, 6)
      expect(r.body.rows[0]).toMatchObject({ tariff: 'hubei-industrial-single-part-1-10kv', version: 'hubei-2026-01-single', demandKw: null })
      expect(r.body.tariffs[0].versions[0].source).toContain('鄂发改价管〔2024〕77号')
      // Two-part site, one day: 1717.6016 energy; the month's 300 kW × 42 demand charge is implied, not added to a day.
      const two = await get('/cost?scope=acme/w2&start=2026-03-02&stop=2026-03-03&granularity=total')
      expect(two.body.totalCost).toBeCloseTo(1717.6016, 6)
      expect(two.body.rows.find((x: Json) => x.period === 'demand_charge')).toBeUndefined()
      expect(two.body.months[0]).toMatchObject({
        account: 'acme/w2/implicit',
        demandStatus: 'partial-range',
        demandCharge: null,
        impliedDemandCharge: expect.closeTo(12600, 6),
        maxDemandKw: expect.closeTo(300, 6),
      })
    })

    it('GET /carbon names the factor; GET /demand against the contract; GET /sec grades', async () => {
      const c = await get('/carbon?scope=acme/w1/l1&start=2026-03-01&stop=2026-04-01&granularity=month')
      // 74375 kWh × 0.4364 (Hubei 2022, newest ≤ 2026) = 32457.25 kg CO2; × 0.1229 = 9140.6875 kgce.
      expect(c.body.rows[0]).toMatchObject({
        kgCo2: expect.closeTo(32457.25, 5),
        kgce: expect.closeTo(9140.6875, 5),
        factorRegion: 'hubei',
        factorYear: 2022,
        kgCo2PerKwh: 0.4364,
      })
      expect(c.body.factors[0].source).toBeTruthy()
      const d = await get('/demand?scope=acme/w2&start=2026-03-02&stop=2026-03-03&granularity=hour')
      expect(d.body.rows).toHaveLength(24)
      expect(d.body.rows[10]).toMatchObject({ maxDemandKw: expect.closeTo(300, 6), maxAt: MAR2 + 10 * H, contractedDemandKw: 250, overContract: true })
      expect(d.body.rows[9]).toMatchObject({ maxDemandKw: expect.closeTo(100, 6), overContract: false })
      expect(d.body.months[0]).toMatchObject({ month: '2026-03', maxDemandKw: expect.closeTo(300, 6) })
      const s = await get('/sec?scope=acme&start=2026-03-01&stop=2026-04-01&granularity=total')
      // Clinker 综合能耗 needs the kiln's fuel: electricity alone (74375 kWh / 89.28 t) is not graded, and says why;
      // 综合电耗 is graded in kWh/t (833.05 kWh/t: above GB level 3, the 限定值).
      expect(s.body.rows).toHaveLength(1)
      expect(s.body.rows[0]).toMatchObject({
        line: 'acme/w1/l1',
        grade: null,
        benchmarkProduct: 'cement-clinker',
        benchmarkUnit: 'kgce/t',
        value: null,
        ungraded: { code: 'CARRIER_NOT_METERED' },
      })
      expect(s.body.rows[0].indicators[1]).toMatchObject({
        product: 'cement-clinker-electricity',
        value: expect.closeTo(74375 / 89.28, 6),
        gb: { level: null },
      })
      expect(s.body.sources.benchmarks['cement-clinker']).toBeTruthy()
    })

    it('GET /report/monthly: energy, cost, CO2 and SEC of the month in one row', async () => {
      const r = await get('/report/monthly?scope=acme/w1/l1&start=2026-03-01&stop=2026-04-01')
      expect(r.status).toBe(200)
      // Cost: 31 full days × 1739.4644 less 25 kWh of flat (× 0.715686) = 53905.50425 CNY.
      expect(r.body.rows).toEqual([
        {
          scope: 'acme/w1/l1',
          month: '2026-03',
          start: MAR2 - 24 * H,
          end: MAR2 + 30 * 24 * H,
          energyKwh: expect.closeTo(74375, 6),
          coverage: expect.closeTo(695.75 / 744, 9),
          energyCost: expect.closeTo(53905.50425, 5),
          demandCharge: 0,
          totalCost: expect.closeTo(53905.50425, 5),
          kgCo2: expect.closeTo(32457.25, 5),
          kgce: expect.closeTo(9140.6875, 5),
          output: expect.closeTo(89.28, 6),
          secKwhPerUnit: expect.closeTo(74375 / 89.28, 6),
          secValue: null,
          grade: null,
        },
      ])
    })

    if (!full) return

    it('GET /production and the CSV export of a table', async () => {
      const p = await get('/production?scope=acme/w1/l1&start=2026-03-02&stop=2026-03-03&granularity=total')
      expect(p.body.rows).toEqual([
        { line: 'acme/w1/l1', product: 'clinker', unit: 't', bucket: 'total', start: MAR2, end: MAR2 + 24 * H, output: expect.closeTo(2.88, 9), coverage: 1 },
      ])
      const csv = await get('/cost?scope=acme/w1/l1&start=2026-03-02&stop=2026-03-03&granularity=day&format=csv')
      expect(csv.res.headers['content-type']).toContain('text/csv')
      const lines = csv.res.body.replace('\uFEFF', '').trim().split('\r\n')
      expect(lines[0]).toBe('scope,tariff,version,bucket,start,end,period,energyKwh,pricePerKwh,cost,demandKw,account')
      expect(lines).toHaveLength(5)
    })

    it('tenant scope: another enterprise answers exactly like an unknown one (404 REPORTS_ERR_SCOPE)', async () => {
      const q = 'start=2026-03-02&stop=2026-03-03'
      const unknown = await get(`/energy?scope=nobody&${q}`, ACME)
      const foreign = await get(`/energy?scope=other&${q}`, ACME)
      expect(unknown.status).toBe(404)
      expect(foreign.status).toBe(404)
      expect(unknown.body.error.code).toBe('REPORTS_ERR_SCOPE')
      expect(foreign.body).toEqual({ error: { code: 'REPORTS_ERR_SCOPE', message: 'no enterprise "other" in the plant model' } })
      expect(unknown.body).toEqual({ error: { code: 'REPORTS_ERR_SCOPE', message: 'no enterprise "nobody" in the plant model' } })
      expect((await get(`/cost?scope=acme/w1&${q}`, OTHER)).status).toBe(404)
      const own = await get(`/energy?scope=other&${q}&granularity=total`, OTHER)
      expect(own.status).toBe(200)
      expect(own.body.energyKwh).toBeCloseTo(1200, 6) // 50 kW × 24 h
      expect((await get(`/energy?scope=acme/w1/l1/ghost&${q}`)).body.error.code).toBe('REPORTS_ERR_SCOPE')
    })

    it('bad input: coded errors, never a crash', async () => {
      const code = async (url: string) => {
        const r = await get(url)
        return [r.status, r.body.error?.code]
      }
      expect(await code('/energy?scope=acme&start=2026-03-03&stop=2026-03-02')).toEqual([400, 'API_ERR_RANGE'])
      expect(await code('/energy?scope=acme&start=2026-01-01&stop=2026-03-02')).toEqual([400, 'API_ERR_RANGE_TOO_LARGE']) // 60 d > 40
      expect(await code('/energy?scope=acme&start=2026-03-02&stop=2026-03-03&granularity=week')).toEqual([400, 'API_ERR_VALIDATION'])
      expect(await code('/energy?scope=Acme//x&start=2026-03-02&stop=2026-03-03')).toEqual([400, 'REPORTS_ERR_INPUT'])
      expect(await code('/energy?scope=acme&start=yesterday&stop=2026-03-03')).toEqual([400, 'API_ERR_VALIDATION'])
      expect(await code('/energy?scope=acme&start=2026-03-02&stop=2026-03-03&granularity=shift')).toEqual([400, 'REPORTS_ERR_INPUT']) // w2/p1 has no shifts
      expect(await code('/energy?scope=acme&start=2026-03-02')).toEqual([400, 'API_ERR_VALIDATION'])
      const r = await app.inject({ method: 'GET', url: '/api/v1/energy?scope=acme&start=2026-03-02&stop=2026-03-03' })
      expect(r.statusCode).toBe(401)
    })

    it('POST /tariffs/check: overlapping periods are reported with their ranges', async () => {
      const ok = await app.inject({ method: 'POST', url: '/api/v1/tariffs/check', headers: ADMIN, payload: HUBEI_SINGLE_PART_1_10KV })
      expect(ok.statusCode).toBe(200)
      expect(ok.json()).toMatchObject({ valid: true, tariff: 'hubei-industrial-single-part-1-10kv' })
      expect(ok.json().rows).toHaveLength(14) // 7 spans × 2 seasons
      const version = HUBEI_SINGLE_PART_1_10KV.versions[0] as (typeof HUBEI_SINGLE_PART_1_10KV.versions)[number]
      const season = version.seasons[0] as (typeof version.seasons)[number]
      // flat 06:00–12:00 widened to 13:00 overlaps valley 12:00–14:00 for an hour.
      const bad = {
        ...HUBEI_SINGLE_PART_1_10KV,
        versions: [
          {
            ...version,
            seasons: [
              { ...season, spans: season.spans.map((s) => (s.period === 'flat' && s.from === '06:00' ? { ...s, to: '13:00' } : s)) },
              ...version.seasons.slice(1),
            ],
          },
        ],
      }
      const res = await app.inject({ method: 'POST', url: '/api/v1/tariffs/check', headers: ADMIN, payload: bad })
      expect(res.statusCode).toBe(400)
      const body = res.json() as Json
      expect(body.error.code).toBe('ANALYTICS_ERR_TARIFF')
      expect(body.error.details).toEqual([
        expect.objectContaining({ problem: 'overlap', from: '12:00', to: '13:00', periods: ['flat', 'valley'], season: 'other months' }),
      ])
      const malformed = await app.inject({ method: 'POST', url: '/api/v1/tariffs/check', headers: ADMIN, payload: { id: 'x' } })
      expect(malformed.statusCode).toBe(400)
      expect(malformed.json().error.code).toBe('API_ERR_VALIDATION')
    })

    it('the OpenAPI document describes the report routes', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as Json
      expect(doc.paths['/api/v1/report/monthly'].get.parameters.map((p: Json) => p.name).sort()).toEqual(['scope', 'start', 'stop'])
      expect(doc.paths['/api/v1/cost'].get.parameters.find((p: Json) => p.name === 'granularity').description).toContain('shift')
    })
  })
}

const dir = mkdtempSync(join(tmpdir(), 'pw-reports-api-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
suite('embedded', async () => createEmbeddedStore({ path: join(dir, 'telemetry.db') }), true)
let influx: RunningInfluxd | undefined
suite(
  'influxdb',
  async () => {
    influx = await startInfluxd()
    return createInfluxStore({ backend: 'influxdb', url: influx.url, database: influx.database, createDatabase: true, timeoutMs: 10_000 })
  },
  false,
)
afterAll(async () => influx?.stop())
