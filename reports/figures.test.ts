import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore, createInfluxStore, type TelemetryStore } from '../storage/index.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { isPlantWattError } from '../core/errors.ts'
import { energyReport, type ReportDeps } from './energy.ts'
import { costReport, tariffOfLine } from './cost.ts'
import { carbonReport } from './carbon.ts'
import { demandReport } from './demand.ts'
import { secReport } from './sec.ts'
import { monthlyReport } from './monthly.ts'
import { counterRollup } from './counter-rollup.ts'
import { allLines, parseScope } from './scope.ts'
import { AFTER, APRIL, H, MAR2, MARCH, model, points } from './testing/figures-fixture.ts'

// Hubei 1–10 kV single-part (other months): valley 00–06, 12–14 · flat 06–12, 14–16 · peak 16–18, 20–24 · critical 18–20.
const SINGLE = { critical_peak: 1.113999, peak: 0.910961, flat: 0.715686, valley: 0.496924 }
const TWO = { critical_peak: 1.049999, peak: 0.848961, flat: 0.651886, valley: 0.432924 }
const day = { start: MAR2, end: MAR2 + 24 * H }
const march = { start: MARCH, end: APRIL }

function suite(name: string, open: () => Promise<TelemetryStore>, rollup: boolean) {
  describe(`report figures on ${name}${rollup ? ' (roll-up)' : ''}`, () => {
    let store: TelemetryStore
    let deps: ReportDeps
    beforeAll(async () => {
      store = await open()
      await store.write(points())
      deps = { store, model, now: () => AFTER, ...(rollup ? { rollup: counterRollup() } : {}) }
    }, 60_000)
    afterAll(async () => store?.close())

    it('cost of a day straddling every period, with a counter reset at the flat → valley boundary', async () => {
      const r = await costReport(deps, parseScope('acme/w1/l1'), day, 'day')
      // 100 kW all day. Readings are quarter-hour firsts: 11:45 reads 1175, 12:00 reads 0 (reset) →
      // the 11:45–12:00 increment is 0: 25 kWh of flat are lost.
      //   valley 00–06 + 12–14 = 8 h = 800 kWh × 0.496924 = 397.5392
      //   flat   06–12 + 14–16 = 8 h − 25 = 775 kWh × 0.715686 = 554.65665
      //   peak   16–18 + 20–24 = 6 h = 600 kWh × 0.910961 = 546.5766
      //   crit   18–20         = 2 h = 200 kWh × 1.113999 = 222.7998
      //   total 2375 kWh, 1721.57225 CNY
      const by = Object.fromEntries(r.rows.map((x) => [x.period, x]))
      expect(by.valley?.energyKwh).toBeCloseTo(800, 6)
      expect(by.flat?.energyKwh).toBeCloseTo(775, 6)
      expect(by.peak?.energyKwh).toBeCloseTo(600, 6)
      expect(by.critical_peak?.energyKwh).toBeCloseTo(200, 6)
      expect(by.flat?.pricePerKwh).toBeCloseTo(SINGLE.flat, 9)
      expect(by.flat?.cost).toBeCloseTo(554.65665, 6)
      expect(r.totalCost).toBeCloseTo(1721.57225, 6)
      expect(r.demandCharge).toBe(0)
      expect(r.rows.every((x) => x.version === 'hubei-2026-01-single' && x.tariff === 'hubei-industrial-single-part-1-10kv')).toBe(true)
      expect(r.tariffs[0]?.chosenBy).toBe('region-default')
      expect(r.tariffs[0]?.versions[0]?.source).toContain('鄂发改价管〔2024〕77号')
    })

    it("two-part tariff, a day: energy by period; the month's demand charge is implied, not added to the day", async () => {
      const r = await costReport(deps, parseScope('acme/w2'), day, 'total')
      // 100 kW, 300 kW 10:00–11:00: valley 800, flat 600 + 200 (extra) + 200 = 1000, peak 600, crit 200 kWh.
      //   800 × 0.432924 + 1000 × 0.651886 + 600 × 0.848961 + 200 × 1.049999 = 1717.6016
      //   demand to the day's end: 75 kWh per quarter 10:00–11:00 / 0.25 h = 300 kW × 42 = 12600 — implied only.
      expect(r.energyKwh).toBeCloseTo(2600, 6)
      expect(r.energyCost).toBeCloseTo(800 * TWO.valley + 1000 * TWO.flat + 600 * TWO.peak + 200 * TWO.critical_peak, 6)
      expect(r.energyCost).toBeCloseTo(1717.6016, 6)
      expect(r.demandCharge).toBe(0)
      expect(r.totalCost).toBeCloseTo(1717.6016, 6)
      expect(r.rows.find((x) => x.period === 'demand_charge')).toBeUndefined()
      expect(r.months[0]).toMatchObject({ account: 'acme/w2/implicit', demandStatus: 'partial-range', demandCharge: null, maxDemandAt: MAR2 + 10 * H })
      expect(r.months[0]?.impliedDemandCharge).toBeCloseTo(12600, 6)
      expect(r.months[0]?.demandBasis).toContain('not in the totals')
      expect(r.tariffs[0]).toMatchObject({ chosenBy: 'configured', account: 'acme/w2/implicit', accountOrigin: 'implicit-lines' })
    })

    it('two-part tariff, the whole month: the demand charge is billed once, in the month', async () => {
      const r = await costReport(deps, parseScope('acme/w2'), march, 'month')
      // The month's maximum is still the 300 kW of 2 March: 300 × 42 = 12600 in the totals, one demand_charge row.
      expect(r.demandCharge).toBeCloseTo(12600, 6)
      expect(r.months[0]).toMatchObject({ demandStatus: 'billed', pfAdjustment: null })
      expect(r.totalCost).toBeCloseTo(r.energyCost + 12600, 6)
      expect(r.rows.filter((x) => x.period === 'demand_charge').map((x) => [x.bucket, x.demandKw])).toEqual([['2026-03', expect.closeTo(300, 6)]])
    })

    it('a month: the gap is still costed (the counter proves the energy) but shows in coverage', async () => {
      const e = await energyReport(deps, parseScope('acme/w1/l1'), march, 'month')
      // 31 d × 2400 kWh − 25 kWh lost at the reset = 74375 kWh; coverage (744 − 48 − ¼) / 744 h: the
      // reset is unexplained (no meter event), so its quarter has no coverage.
      expect(e.rows).toHaveLength(1)
      expect(e.energyKwh).toBeCloseTo(74375, 6)
      expect(e.coverage).toBeCloseTo(695.75 / 744, 9)
      const c = await costReport(deps, parseScope('acme/w1/l1'), march, 'month')
      // A full day costs 800 × valley + 800 × flat + 600 × peak + 200 × crit = 1739.4644; 31 days less 25 kWh of flat.
      expect(c.totalCost).toBeCloseTo(31 * 1739.4644 - 25 * SINGLE.flat, 5)
    })

    it('CO2 with the Hubei factor of the newest year ≤ 2026 (2022: 0.4364), kgce by GB/T 2589', async () => {
      const r = await carbonReport(deps, parseScope('acme/w1/l1'), march, 'month')
      // 74375 kWh × 0.4364 = 32457.25 kg; × 0.1229 = 9140.6875 kgce.
      expect(r.kgCo2).toBeCloseTo(32457.25, 5)
      expect(r.kgce).toBeCloseTo(9140.6875, 5)
      expect(r.rows[0]).toMatchObject({ factorRegion: 'hubei', factorYear: 2022, kgCo2PerKwh: 0.4364, factorVerified: true })
      expect(r.factors[0]?.requested).toEqual({ region: 'hubei', year: 2026 })
      expect(r.coal.kgcePerUnit).toBe(0.1229)
    })

    it('15-minute demand against the contracted demand', async () => {
      const r = await demandReport(deps, parseScope('acme/w2/p1'), day, '15m')
      expect(r.rows).toHaveLength(96)
      expect(r.rows[40]).toMatchObject({ maxDemandKw: expect.closeTo(300, 6), start: MAR2 + 10 * H, overContract: true, contractedDemandKw: 250 })
      expect(r.rows[0]?.maxDemandKw).toBeCloseTo(100, 6)
      const d = await demandReport(deps, parseScope('acme/w2'), day, 'day')
      expect(d.rows).toHaveLength(1)
      expect(d.rows[0]?.maxDemandKw).toBeCloseTo(300, 6)
      expect(d.rows[0]?.contractRatio).toBeCloseTo(1.2, 9)
      expect(d.months).toEqual([
        { month: '2026-03', maxDemandKw: expect.closeTo(300, 6), maxAt: MAR2 + 10 * H, coverage: 1, contractedDemandKw: 250, overContract: true },
      ])
    })

    it('SEC per line graded against the cement clinker benchmark (kgce/t)', async () => {
      const r = await secReport(deps, parseScope('acme'), march, 'month')
      // 74375 kWh / 89.28 t (744 h × 0.12 t/h) = 833.0533 kWh/t. Clinker 综合能耗 counts the kiln's fuel:
      // with electricity alone the line is not graded on it (issue 15), and says why.
      expect(r.rows).toHaveLength(1)
      const s = r.rows[0]
      expect(s?.output).toBeCloseTo(89.28, 6)
      expect(s?.secKwhPerUnit).toBeCloseTo(74375 / 89.28, 6)
      expect(s?.value).toBeNull()
      expect(s?.grade).toBeNull()
      expect(s?.ungraded?.code).toBe('CARRIER_NOT_METERED')
      expect(s?.note).toMatch(/^燃料未计量 \/ fuel not metered: raw-coal/)
      // 74375 × 0.1229 / 89.28 = 102.3823 kgce/t over the carriers it has (electricity), shown but not graded.
      expect(s?.secKgcePerT).toBeCloseTo(102.3822525, 5)
      // 综合电耗 is graded in kWh/t: 833.05 is above GB level 3 (61, the 限定值); no NDRC levels.
      expect(s?.indicators[1]).toMatchObject({ product: 'cement-clinker-electricity', unit: 'kWh/t', ndrc: null, gb: { level: null, withinLimit: false } })
      expect(s?.indicators[1]?.value).toBeCloseTo(74375 / 89.28, 6)
      // The day of the reset: 2375 kWh / 2.88 t = 824.6528 kWh/t.
      const d = await secReport(deps, parseScope('acme/w1/l1'), day, 'day')
      expect(d.rows[0]?.indicators[1]?.value).toBeCloseTo(2375 / 2.88, 6)
    })

    it('the monthly report puts energy, cost, CO2 and SEC of a month in one row', async () => {
      const r = await monthlyReport(deps, parseScope('acme/w1/l1'), march)
      expect(r.rows).toHaveLength(1)
      const m = r.rows[0]
      expect(m).toMatchObject({ month: '2026-03', grade: null, secValue: null, demandCharge: 0 })
      expect(m?.energyKwh).toBeCloseTo(74375, 6)
      expect(m?.coverage).toBeCloseTo(695.75 / 744, 9)
      expect(m?.totalCost).toBeCloseTo(31 * 1739.4644 - 25 * SINGLE.flat, 5)
      expect(m?.kgCo2).toBeCloseTo(32457.25, 5)
      // The month's ungraded indicator carries its reason in the SEC rows.
      expect(r.sec[0]?.ungraded?.code).toBe('CARRIER_NOT_METERED')
      expect(r.tariffs[0]?.versions[0]?.id).toBe('hubei-2026-01-single')
    })
  })
}

suite('embedded', async () => createEmbeddedStore({ path: ':memory:' }), false)
const dir = mkdtempSync(join(tmpdir(), 'pw-reports-figures-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
suite('embedded', async () => createEmbeddedStore({ path: join(dir, 'telemetry.db') }), true)
let influx: RunningInfluxd | undefined
suite(
  'influxdb',
  async () => {
    influx = await startInfluxd()
    return createInfluxStore({ backend: 'influxdb', url: influx.url, database: influx.database, createDatabase: true, timeoutMs: 10_000 })
  },
  true,
)
afterAll(async () => influx?.stop())

describe('tariff of a line', () => {
  it('site.tariff, else the region single-part tariff; an unknown id is ANALYTICS_ERR_TARIFF', () => {
    const lines = allLines(model)
    expect(tariffOfLine(lines[0] as (typeof lines)[number]).tariff.id).toBe('hubei-industrial-single-part-1-10kv')
    expect(tariffOfLine(lines[1] as (typeof lines)[number]).tariff.id).toBe('hubei-industrial-two-part-1-10kv')
    try {
      tariffOfLine({ ...(lines[0] as (typeof lines)[number]), tariff: 'nope' })
      expect.unreachable()
    } catch (err) {
      expect(isPlantWattError(err, 'ANALYTICS_ERR_TARIFF')).toBe(true)
    }
  })
})
