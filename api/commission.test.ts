import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import { backfillScenario } from '../simulators/scenario/backfill.ts'
import { BENCHMARKS, secTargetValue } from '../simulators/scenario/benchmarks.ts'
import { scenarioPlantModel } from '../simulators/scenario/model.ts'
import { loadScenario, type Scenario } from '../simulators/scenario/schema.ts'
import type { CommissionConfigInput } from '../reports/commission.ts'
import { build } from './app.ts'
import { resolveApiConfig } from './config.ts'
import type { ApiContext } from './context.ts'
import { formatValidationErrors, toErrorReply } from './errors.ts'
import { PlantIndex } from './plant-index.ts'
import type { Principal } from './principal.ts'
import { commissionRoutes } from './routes/commission.ts'
import { MINUTE_MS } from '../core/duration.ts'

// The hubei scenario (3 enterprises, 7 lines) backfilled for one full local week, Monday 2026-03-02
// 00:00 to Monday 2026-03-09 00:00 (Asia/Shanghai, UTC+8): the production model is calibrated on a
// week of each line's load shape, so a whole week puts every line's SEC at its secTarget. 5-minute
// samples, counters integrated per sample (fast path: ~77 000 points).
const START = Date.UTC(2026, 2, 1, 16)
const STOP = START + 7 * 86_400_000
const STEP = 300_000
const MIN = MINUTE_MS
const COMMISSION: CommissionConfigInput = { period: 'last-week', networkingWindowS: 600 }

const scenario: Scenario = loadScenario('hubei') as Scenario
// Declared facts: only the steel works says it runs a MES.
const plant: PlantModel = (() => {
  const m = scenarioPlantModel(scenario)
  return { ...m, enterprises: m.enterprises.map((e) => (e.id === 'jiangcheng-steel' ? { ...e, attributes: { mesDeployed: true } } : e)) }
})()

/** Key equipment and NC flags counted from the scenario itself (sub-meters and machines), not from the plant model. */
function scenarioFlags(enterprise: string): { key: string[]; nc: number } {
  const key: string[] = []
  let nc = 0
  for (const e of scenario.enterprises.filter((x) => x.id === enterprise)) {
    for (const s of e.sites) {
      for (const l of s.lines) {
        for (const d of [...l.subMeters, ...l.machines]) {
          if (!d.keyEquipment) continue
          key.push(`${e.id}/${s.id}/${l.id}/${d.id}`)
          if (d.ncCapable) nc++
        }
      }
    }
  }
  return { key, nc }
}

/** secTarget of every line graded on a benchmark: 'enterprise/site/line' → grade and target SEC in the indicator's unit. */
function gradedTargets(): Map<string, { grade: string; sec: number; unit: string }> {
  const out = new Map<string, { grade: string; sec: number; unit: string }>()
  for (const e of scenario.enterprises) {
    for (const s of e.sites) {
      for (const l of s.lines) {
        const b = l.product.benchmark
        if (!b || typeof l.product.secTarget !== 'string') continue
        // kgce/t lines: comprehensive energy (electricity + the coal, gas and oxygen their PLC counts)
        out.set(`${e.id}/${s.id}/${l.id}`, { grade: l.product.secTarget, sec: secTargetValue(l.product.secTarget, b, l.id), unit: BENCHMARKS[b].unit })
      }
    }
  }
  return out
}

const machinePoints = (ts: number, except = ''): TelemetryPoint[] =>
  scenario.enterprises.flatMap((e) =>
    e.sites.flatMap((s) =>
      s.lines.flatMap((l) =>
        l.machines
          .filter((m) => `${e.id}/${s.id}/${l.id}/${m.id}` !== except)
          .map((m) => ({
            measurement: TELEMETRY_MEASUREMENT,
            tags: { enterprise: e.id, site: s.id, line: l.id, device: m.id },
            fields: { machine_state: 1, seq: 1 },
            ts,
          })),
      ),
    ),
  )

let dir: string
let store: TelemetryStore
let app: FastifyInstance
let events: MemoryEventLog
let clock = STOP + MIN

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-commission-api-'))
  store = createEmbeddedStore({ path: join(dir, 'db.sqlite') })
  await backfillScenario(scenario, store, { start: START, stop: STOP, stepMs: STEP, integrationMs: STEP, fields: 'core' })
  // The backfill writes meters and production counters; the OPC UA machines report here, 1 minute before the end.
  await store.write(machinePoints(STOP - MIN))
  events = new MemoryEventLog()
  const alert = (ts: number, enterprise: string, id: string, event: string) => ({
    kind: 'alert_event',
    ts,
    tags: { enterprise, site: 'x', line: 'y', device: 'z', rule: 'power-high', severity: 'warning', event },
    fields: { alert_id: id, value: 1, threshold: 0, message: 'test', user: '' },
  })
  // Steel: s1 acknowledged (open), s2 cleared → 1 open. Cement: c1 opened → 1. Auto parts: none.
  await events.append([
    alert(STOP - 50 * MIN, 'jiangcheng-steel', 's1', 'opened'),
    alert(STOP - 40 * MIN, 'jiangcheng-steel', 's1', 'acknowledged'),
    alert(STOP - 30 * MIN, 'jiangcheng-steel', 's2', 'opened'),
    alert(STOP - 20 * MIN, 'jiangcheng-steel', 's2', 'cleared'),
    alert(STOP - 10 * MIN, 'edong-cement', 'c1', 'opened'),
  ])
  app = await build({ store, plant, events, now: () => clock, commission: COMMISSION })
})

afterAll(async () => {
  await app?.close()
  await store?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

type Row = Record<string, string | number | boolean | null>
interface Detail {
  enterprise: string
  ncRate: number | null
  networkingRate: number | null
  keyEquipment: number
  ncCapable: number
  networked: number
  energyKwh: number
  qualifiedAs: string
  rank: number
  score: number
  rules: Array<{ rule: string; passed: boolean; conditions: Array<{ condition: string; passed: boolean; reason: string }> }>
  lines: Array<{ line: string; reference: string | null; grade: string | null; sec: number | null; secUnit: string; energyKwh: number; coverage: number }>
  equipment: Array<{ path: string; networked: boolean; ncCapable: boolean }>
}

const get = async <T>(url: string): Promise<T> => {
  const res = await app.inject({ method: 'GET', url })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

describe('commission scope over the hubei scenario (embedded store, build + inject)', () => {
  it('grades every benchmarked line as the scenario placed it, with SEC at its target', async () => {
    const targets = gradedTargets()
    // clinker-1 compliant, clinker-2 below_baseline, eaf-1 benchmark.
    expect([...targets.values()].map((t) => t.grade).sort()).toEqual(['below_baseline', 'benchmark', 'compliant'])
    const found = new Map<string, Detail['lines'][number]>()
    for (const e of scenario.enterprises) {
      const d = await get<Detail>(`/api/v1/commission/enterprises/${e.id}`)
      for (const l of d.lines) if (l.reference !== null) found.set(l.line, l)
    }
    expect([...found.keys()].sort()).toEqual([...targets.keys()].sort())
    for (const [line, t] of targets) {
      const l = found.get(line)
      expect(l?.grade, line).toBe(t.grade)
      expect(l?.secUnit).toBe(t.unit)
      expect(l?.coverage).toBeGreaterThan(0.99)
      // Targets (comprehensive energy, kgce/t): clinker-1 (100 + 117)/2 = 108.5; clinker-2 117 × 1.07 = 125.19; eaf-1 61 × 0.96 = 58.56.
      expect(Math.abs((l?.sec ?? 0) / t.sec - 1), line).toBeLessThan(0.01)
    }
  })

  it('NC rate = NC-capable key equipment / key equipment, as counted from the scenario', async () => {
    const { rows } = await get<{ rows: Row[] }>('/api/v1/commission/enterprises')
    expect(rows).toHaveLength(3)
    for (const e of scenario.enterprises) {
      const { key, nc } = scenarioFlags(e.id)
      const row = rows.find((r) => r.enterprise === e.id)
      expect(row?.keyEquipment, e.id).toBe(key.length)
      expect(row?.ncCapable, e.id).toBe(nc)
      expect(row?.ncRate, e.id).toBeCloseTo(nc / key.length, 12)
      // Every key device (meters from the backfill, machines written above) reported within 10 minutes.
      expect(row?.networkingRate, e.id).toBe(1)
    }
    // By hand from hubei.yaml: cement 5/10, steel 4/5, auto parts 9/11.
    expect(rows.map((r) => [r.enterprise, r.ncCapable, r.keyEquipment])).toEqual(
      expect.arrayContaining([
        ['edong-cement', 5, 10],
        ['jiangcheng-steel', 4, 5],
        ['hanjiang-autoparts', 9, 11],
      ]),
    )
  })

  it('qualifies by the default rules and says why; ranks by the composite score; counts open alerts', async () => {
    const { rows } = await get<{ rows: Row[] }>('/api/v1/commission/enterprises')
    // Scores (40·nc + 30·net + 30·grades): steel 32 + 30 + 30·1 = 92; auto parts no graded product:
    // (40·9/11 + 30)/70 × 100 = 89.61; cement grades (0.5 + 0)/2: 20 + 30 + 7.5 = 57.5.
    expect(rows.map((r) => [r.rank, r.enterprise, r.qualifiedAs, r.openAlerts])).toEqual([
      [1, 'jiangcheng-steel', 'smart_factory', 1],
      [2, 'hanjiang-autoparts', 'digital_workshop', 0],
      [3, 'edong-cement', 'none', 1],
    ])
    expect(rows[0]?.score).toBeCloseTo(92, 6)
    expect(rows[1]?.score).toBeCloseTo((((40 * 9) / 11 + 30) / 70) * 100, 6)
    expect(rows[2]?.score).toBeCloseTo(57.5, 6)
    expect(rows[2]).toMatchObject({ gradedProducts: 2, compliantGrades: 1, belowBaselineGrades: 1, benchmarkGrades: 0 })
    expect(rows[2]?.grades).toBe('edong-cement/huangshi/clinker-1/clinker: compliant; edong-cement/huangshi/clinker-2/clinker: below_baseline')
    // clinker-2 at 65.27 kWh/t against GB level 3 (61): +7.0 %.
    expect(rows[2]?.worstGapToBaselinePct).toBeCloseTo(7, 0)

    const auto = await get<Detail>('/api/v1/commission/enterprises/hanjiang-autoparts')
    const sf = auto.rules.find((r) => r.rule === 'smart_factory')
    expect(sf?.passed).toBe(false)
    expect(sf?.conditions.filter((c) => !c.passed)).toEqual([
      { condition: 'mesDeployed = true', passed: false, reason: 'mesDeployed not declared in enterprise.attributes' },
    ])
    const cement = await get<Detail>('/api/v1/commission/enterprises/edong-cement')
    expect(cement.rules.find((r) => r.rule === 'digital_workshop')?.conditions[0]).toEqual({
      condition: 'ncRate ≥ 0.7',
      passed: false,
      reason: 'ncRate 0.5 < 0.7',
    })
    expect(cement.rules.find((r) => r.rule === 'smart_factory')?.conditions.find((c) => c.condition.startsWith('every'))?.reason).toBe(
      'edong-cement/huangshi/clinker-2 (clinker): below_baseline',
    )

    const overview = await get<{ progress: Record<string, number>; grades: Record<string, number>; openAlerts: number; keyEquipment: number; ncRate: number }>(
      '/api/v1/commission/overview',
    )
    expect(overview.progress).toEqual({ target: 100, smartFactories: 1, digitalWorkshops: 1, qualified: 2, progressPct: 2 })
    expect(overview.grades).toEqual({ benchmark: 1, compliant: 1, below_baseline: 1, ungraded: 0 })
    expect(overview.openAlerts).toBe(2)
    // 18 of 26 key devices are NC-capable.
    expect(overview.keyEquipment).toBe(26)
    expect(overview.ncRate).toBeCloseTo(18 / 26, 12)
  })

  it('sorts the table by any column, nulls last', async () => {
    const byNc = await get<{ rows: Row[] }>('/api/v1/commission/enterprises?sort=ncRate&order=desc')
    expect(byNc.rows.map((r) => r.enterprise)).toEqual(['hanjiang-autoparts', 'jiangcheng-steel', 'edong-cement'])
    const byGap = await get<{ rows: Row[] }>('/api/v1/commission/enterprises?sort=worstGapToBaselinePct&order=asc')
    // steel (eaf-1 58.56 against 基准 = GB level 3 72 kgce/t: −18.7 %) before cement (+7.0 %); auto parts has no graded product → null → last.
    expect(byGap.rows.map((r) => r.enterprise)).toEqual(['jiangcheng-steel', 'edong-cement', 'hanjiang-autoparts'])
  })

  it('enterprise energy is the sum of its lines (main meters), and the drill-down lists key equipment', async () => {
    const steel = await get<Detail>('/api/v1/commission/enterprises/jiangcheng-steel')
    // Both steel lines have a product, so the lines make up the whole enterprise.
    expect(steel.energyKwh).toBeCloseTo(
      steel.lines.reduce((s, l) => s + l.energyKwh, 0),
      6,
    )
    expect(steel.energyKwh).toBeGreaterThan(0)
    expect(steel.equipment.map((x) => x.path).sort()).toEqual(scenarioFlags('jiangcheng-steel').key.sort())
  })

  it('networking rate drops when a key device stops reporting', async () => {
    const silent = 'edong-cement/huangshi/clinker-1/raw-mill'
    // Ten minutes after the end every key device but the raw mill reports again; two minutes later the
    // backfill's last samples are 17 minutes old (> 600 s) and the raw mill has nothing newer.
    const fresh: TelemetryPoint[] = []
    for (const e of scenario.enterprises) {
      for (const path of scenarioFlags(e.id).key) {
        if (path === silent) continue
        const [enterprise, site, line, device] = path.split('/') as [string, string, string, string]
        fresh.push({ measurement: TELEMETRY_MEASUREMENT, tags: { enterprise, site, line, device }, fields: { seq: 99_999 }, ts: STOP + 10 * MIN })
      }
    }
    await store.write(fresh)
    clock = STOP + 12 * MIN
    try {
      const cement = await get<Detail>('/api/v1/commission/enterprises/edong-cement')
      // 9 of 10 key devices networked.
      expect(cement.networked).toBe(9)
      expect(cement.networkingRate).toBeCloseTo(0.9, 12)
      expect(cement.equipment.filter((x) => !x.networked).map((x) => x.path)).toEqual([silent])
      const { rows } = await get<{ rows: Row[] }>('/api/v1/commission/enterprises')
      expect(rows.find((r) => r.enterprise === 'jiangcheng-steel')?.networkingRate).toBe(1)
      expect(rows.find((r) => r.enterprise === 'hanjiang-autoparts')?.networkingRate).toBe(1)
    } finally {
      clock = STOP + MIN
    }
  })

  it('bad input gets coded errors', async () => {
    const bad = async (url: string, status: number, code: string) => {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(status)
      expect(res.json().error.code, url).toBe(code)
    }
    await bad('/api/v1/commission/overview?period=last-year', 400, 'API_ERR_VALIDATION')
    await bad('/api/v1/commission/enterprises?sort=colour', 400, 'API_ERR_VALIDATION')
    await bad('/api/v1/commission/enterprises?start=2026-03-02', 400, 'API_ERR_VALIDATION')
    await bad('/api/v1/commission/enterprises?start=2026-03-09&stop=2026-03-02', 400, 'API_ERR_RANGE')
    await bad('/api/v1/commission/enterprises?start=2020-01-01&stop=2026-03-02', 400, 'API_ERR_RANGE_TOO_LARGE')
    await bad('/api/v1/commission/enterprises?start=yesterday&stop=2026-03-02', 400, 'API_ERR_VALIDATION')
    await bad('/api/v1/commission/enterprises/no-such-works', 404, 'API_ERR_NOT_FOUND')
    await bad('/api/v1/commission/enterprises/Bad_Id', 400, 'API_ERR_VALIDATION')
    await bad('/api/v1/commission/overview?colour=red', 400, 'API_ERR_VALIDATION')
  })

  it('a custom period (start/stop) is honoured: one day of the week', async () => {
    const d = await get<Detail & { period: { start: number; end: number } }>('/api/v1/commission/enterprises/edong-cement?start=2026-03-03&stop=2026-03-04')
    expect(d.period).toMatchObject({ start: START + 86_400_000, end: START + 2 * 86_400_000 })
    // clinker-1 runs continuously (5000 t/d line at 12 500 kW rated × 0.92): about 12.5 MW × 24 h ≈ 276 MWh a day.
    const c1 = d.lines.find((l) => l.line.endsWith('clinker-1'))
    expect(c1?.energyKwh).toBeGreaterThan(0.9 * 12_500 * 0.92 * 24)
    expect(c1?.energyKwh).toBeLessThan(1.1 * 12_500 * 0.92 * 24)
  })

  it('a bad commission config stops build() with CORE_ERR_CONFIG', async () => {
    const attempt = build({ store, plant, commission: { rules: { smartFactory: [{ metric: 'ncRate' }] } } })
    await expect(attempt).rejects.toSatisfy((err: unknown) => isPlantWattError(err, 'CORE_ERR_CONFIG'))
  })

  it('is in the OpenAPI document with descriptions', async () => {
    const doc = await get<{ paths: Record<string, { get?: { summary?: string; parameters?: Array<{ name: string; description?: string }> } }> }>('/docs/json')
    for (const p of ['/api/v1/commission/overview', '/api/v1/commission/enterprises', '/api/v1/commission/enterprises/{enterprise}']) {
      expect(doc.paths[p]?.get?.summary, p).toBeTruthy()
    }
    const sort = doc.paths['/api/v1/commission/enterprises']?.get?.parameters?.find((x) => x.name === 'sort')
    expect(sort?.description).toContain('column')
  })
})

/**
 * Role and tenant isolation. Until api/auth.ts authenticates (every request is an anonymous admin for
 * now), the routes are mounted on a bare Fastify with the same error handling, and the principal is
 * taken from a test header — the routes' own checks are what is under test.
 */
describe('commission roles and tenant scope', () => {
  let roleApp: FastifyInstance
  beforeAll(async () => {
    // Only what the commission routes read; the cast keeps this harness independent of other context fields.
    const used: Pick<ApiContext, 'store' | 'plant' | 'model' | 'events' | 'config' | 'now' | 'commission'> = {
      store,
      plant: new PlantIndex(plant),
      model: plant,
      events,
      config: resolveApiConfig(),
      now: () => STOP + MIN,
      commission: COMMISSION,
    }
    const ctx = used as unknown as ApiContext
    const a = Fastify({
      ajv: { customOptions: { removeAdditional: false } },
      schemaErrorFormatter: formatValidationErrors,
    }).withTypeProvider<TypeBoxTypeProvider>()
    a.setErrorHandler((err: FastifyError, _req, reply) => {
      const { statusCode, body } = toErrorReply(err)
      return reply.code(statusCode).send(body)
    })
    a.decorateRequest('principal', null as unknown as Principal)
    a.addHook('onRequest', async (req) => {
      req.principal = JSON.parse(String(req.headers['x-test-principal'])) as Principal
    })
    await a.register(commissionRoutes, { ctx, prefix: '/api/v1' })
    await a.ready()
    roleApp = a as unknown as FastifyInstance
  })
  afterAll(async () => {
    await roleApp?.close()
  })

  const as = (p: Principal, url: string) => roleApp.inject({ method: 'GET', url, headers: { 'x-test-principal': JSON.stringify(p) } })
  const commission: Principal = { id: 'c', role: 'commission' }
  const admin: Principal = { id: 'a', role: 'admin' }
  const engineer: Principal = { id: 'e', role: 'engineer', enterprise: 'hanjiang-autoparts' }
  const operator: Principal = { id: 'o', role: 'operator', enterprise: 'edong-cement' }

  it('commission and admin see every enterprise and the overview', async () => {
    for (const p of [commission, admin]) {
      const list = await as(p, '/api/v1/commission/enterprises')
      expect(list.statusCode).toBe(200)
      expect(
        list
          .json()
          .rows.map((r: Row) => r.enterprise)
          .sort(),
      ).toEqual(['edong-cement', 'hanjiang-autoparts', 'jiangcheng-steel'])
      expect((await as(p, '/api/v1/commission/overview')).statusCode).toBe(200)
      expect((await as(p, '/api/v1/commission/enterprises/edong-cement')).statusCode).toBe(200)
    }
  })

  it('an enterprise user sees only their own enterprise; others answer as unknown; no overview', async () => {
    const list = await as(engineer, '/api/v1/commission/enterprises')
    expect(list.statusCode).toBe(200)
    // Their own row, with the province-wide rank.
    expect(list.json().rows.map((r: Row) => [r.enterprise, r.rank])).toEqual([['hanjiang-autoparts', 2]])
    expect((await as(engineer, '/api/v1/commission/enterprises/hanjiang-autoparts')).json().enterprise).toBe('hanjiang-autoparts')
    const other = await as(engineer, '/api/v1/commission/enterprises/edong-cement')
    const unknown = await as(engineer, '/api/v1/commission/enterprises/no-such-works')
    expect([other.statusCode, unknown.statusCode]).toEqual([404, 404])
    expect(other.json()).toEqual({ error: { code: 'API_ERR_NOT_FOUND', message: 'no enterprise "edong-cement"' } })
    expect(unknown.json()).toEqual({ error: { code: 'API_ERR_NOT_FOUND', message: 'no enterprise "no-such-works"' } })
    for (const p of [engineer, operator]) {
      const res = await as(p, '/api/v1/commission/overview')
      expect(res.statusCode).toBe(403)
      expect(res.json().error.code).toBe('API_ERR_FORBIDDEN')
    }
    const op = await as(operator, '/api/v1/commission/enterprises')
    expect(op.json().rows.map((r: Row) => r.enterprise)).toEqual(['edong-cement'])
  })
})
