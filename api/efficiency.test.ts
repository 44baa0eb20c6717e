import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore, createInfluxStore, type TelemetryStore } from '../storage/index.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import { createInfluxEventLog } from '../storage/influxdb/events.ts'
import type { EventLog } from '../storage/events.ts'
import { D0, DAY, H, MIN, PLANT, T, TQ, efficiencyData } from '../reports/testing/efficiency-fixtures.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { build } from './app.ts'

/**
 * /api/v1 baselines, savings, power factor and quality on real stores, through build() + inject().
 * Data and hand-worked numbers: reports/testing/efficiency-fixtures.ts.
 */

const sha = (key: string) => `sha256$${createHash('sha256').update(key).digest('hex')}`
const KEYS = {
  admin: { id: 'admin', role: 'admin' },
  engineer: { id: 'eng-acme', role: 'engineer', enterprise: 'acme' },
  otherEngineer: { id: 'eng-other', role: 'engineer', enterprise: 'other' },
  commission: { id: 'commission', role: 'commission' },
  operator: { id: 'op-acme', role: 'operator', enterprise: 'acme' },
} as const
type Who = keyof typeof KEYS
const apiKeys = Object.entries(KEYS).map(([name, k]) => ({ ...k, keyHash: sha(`key-${name}`) }))

interface Harness {
  app: FastifyInstance
  close(): Promise<void>
}

async function harness(store: TelemetryStore, events: EventLog): Promise<Harness> {
  await store.write(efficiencyData())
  const app = await build({ store, events, plant: PLANT, now: () => D0 + 40 * DAY, config: { auth: { apiKeys, users: [], tokenTtlS: 43_200 } } })
  return {
    app,
    close: async () => {
      await app.close()
      await store.close()
      await events.close()
    },
  }
}

const qs = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()

function client(h: () => Harness) {
  return {
    get: (who: Who, path: string, params: Record<string, string | number>) =>
      h().app.inject({ method: 'GET', url: `/api/v1${path}?${qs(params)}`, headers: { 'x-api-key': `key-${who}` } }),
    post: (who: Who, path: string, body: unknown) =>
      h().app.inject({ method: 'POST', url: `/api/v1${path}`, headers: { 'x-api-key': `key-${who}` }, payload: body as object }),
  }
}

const FIRST = { scope: 'acme/w1/l1', baselineStart: D0, baselineStop: D0 + 14 * DAY, variables: ['production'], period: 'day', reason: 'first baseline' }
const REPORTING = { scope: 'acme/w1/l1', start: D0 + 14 * DAY, stop: D0 + 21 * DAY }

describe('efficiency API on the embedded store', () => {
  let dir: string
  let h: Harness
  const api = client(() => h)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-efficiency-api-'))
    const path = join(dir, 'plantwatt.db')
    h = await harness(createEmbeddedStore({ path }), createEmbeddedEventLog({ path }))
  })

  afterAll(async () => {
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('POST /baselines fits 200 + 0.5 × production (R² 1) and records revision 1 by the caller', async () => {
    const res = await api.post('engineer', '/baselines', FIRST)
    expect(res.statusCode, res.body).toBe(201)
    const body = res.json()
    expect(body.revision.row).toMatchObject({
      line: 'acme/w1/l1',
      revision: 1,
      supersedes: null,
      effectiveFrom: D0 + 14 * DAY,
      user: 'eng-acme',
      reason: 'first baseline',
      period: 'day',
      variables: 'production',
      n: 14,
      valid: true,
      validityReasons: '',
    })
    expect(body.revision.row.intercept).toBeCloseTo(200, 6)
    expect(body.revision.row.bProduction).toBeCloseTo(0.5, 9)
    expect(body.revision.row.r2).toBeCloseTo(1, 9)
    expect(body.revision.model.coefficients[0].name).toBe('production')
    // Day 0: 1000 pcs, 700 kWh, fitted 700.
    expect(body.rows).toHaveLength(14)
    expect(body.rows[0].period).toBe('2026-03-02')
    expect(body.rows[0].energyKwh).toBeCloseTo(700, 6)
    expect(body.rows[0].production).toBeCloseTo(1000, 6)
    expect(body.rows[0].residualKwh).toBeCloseTo(0, 6)
  })

  it('GET /savings: 10 % less energy → savings and CUSUM by hand, as JSON and CSV', async () => {
    const res = await api.get('engineer', '/savings', REPORTING)
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    // predicted 700, 800, 600, 900, 700, 500, 1000; actual 90 %; savings 70, 80, 60, 90, 70, 50, 100.
    const cusum = [70, 150, 210, 300, 370, 420, 520]
    body.rows.forEach((r: { cusum: number; savings: number; predicted: number; actual: number; enpi: number; revision: number }, i: number) => {
      expect(r.cusum).toBeCloseTo(cusum[i] as number, 6)
      expect(r.savings).toBeCloseTo(0.1 * r.predicted, 6)
      expect(r.actual).toBeCloseTo(0.9 * r.predicted, 6)
      expect(r.enpi).toBeCloseTo(0.9, 9)
      expect(r.revision).toBe(1)
    })
    expect(body.rows.map((r: { period: string }) => r.period)).toEqual([
      '2026-03-16',
      '2026-03-17',
      '2026-03-18',
      '2026-03-19',
      '2026-03-20',
      '2026-03-21',
      '2026-03-22',
    ])
    expect(body.totalSavings).toBeCloseTo(520, 6)
    expect(body.savingsShare).toBeCloseTo(0.1, 9)
    expect(body).toMatchObject({ line: 'acme/w1/l1', period: 'day', modelValid: true, revisions: [1], excluded: [] })
    const csv = await api.get('engineer', '/savings', { ...REPORTING, format: 'csv' })
    expect(csv.statusCode).toBe(200)
    expect(csv.headers['content-type']).toMatch(/text\/csv/)
    const lines = csv.body.replace('\uFEFF', '').trim().split('\r\n')
    expect(lines[0]).toBe('line,period,start,end,revision,actual,predicted,savings,cusum,enpi,production,operatingHours,coverage')
    expect(lines).toHaveLength(8)
  })

  it('a second revision from day 17 is used from then on; GET /baselines lists both', async () => {
    const res = await api.post('admin', '/baselines', {
      ...FIRST,
      baselineStart: D0 + 14 * DAY,
      baselineStop: D0 + 21 * DAY,
      effectiveFrom: D0 + 17 * DAY,
      reason: 'compressor replaced',
    })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().revision.row).toMatchObject({ revision: 2, supersedes: 1, user: 'admin' })
    const savings = (await api.get('commission', '/savings', REPORTING)).json()
    expect(savings.rows.map((r: { revision: number }) => r.revision)).toEqual([1, 1, 1, 2, 2, 2, 2])
    // 70 + 80 + 60, then predicted = actual (180 + 0.45 x fits the reporting days exactly).
    expect(savings.rows[6].cusum).toBeCloseTo(210, 6)
    const history = await api.get('engineer', '/baselines', { scope: 'acme/w1/l1' })
    expect(history.statusCode).toBe(200)
    expect(history.json().rows.map((r: { revision: number; reason: string; user: string }) => [r.revision, r.reason, r.user])).toEqual([
      [1, 'first baseline', 'eng-acme'],
      [2, 'compressor replaced', 'admin'],
    ])
    expect(history.json().revisions[1].model.intercept.value).toBeCloseTo(180, 6)
  })

  it('roles: the commission and operators may not record a baseline; operators may not read reports', async () => {
    const commission = await api.post('commission', '/baselines', FIRST)
    expect(commission.statusCode).toBe(403)
    expect(commission.json().error.code).toBe('API_ERR_FORBIDDEN')
    expect((await api.post('operator', '/baselines', FIRST)).statusCode).toBe(403)
    expect((await api.get('operator', '/savings', REPORTING)).statusCode).toBe(403)
  })

  it('tenant scope: another enterprise answers exactly like an unknown one (404)', async () => {
    const foreign = await api.get('otherEngineer', '/savings', REPORTING)
    const unknown = await api.get('otherEngineer', '/savings', { ...REPORTING, scope: 'nope/w1/l1' })
    expect(foreign.statusCode).toBe(404)
    expect(foreign.json()).toEqual({ error: { code: 'API_ERR_NOT_FOUND', message: 'no enterprise "acme"' } })
    expect(unknown.json()).toEqual({ error: { code: 'API_ERR_NOT_FOUND', message: 'no enterprise "nope"' } })
    expect((await api.post('otherEngineer', '/baselines', FIRST)).statusCode).toBe(404)
    expect((await api.get('otherEngineer', '/power-factor', { scope: 'acme', start: T, stop: T + H })).statusCode).toBe(404)
    expect((await api.get('otherEngineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H })).statusCode).toBe(404)
    expect((await api.get('otherEngineer', '/baselines', { scope: 'acme/w1/l1' })).statusCode).toBe(404)
    // Its own enterprise works: no baseline recorded there yet.
    expect((await api.get('otherEngineer', '/baselines', { scope: 'other/s/x' })).json().rows).toEqual([])
  })

  it('GET /power-factor: time-weighted |PF| and time below 0.90 per device', async () => {
    const res = await api.get('engineer', '/power-factor', { scope: 'acme/w1/l1', start: T, stop: T + H })
    expect(res.statusCode, res.body).toBe(200)
    const main = res.json().rows[0]
    // (40 × 0.95 + 19 × 0.85) / 59 covered minutes; 19 minutes below 0.90.
    expect(main).toMatchObject({ device: 'main', source: 'power_factor', resolution: 'raw', samples: 60, mainMeter: true, threshold: 0.9 })
    expect(main.meanPf).toBeCloseTo(54.15 / 59, 12)
    expect(main.belowThresholdH).toBeCloseTo(19 / 60, 12)
    const pq = res.json().rows[2]
    expect(pq.energyPf).toBeCloseTo(0.6, 12)
    const perLine = (await api.get('engineer', '/power-factor', { scope: 'acme/w1', start: T, stop: T + H, per: 'line', threshold: 0.8 })).json()
    expect(perLine.rows.map((r: { line: string; belowThresholdH: number }) => [r.line, r.belowThresholdH])).toEqual([
      ['acme/w1/l1', 0],
      ['acme/w1/l2', 0],
    ])
    expect(perLine.missing).toEqual(['acme/w1/l3'])
  })

  it('GET /quality: completeness, gap, reset, stuck, bad and uncertain shares', async () => {
    const res = await api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H, limit: 1000 })
    expect(res.statusCode, res.body).toBe(200)
    const a = res.json().rows[0]
    expect(a).toMatchObject({
      device: 'a',
      quantity: 'energy_import_kwh',
      samples: 55,
      expectedSamples: 60,
      gaps: 1,
      missingSamples: 5,
      stuckSamples: 21,
      resets: 1,
      badSamples: 1,
      uncertainSamples: 2,
      truncated: false,
    })
    expect(a.completeness).toBeCloseTo(0.9, 12)
    expect(res.json().details[0].gaps).toEqual([{ from: TQ + 9 * MIN, to: TQ + 15 * MIN, missingSamples: 5 }])
  })

  it('bad input gets coded errors', async () => {
    const cases: Array<[Promise<{ statusCode: number; json(): { error: { code: string; message: string } } }>, number, string, RegExp?]> = [
      [api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: D0, stop: D0 + 8 * DAY }), 400, 'API_ERR_RANGE_TOO_LARGE', /at most 7 days/],
      [api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H, limit: 5_000_000 }), 400, 'API_ERR_VALIDATION'],
      [api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H, quantity: 'volts' }), 400, 'REPORTS_ERR_INPUT'],
      // 54 samples of a in the hour, more than 10.
      [api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H, limit: 10 }), 400, 'REPORTS_ERR_INPUT', /holds 54 samples/],
      [api.get('engineer', '/power-factor', { scope: 'acme', start: T + H, stop: T }), 400, 'API_ERR_RANGE'],
      [api.get('engineer', '/power-factor', { scope: 'acme', start: T, stop: T + H, threshold: 1.5 }), 400, 'API_ERR_VALIDATION'],
      [api.get('engineer', '/power-factor', { scope: 'ACME!', start: T, stop: T + H }), 400, 'REPORTS_ERR_INPUT'],
      [api.get('engineer', '/savings', { scope: 'acme/w1', start: T, stop: T + H }), 400, 'REPORTS_ERR_INPUT', /baselines are per line/],
      [api.get('engineer', '/savings', { scope: 'acme/w1/l9', start: T, stop: T + H }), 404, 'REPORTS_ERR_SCOPE'],
      [api.get('engineer', '/savings', { scope: 'acme/w1/l3', start: T, stop: T + H }), 400, 'REPORTS_ERR_INPUT', /no recorded baseline/],
      [api.post('engineer', '/baselines', { ...FIRST, variables: ['temperature'] }), 400, 'API_ERR_VALIDATION'],
      [api.post('engineer', '/baselines', { ...FIRST, reason: '' }), 400, 'API_ERR_VALIDATION'],
      [api.post('engineer', '/baselines', { ...FIRST, baselineStart: 'yesterday' }), 400, 'API_ERR_VALIDATION', /baselineStart/],
      [api.post('engineer', '/baselines', { ...FIRST, baselineStop: D0 }), 400, 'API_ERR_RANGE'],
      // Two days cannot fit a 1-variable model (needs 3 observations).
      [api.post('engineer', '/baselines', { ...FIRST, baselineStop: D0 + 2 * DAY }), 422, 'ANALYTICS_ERR_REGRESSION'],
      // Before revision 2's effective time.
      [api.post('engineer', '/baselines', FIRST), 400, 'ANALYTICS_ERR_INPUT'],
    ]
    for (const [pending, status, code, message] of cases) {
      const res = await pending
      expect([res.statusCode, res.json().error.code]).toEqual([status, code])
      if (message) expect(res.json().error.message).toMatch(message)
    }
  })

  it('documents every route in the OpenAPI document', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { summary?: string }>> }
    for (const [path, method] of [
      ['/api/v1/power-factor', 'get'],
      ['/api/v1/quality', 'get'],
      ['/api/v1/baselines', 'get'],
      ['/api/v1/baselines', 'post'],
      ['/api/v1/savings', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method]?.summary, `${method} ${path}`).toBeTruthy()
    }
  })
})

describe('efficiency API on a real influxd', () => {
  let influx: RunningInfluxd
  let h: Harness
  const api = client(() => h)

  beforeAll(async () => {
    influx = await startInfluxd()
    const options = { url: influx.url, database: 'efficiency' }
    h = await harness(await createInfluxStore(options), await createInfluxEventLog(options))
  }, 60_000)

  afterAll(async () => {
    await h?.close()
    await influx?.stop()
  })

  it('records a baseline and answers savings, power factor and quality like the embedded store', async () => {
    expect((await api.post('engineer', '/baselines', FIRST)).statusCode).toBe(201)
    const savings = (await api.get('engineer', '/savings', REPORTING)).json()
    savings.rows.forEach((r: { cusum: number }, i: number) => {
      expect(r.cusum).toBeCloseTo([70, 150, 210, 300, 370, 420, 520][i] as number, 6)
    })
    const history = (await api.get('engineer', '/baselines', { scope: 'acme/w1/l1' })).json()
    expect(history.rows).toHaveLength(1)
    expect(history.rows[0].bProduction).toBeCloseTo(0.5, 9)
    const pf = (await api.get('engineer', '/power-factor', { scope: 'acme/w1/l1', start: T, stop: T + H })).json()
    expect(pf.rows[0].meanPf).toBeCloseTo(54.15 / 59, 12)
    expect(pf.rows[2].energyPf).toBeCloseTo(0.6, 12)
    const windowed = (await api.get('engineer', '/power-factor', { scope: 'acme/w1/l1/sub', start: T, stop: T + H, limit: 10 })).json()
    expect(windowed.rows[0]).toMatchObject({ resolution: '15m', samples: 4 })
    expect(windowed.rows[0].belowThresholdH).toBeCloseTo(0.25, 12)
    const quality = (await api.get('engineer', '/quality', { scope: 'acme/w1/l3', start: TQ, stop: TQ + H, limit: 1000 })).json()
    expect(quality.rows[0]).toMatchObject({ samples: 55, gaps: 1, missingSamples: 5, stuckSamples: 21, resets: 1, badSamples: 1, uncertainSamples: 2 })
    expect(quality.rows[1]).toMatchObject({ device: 'b', samples: 0, completeness: 0 })
  })
})
