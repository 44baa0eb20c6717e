import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { accountsOf, tariffOfAccount } from './accounts.ts'
import { billOfAccount } from './bill.ts'
import { costReport } from './cost.ts'
import { demandReport } from './demand.ts'
import type { ReportDeps } from './energy.ts'
import { APRIL, billModel, billPoints, MARCH, MELT_FROM, MIN } from './testing/bill-fixture.ts'

/**
 * Hand-worked bills of the two accounts of reports/testing/bill-fixture.ts (Hubei two-part 1–10 kV,
 * January 2026 prices: valley 0.432924, flat 0.651886, peak 0.848961, critical 1.049999; demand 42/kW·month).
 * March (other-months season) per day: valley 8 h, flat 8 h, peak 6 h, critical 2 h; 31 days.
 */
const TWO_PART = 'hubei-industrial-two-part-1-10kv'

function problemOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return isPlantWattError(err) ? { code: err.code, ...(err.details as object) } : String(err)
  }
  return 'no error'
}

describe('supply accounts', () => {
  it('two configured accounts on one tariff; a site without accounts is one implicit account of its lines', () => {
    const accounts = accountsOf(billModel, { enterprise: 'steel' })
    expect(accounts.map((a) => [a.path, a.origin, a.meters.map((m) => m.device)])).toEqual([
      ['steel/works/arc', 'configured', ['a']],
      ['steel/works/aux', 'configured', ['b']],
    ])
    expect(accounts.map((a) => tariffOfAccount(a, MARCH).tariff.id)).toEqual([TWO_PART, TWO_PART])
    const bare: PlantModel = {
      ...billModel,
      enterprises: [
        {
          ...(billModel.enterprises[0] as PlantModel['enterprises'][number]),
          sites: [{ id: 's', lines: [{ id: 'l', mainMeter: 'm', shifts: [], devices: [{ id: 'm', kind: 'meter', keyEquipment: false, ncCapable: false }] }] }],
        },
      ],
    }
    const [implicit] = accountsOf(bare, { enterprise: 'steel' })
    expect(implicit).toMatchObject({ id: 'implicit', origin: 'implicit-lines', path: 'steel/s/implicit' })
    expect(implicit && tariffOfAccount(implicit, MARCH)).toMatchObject({ chosenBy: 'region-default', pricing: 'single-part' })
  })

  it('bad accounts are coded errors naming the field', () => {
    const site = billModel.enterprises[0]?.sites[0] as PlantModel['enterprises'][number]['sites'][number]
    const withAccounts = (accounts: NonNullable<typeof site.accounts>, incomers = site.incomers): PlantModel => ({
      ...billModel,
      enterprises: [{ ...(billModel.enterprises[0] as PlantModel['enterprises'][number]), sites: [{ ...site, accounts, ...(incomers ? { incomers } : {}) }] }],
    })
    const scope = { enterprise: 'steel' }
    expect(problemOf(() => accountsOf(withAccounts([{ id: 'x', incomers: [] }]), scope))).toEqual({
      code: 'REPORTS_ERR_INPUT',
      problem: 'account-no-incomer',
      field: 'enterprises[steel].sites[works].accounts[x].incomers',
    })
    expect(
      problemOf(() =>
        accountsOf(
          withAccounts([
            { id: 'x', incomers: ['mill/a'] },
            { id: 'y', incomers: ['mill/b', 'mill/a'] },
          ]),
          scope,
        ),
      ),
    ).toMatchObject({ code: 'REPORTS_ERR_INPUT', problem: 'incomer-on-two-accounts', field: 'enterprises[steel].sites[works].accounts[y].incomers[mill/a]' })
    expect(problemOf(() => accountsOf(withAccounts([{ id: 'x', incomers: ['mill/c'] }]), scope))).toMatchObject({ problem: 'incomer-not-listed' })
    expect(problemOf(() => accountsOf(withAccounts([{ id: 'x', incomers: ['mill/zz'] }]), scope))).toMatchObject({ problem: 'incomer-unknown-device' })
  })
})

describe('bill check on the embedded store (1-minute counters, March 2026)', () => {
  let dir: string
  let store: TelemetryStore
  const deps = (now: number): ReportDeps => ({ store, model: billModel, now: () => now })
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-bill-'))
    store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
    await store.write(billPoints())
  }, 120_000)
  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('account arc (actual demand): sliding 1000 kW vs fixed 580 kW, PF 0.80 → +5 %', async () => {
    const b = await billOfAccount(deps(APRIL + 24 * 60 * MIN), 'steel/works/arc', '2026-03')
    // 100 kW × 744 h + 900 kW × 0.25 h = 74 625 kWh; valley 8 h × 31 × 100 + 225 = 25 025, flat 24 800, peak 18 600, critical 6 200.
    expect(b.energyKwh).toBeCloseTo(74_625, 4)
    expect(Object.fromEntries(b.periods.map((p) => [p.period, Math.round(p.energyKwh * 1000) / 1000]))).toEqual({
      valley: 25_025,
      flat: 24_800,
      peak: 18_600,
      critical_peak: 6_200,
    })
    // 25 025 × 0.432924 + 24 800 × 0.651886 + 18 600 × 0.848961 + 6 200 × 1.049999 = 49 301.3643
    expect(b.energyCost).toBeCloseTo(49_301.3643, 3)
    // The melt 00:07–00:22: sliding [00:07, 00:22) = 1000 kW; fixed [00:00, 00:15) = 100 + 900 × 8/15 = 580 kW.
    expect(b.demand.sliding).toMatchObject({ demandKw: expect.closeTo(1000, 6), start: MELT_FROM })
    expect(b.demand.fixed).toMatchObject({ demandKw: expect.closeTo(580, 6), start: MELT_FROM - 7 * MIN })
    // actual demand 1000 kW × 42 = 42 000 (74.625 kWh/kVA < 260: full price)
    expect(b.basicCharge).toMatchObject({ basis: 'actual-demand', priceFactor: 1 })
    expect(b.basicCharge?.charge).toBeCloseTo(42_000, 4)
    // kvarh = 0.75 × kWh → PF 0.80 → +5 % of (49 301.3643 + 42 000) = 4 565.0682; total 95 866.4325
    expect(b.powerFactor).toMatchObject({ powerFactorRounded: 0.8, percent: 5, standard: 0.9 })
    expect(b.powerFactor?.adjustment).toBeCloseTo(4_565.0682, 3)
    expect(b.totalCost).toBeCloseTo(95_866.4325, 3)
    expect(b).toMatchObject({ status: 'complete', coverage: 1, tariff: { id: TWO_PART, version: 'hubei-2026-01-two-part', chosenBy: 'by-kva-and-voltage' } })
    // Readings: 5000 + 100 kW × 1 h before March = 5100 at 00:00 on 1 March; + 74 625 = 79 725 at 00:00 on 1 April.
    expect(b.readings.find((r) => r.quantity === 'energy_import_kwh')).toMatchObject({
      startTs: MARCH,
      startValue: expect.closeTo(5100, 6),
      endTs: APRIL,
      endValue: expect.closeTo(79_725, 6),
    })
    expect(b.rows.filter((r) => r.section === 'energy')).toHaveLength(4)
    expect(b.warnings).toEqual([])
  }, 30_000)

  it('account aux (contracted 100 kW, 104 kW used, 386.88 kWh/kVA): billed at the contract at 90 %, PF 0.96 → −0.75 %', async () => {
    const b = await billOfAccount(deps(APRIL + 24 * 60 * MIN), 'steel/works/aux', '2026-03')
    // 104 kW × 744 h = 77 376 kWh; per period 25 792 / 25 792 / 19 344 / 6 448 → energy 51 172.1147
    expect(b.energyKwh).toBeCloseTo(77_376, 4)
    expect(b.energyCost).toBeCloseTo(51_172.1147, 3)
    // 104 ≤ 105 % of 100: billed 100 kW; 77 376 / 200 = 386.88 kWh/kVA ≥ 260 → 0.9: 100 × 42 × 0.9 = 3 780
    expect(b.basicCharge).toMatchObject({ billedQuantity: 100, priceFactor: 0.9, contractedKw: 100 })
    expect(b.basicCharge?.charge).toBeCloseTo(3_780, 6)
    // PF 1/√1.09 = 0.9578 → 0.96 → −0.75 % of 54 952.1147 = −412.1409; total 54 539.9738
    expect(b.powerFactor).toMatchObject({ powerFactorRounded: 0.96, percent: -0.75 })
    expect(b.totalCost).toBeCloseTo(54_539.9738, 3)
  }, 30_000)

  it('a partial month: demand and charge to date, labelled; a stale version warns', async () => {
    // now = 2 March 00:00: one day of 100 kW = 2400 kWh; demand to date 100 kW → 4 200 implied.
    const b = await billOfAccount(deps(MARCH + 24 * 60 * MIN), 'steel/works/arc', '2026-03')
    expect(b.status).toBe('to-date')
    expect(b.end).toBe(MARCH + 24 * 60 * MIN)
    expect(b.energyKwh).toBeCloseTo(2400, 6)
    expect(b.demand.sliding?.demandKw).toBeCloseTo(100, 6)
    expect(b.basicCharge?.charge).toBeCloseTo(4200, 6)
    expect(b.rows.find((r) => r.section === 'basic-charge')?.basis).toContain('implied by demand to date')
    expect(b.warnings.some((w) => w.includes('is running'))).toBe(true)
    const late = await billOfAccount(deps(Date.UTC(2027, 2, 5)), 'steel/works/arc', '2027-02')
    expect(late.warnings.some((w) => w.includes('13 months old'))).toBe(true)
  }, 30_000)

  it('cost of the site = the sum of its two accounts, each on its own maximum (never pooled), billed in the whole month only', async () => {
    const r = await costReport(deps(APRIL + 24 * 60 * MIN), { enterprise: 'steel', site: 'works' }, { start: MARCH, end: APRIL }, 'month')
    expect(r.tariffs.map((t) => [t.account, t.id, t.chosenBy])).toEqual([
      ['steel/works/arc', TWO_PART, 'by-kva-and-voltage'],
      ['steel/works/aux', TWO_PART, 'by-kva-and-voltage'],
    ])
    // The cost report's maximum is the fixed quarter hour of quarter-hour readings (GET /bill has the sliding one):
    // arc 580 kW × 42 = 24 360 (actual demand); aux 104 kW ≤ 105 % of 100 → 100 × 42 × 0.9 = 3 780. Pooled, it would be one 684 kW.
    expect(r.months.map((m) => [m.account, m.demandStatus, Math.round((m.maxDemandKw ?? 0) * 1000) / 1000])).toEqual([
      ['steel/works/arc', 'billed', 580],
      ['steel/works/aux', 'billed', 104],
    ])
    expect(r.demandCharge).toBeCloseTo(28_140, 6)
    // 力调: arc +5 % of (49 301.3643 + 24 360) = 3 683.0682; aux −0.75 % of (51 172.1147 + 3 780) = −412.1409
    expect(r.months.map((m) => m.pfPercent)).toEqual([5, -0.75])
    expect(r.pfAdjustment).toBeCloseTo(3_683.0682 - 412.1409, 3)
    expect(r.totalCost).toBeCloseTo(131_884.4063, 3)
    // A day of it: energy only, the months' charges implied and labelled.
    const day = await costReport(deps(APRIL + 24 * 60 * MIN), { enterprise: 'steel', site: 'works' }, { start: MARCH, end: MARCH + 24 * 60 * MIN }, 'total')
    expect(day.demandCharge).toBe(0)
    expect(day.pfAdjustment).toBe(0)
    expect(day.months.map((m) => m.demandStatus)).toEqual(['partial-range', 'partial-range'])
    expect(day.totalCost).toBeCloseTo(day.energyCost, 9)
  }, 30_000)

  it('demand of the site: each account on its own maximum, against its own contract', async () => {
    const r = await demandReport(deps(APRIL + 24 * 60 * MIN), { enterprise: 'steel', site: 'works' }, { start: MARCH, end: APRIL }, 'month')
    // arc: fixed quarter 00:00–00:15 of 10 March = 580 kW, no contract; aux: 104 kW of 100 contracted = 1.04, not above 105 %.
    expect(
      r.accounts.map((a) => [
        a.account,
        a.month,
        Math.round(a.maxDemandKw * 1000) / 1000,
        a.contractRatio === null ? null : Math.round(a.contractRatio * 1e6) / 1e6,
        a.over105,
      ]),
    ).toEqual([
      ['steel/works/arc', '2026-03', 580, null, null],
      ['steel/works/aux', '2026-03', 104, 1.04, false],
    ])
    expect(r.accounts[0]?.maxAt).toBe(MELT_FROM - 7 * MIN)
  }, 30_000)

  it('unknown account and malformed month are coded', async () => {
    await expect(billOfAccount(deps(APRIL), 'steel/works/nope', '2026-03')).rejects.toMatchObject({ code: 'REPORTS_ERR_SCOPE' })
    await expect(billOfAccount(deps(APRIL), 'steel/works/arc', '2026-13')).rejects.toMatchObject({ code: 'REPORTS_ERR_INPUT' })
  })
})
