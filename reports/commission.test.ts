import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { findBenchmark, type BenchmarkProduct } from '../analytics/index.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import {
  commissionPeriod,
  commissionReport,
  compositeScore,
  DEFAULT_DIGITAL_WORKSHOP,
  DEFAULT_SMART_FACTORY,
  gradeAgainstReference,
  lineSecGrades,
  openAlertCounts,
  resolveCommissionConfig,
  type LineSec,
} from './commission.ts'

const TZ = 'Asia/Shanghai'
// 2026-03-10 00:01 in Shanghai (UTC+8, no DST), a Tuesday.
const NOW = Date.UTC(2026, 2, 9, 16, 1)
const local = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - 8 * 3_600_000

describe('commission period', () => {
  it('is the last complete month, ISO week or day in the plant time zone', () => {
    expect(commissionPeriod(NOW, 'last-month', TZ)).toEqual({ start: local(2026, 2, 1), end: local(2026, 3, 1) })
    // Tuesday 03-10: this week began Monday 03-09, the last complete one is 03-02 … 03-09.
    expect(commissionPeriod(NOW, 'last-week', TZ)).toEqual({ start: local(2026, 3, 2), end: local(2026, 3, 9) })
    expect(commissionPeriod(NOW, 'last-day', TZ)).toEqual({ start: local(2026, 3, 9), end: local(2026, 3, 10) })
    // January: the month before is December of the year before; a Monday's last week ends that Monday.
    expect(commissionPeriod(local(2026, 1, 5) + 60_000, 'last-month', TZ)).toEqual({ start: local(2025, 12, 1), end: local(2026, 1, 1) })
    expect(commissionPeriod(local(2026, 1, 5) + 60_000, 'last-week', TZ)).toEqual({ start: local(2025, 12, 29), end: local(2026, 1, 5) })
    // A Sunday: the week that ended the Monday before.
    expect(commissionPeriod(local(2026, 3, 8) + 3_600_000, 'last-week', TZ)).toEqual({ start: local(2026, 2, 23), end: local(2026, 3, 2) })
  })
})

describe('grade against the reference', () => {
  it('uses NDRC 标杆/基准 where published', () => {
    // cement-clinker: 标杆 100, 基准 117 kgce/t. 110 → compliant; gaps (110−100)/100 = +10 %, (110−117)/117 = −5.983 %.
    const g = gradeAgainstReference(110, findBenchmark('cement-clinker'))
    expect(g).toMatchObject({ grade: 'compliant', basis: 'ndrc', benchmark: 100, baseline: 117 })
    expect(g.gapToBenchmarkPct).toBeCloseTo(10, 9)
    expect(g.gapToBaselinePct).toBeCloseTo(-5.983, 3)
    // Converter steelmaking is negative (标杆 −30, 基准 −10): −20 → compliant, gap (−20+30)/30 = +33.33 %.
    const c = gradeAgainstReference(-20, findBenchmark('converter-steelmaking'))
    expect(c.grade).toBe('compliant')
    expect(c.gapToBenchmarkPct).toBeCloseTo(33.333, 3)
    expect(gradeAgainstReference(100, findBenchmark('cement-clinker')).grade).toBe('benchmark')
    expect(gradeAgainstReference(117.01, findBenchmark('cement-clinker')).grade).toBe('below_baseline')
  })

  it('falls back to GB level 1 / level 3 without NDRC levels', () => {
    // cement-clinker-electricity: GB 48 / 57 / 61 kWh/t. 54.5 → compliant; gaps +13.542 %, −10.656 %.
    const g = gradeAgainstReference(54.5, findBenchmark('cement-clinker-electricity'))
    expect(g).toMatchObject({ grade: 'compliant', basis: 'gb', benchmark: 48, baseline: 61 })
    expect(g.gapToBenchmarkPct).toBeCloseTo(13.542, 3)
    expect(g.gapToBaselinePct).toBeCloseTo(-10.656, 3)
    expect(gradeAgainstReference(48, findBenchmark('cement-clinker-electricity')).grade).toBe('benchmark')
    expect(gradeAgainstReference(61.5, findBenchmark('cement-clinker-electricity')).grade).toBe('below_baseline')
    const bare: BenchmarkProduct = { id: 'x', name: 'x', indicator: 'x', unit: 'kWh/t', source: 'test' } as BenchmarkProduct
    expect(gradeAgainstReference(1, bare)).toMatchObject({ grade: null, basis: null })
  })
})

describe('commission config', () => {
  it('fills defaults', () => {
    const c = resolveCommissionConfig()
    expect(c).toMatchObject({ target: 100, networkingWindowS: 300, period: 'last-month', ranking: { ncRate: 40, networkingRate: 30, grades: 30 } })
    expect(c.rules.smartFactory).toEqual(DEFAULT_SMART_FACTORY)
    expect(c.rules.digitalWorkshop).toEqual(DEFAULT_DIGITAL_WORKSHOP)
  })

  it('rejects bad keys, a metric without bounds and all-zero weights with CORE_ERR_CONFIG', () => {
    const fails = (input: unknown, text: string) => {
      try {
        resolveCommissionConfig(input as never)
        throw new Error('accepted')
      } catch (err) {
        expect(isPlantWattError(err, 'CORE_ERR_CONFIG')).toBe(true)
        expect((err as Error).message).toContain(text)
      }
    }
    fails({ target: 0 }, '/target')
    fails({ targte: 100 }, '/targte')
    fails({ rules: { smartFactory: [{ metric: 'ncRate' }] } }, '/rules/smartFactory/0: a metric condition needs min or max')
    fails({ rules: { digitalWorkshop: [{ metric: 'speed', min: 1 }] } }, '/rules/digitalWorkshop/0')
    fails({ ranking: { ncRate: 0, networkingRate: 0, grades: 0 } }, '/ranking: at least one weight must be > 0')
  })

  it('examples/commission.yaml is a valid commission section', () => {
    const file = fileURLToPath(new URL('../examples/commission.yaml', import.meta.url))
    const raw = parseYaml(readFileSync(file, 'utf8')) as { commission: unknown }
    const c = resolveCommissionConfig(raw.commission as never, file)
    expect(c.target).toBe(100)
    expect(c.rules.smartFactory.length).toBeGreaterThan(0)
    expect(c.rules.digitalWorkshop.length).toBeGreaterThan(0)
  })
})

describe('composite score', () => {
  const line = (grade: LineSec['grade'], reference: string | null = 'r') => ({ reference, grade }) as LineSec
  const w = { ncRate: 40, networkingRate: 30, grades: 30 }
  it('weights NC rate, networking and grades, dropping what an enterprise has nothing for', () => {
    // (40·0.8 + 30·1 + 30·1) / 100 × 100 = 92
    expect(compositeScore({ ncRate: 0.8, networkingRate: 1, lines: [line('benchmark'), line(null, null)] }, w)).toBeCloseTo(92, 9)
    // grades (0.5 + 0)/2 = 0.25: 40·0.5 + 30·1 + 30·0.25 = 57.5
    expect(compositeScore({ ncRate: 0.5, networkingRate: 1, lines: [line('compliant'), line('below_baseline')] }, w)).toBeCloseTo(57.5, 9)
    // no graded product: (40·0.9 + 30·0.6) / 70 × 100 = 77.142857
    expect(compositeScore({ ncRate: 0.9, networkingRate: 0.6, lines: [] }, w)).toBeCloseTo(77.142857, 5)
    expect(compositeScore({ ncRate: null, networkingRate: null, lines: [] }, w)).toBe(0)
  })
})

describe('open alerts', () => {
  it('counts alerts whose newest event is not cleared, per enterprise', async () => {
    const log = new MemoryEventLog()
    const ev = (ts: number, enterprise: string, id: string, event: string) => ({
      kind: 'alert_event',
      ts,
      tags: { enterprise, site: 's', line: 'l', device: 'd', rule: 'r', severity: 'warning', event },
      fields: { alert_id: id, value: 1 },
    })
    await log.append([
      ev(1, 'a', 'a1', 'opened'),
      ev(2, 'a', 'a1', 'acknowledged'),
      ev(3, 'a', 'a2', 'opened'),
      ev(4, 'a', 'a2', 'cleared'),
      ev(5, 'b', 'b1', 'opened'),
      ev(6, 'c', 'c1', 'opened'),
    ])
    // a: a1 acknowledged (open), a2 cleared → 1; b: 1; c is not asked for; d has none.
    expect(Object.fromEntries(await openAlertCounts(log, ['a', 'b', 'd']))).toEqual({ a: 1, b: 1, d: 0 })
    expect(Object.fromEntries(await openAlertCounts(undefined, ['a']))).toEqual({ a: 0 })
  })
})

// One day of 1-minute data on a small plant, into the embedded store.
const DAY0 = local(2026, 3, 2)
const model: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: TZ,
    enterprises: [
      {
        id: 'acme',
        name: 'Acme',
        attributes: { mesDeployed: true },
        sites: [
          {
            id: 'w',
            lines: [
              {
                id: 'a',
                mainMeter: 'main',
                product: { id: 'clinker', unit: 't', productionDevice: 'plc', benchmark: 'cement-clinker-electricity' },
                devices: [{ id: 'main' }, { id: 'mill', keyEquipment: true, ncCapable: true }, { id: 'plc', kind: 'plc' }],
              },
              {
                id: 'b',
                mainMeter: 'main',
                product: { id: 'clinker', unit: 't', productionDevice: 'plc', benchmark: 'cement-clinker' },
                devices: [{ id: 'main' }, { id: 'fan', keyEquipment: true }, { id: 'plc', kind: 'plc' }],
              },
              {
                id: 'c',
                mainMeter: 'main',
                product: { id: 'part', unit: 'pcs', productionDevice: 'plc', benchmark: 'cement-clinker' },
                devices: [{ id: 'main' }, { id: 'plc', kind: 'plc' }, { id: 'cnc', kind: 'machine', keyEquipment: true, ncCapable: true }],
              },
            ],
          },
        ],
      },
      { id: 'empty', sites: [] },
    ],
  },
  'test plant',
)

/**
 * Per minute m of the day (0 … 1440): every main meter 100 kW → 100·m/60 kWh (2400 kWh a day);
 * line a: 1 t/h (24 t), line b: 0.125 t/h (3 t), line c: 10 pcs/h (240 pcs); mill and fan send seq.
 */
function day(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  const tags = (line: string, device: string) => ({ enterprise: 'acme', site: 'w', line, device })
  for (let m = 0; m <= 1440; m++) {
    const ts = DAY0 + m * 60_000
    for (const line of ['a', 'b', 'c'])
      pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags(line, 'main'), fields: { energy_import_kwh: (100 * m) / 60, seq: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('a', 'plc'), fields: { output_t: m / 60, seq: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('b', 'plc'), fields: { output_t: (0.125 * m) / 60, seq: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('c', 'plc'), fields: { output_count: Math.floor(m / 6), seq: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('a', 'mill'), fields: { active_power_kw: 40, seq: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('b', 'fan'), fields: { active_power_kw: 20, seq: m }, ts })
  }
  return pts
}

describe('per-line SEC and the commission report on the embedded store', () => {
  let dir: string
  let store: TelemetryStore
  const range = { start: DAY0, end: DAY0 + 86_400_000 }
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-commission-'))
    store = createEmbeddedStore({ path: join(dir, 'db.sqlite') })
    await store.write(day())
  })
  afterAll(async () => {
    await store?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('SEC = line energy / output, in the reference unit, graded', async () => {
    const lines = await lineSecGrades({ store, model, now: () => range.end + 60_000 }, 'acme', range)
    const [a, b, c] = lines as [LineSec, LineSec, LineSec]
    // a: 2400 kWh / 24 t = 100 kWh/t > GB level 3 (61) → below_baseline; gap (100 − 61)/61 = +63.934 %.
    expect(a.energyKwh).toBeCloseTo(2400, 6)
    expect(a.output).toBeCloseTo(24, 6)
    expect(a).toMatchObject({ secUnit: 'kWh/t', grade: 'below_baseline', basis: 'gb', coverage: 1 })
    expect(a.sec).toBeCloseTo(100, 6)
    expect(a.gapToBaselinePct).toBeCloseTo(63.934, 3)
    // b: clinker 综合能耗 counts the kiln's fuel; with electricity alone (2400 kWh / 3 t) it is not graded, and says why.
    expect(b).toMatchObject({ grade: null, basis: null })
    expect(b.note).toMatch(/^燃料未计量 \/ fuel not metered/)
    expect(b.sec).toBeCloseTo(800, 6)
    // c: counted in pieces but referenced per tonne: no grade, SEC in kWh/pcs (2400 / 240 = 10), and why.
    expect(c).toMatchObject({ grade: null, secUnit: 'kWh/pcs' })
    expect(c.note).toContain('pieces')
    expect(c.sec).toBeCloseTo(10, 6)
  })

  it('commission report: rates, energy, qualification; an enterprise without sites is all zero', async () => {
    // now = 1 h after the last sample; a 2-hour window sees mill and fan, the CNC never reported.
    const config = resolveCommissionConfig({ networkingWindowS: 7200 })
    const r = await commissionReport({ store, model, now: () => range.end + 3_600_000 }, config, range)
    const acme = r.enterprises.find((e) => e.enterprise === 'acme')
    expect(acme).toMatchObject({ keyEquipment: 3, ncCapable: 2, networked: 2, attributes: { mesDeployed: true } })
    expect(acme?.ncRate).toBeCloseTo(2 / 3, 12)
    expect(acme?.networkingRate).toBeCloseTo(2 / 3, 12)
    expect(acme?.equipment.map((x) => [x.device, x.networked])).toEqual([
      ['mill', true],
      ['fan', true],
      ['cnc', false],
    ])
    // 3 lines × 2400 kWh = 7200 kWh = 7200 × 0.1229 / 1000 = 0.88488 tce.
    expect(acme?.energyKwh).toBeCloseTo(7200, 6)
    expect(acme?.energyTce).toBeCloseTo(0.88488, 9)
    // NC 0.667 < 0.7 fails both default rules.
    expect(acme?.qualifiedAs).toBe('none')
    expect(acme?.rules[1]?.conditions[0]).toEqual({ condition: 'ncRate ≥ 0.7', passed: false, reason: 'ncRate 0.6667 < 0.7' })
    const empty = r.enterprises.find((e) => e.enterprise === 'empty')
    expect(empty).toMatchObject({ keyEquipment: 0, ncRate: null, networkingRate: null, energyKwh: 0, lines: [], qualifiedAs: 'none', score: 0, rank: 2 })
    expect(r.progress).toEqual({ target: 100, smartFactories: 0, digitalWorkshops: 0, qualified: 0, progressPct: 0 })
    // With a 10-minute window nothing is networked any more (newest samples are 60 minutes old).
    const later = await commissionReport({ store, model, now: () => range.end + 3_600_000 }, resolveCommissionConfig({ networkingWindowS: 600 }), range)
    expect(later.enterprises.find((e) => e.enterprise === 'acme')?.networkingRate).toBe(0)
  })

  it('a product naming an unknown benchmark is reported on the lines, not as a failed report', async () => {
    const acme = model.enterprises[0] as PlantModel['enterprises'][number]
    const site = acme.sites[0] as (typeof acme.sites)[number]
    const badLine = {
      ...(site.lines[0] as (typeof site.lines)[number]),
      product: { id: 'clinker', unit: 't' as const, productionDevice: 'plc', benchmark: 'no-such-product' },
    }
    const odd: PlantModel = { ...model, enterprises: [{ ...acme, sites: [{ ...site, lines: [badLine] }] }] }
    const r = await commissionReport({ store, model: odd, now: () => range.end + 60_000 }, resolveCommissionConfig(), range)
    const line = r.enterprises[0]?.lines[0]
    expect(line).toMatchObject({ grade: null, sec: null })
    expect(line?.note).toContain('no-such-product')
    // The enterprise's energy (line a's main meter, 2400 kWh) is still there.
    expect(r.enterprises[0]?.energyKwh).toBeCloseTo(2400, 6)
  })

  it('reads the counters of all enterprises together: the store queries do not grow with the enterprises', async () => {
    let queries = 0
    const spy: TelemetryStore = {
      ...store,
      backend: store.backend,
      aggregate: (q) => (queries++, store.aggregate(q)),
      latest: (q) => (queries++, store.latest(q)),
    }
    const acme = model.enterprises[0] as PlantModel['enterprises'][number]
    const bigger: PlantModel = { ...model, enterprises: [...model.enterprises, { ...acme, id: 'acme-2' }, { ...acme, id: 'acme-3' }] }
    const count = async (m: PlantModel): Promise<number> => {
      queries = 0
      await commissionReport({ store: spy, model: m, now: () => range.end + 60_000 }, resolveCommissionConfig(), range)
      return queries
    }
    const one = await count(model)
    expect(await count(bigger)).toBe(one)
  })
})
