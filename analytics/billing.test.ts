import { describe, expect, it } from 'vitest'
import { basicCharge, defaultPricing, pfAdjustmentPercent, powerFactorAdjustment, priceStepEnergy, staleVersionWarning } from './billing.ts'
import { HUBEI_TWO_PART_1_10KV } from './reference/index.ts'
import { compileTariff, touCost } from './tariff.ts'
import { billingDemand, stepEnergyFromIntervals, stepEnergyFromPower, sumStepEnergy } from './demand.ts'
import { counterIncrements } from './energy.ts'
import type { Sample } from './types.ts'
import { codeOf, MIN, sh } from './test-helpers.ts'

/**
 * An EAF heat cycle on 1-minute data from 00:00 local: 60 000 kW from minute 7 to 22 (melting),
 * 15 000 kW from 22 to 37 (refining), 0 from 37 to 45 (tapping).
 * Fixed quarter hours: [0,15) 8 min × 60 MW / 15 = 32 MW; [15,30) (7 × 60 + 8 × 15) / 15 = 36 MW;
 * [30,45) 7 × 15 / 15 = 7 MW → max 36 000 kW at 00:15. Sliding by 1 minute: [7,22) = 60 000 kW.
 */
const T0 = sh('2026-03-02T00:00')
const kwAt = (m: number): number => (m >= 7 && m < 22 ? 60_000 : m >= 22 && m < 37 ? 15_000 : 0)
const range = { start: T0, end: T0 + 45 * MIN }

function eafCounter(): Sample[] {
  const out: Sample[] = []
  let kwh = 1000
  for (let m = 0; m <= 45; m++) {
    out.push({ ts: T0 + m * MIN, value: kwh })
    kwh += kwAt(m) / 60
  }
  return out
}

describe('billing-grade demand: sliding vs fixed windows on an EAF heat cycle', () => {
  it('from a 1-minute counter: sliding 60 000 kW at 00:07, fixed 36 000 kW at 00:15', () => {
    const steps = stepEnergyFromIntervals(counterIncrements(eafCounter()).increments, range, MIN)
    expect(steps.energyKwh.length).toBe(45)
    expect(steps.energyKwh[7]).toBeCloseTo(1000, 9)
    const d = billingDemand(steps)
    expect(d.sliding).toEqual({ demandKw: expect.closeTo(60_000, 6), start: T0 + 7 * MIN, end: T0 + 22 * MIN, coverage: 1 })
    expect(d.fixed).toEqual({ demandKw: expect.closeTo(36_000, 6), start: T0 + 15 * MIN, end: T0 + 30 * MIN, coverage: 1 })
    expect(d).toMatchObject({ periodMs: 15 * MIN, slipMs: MIN })
  })

  it('from 30-second power samples (trapezoid): sliding 59 250 kW, fixed below it', () => {
    const samples: Sample[] = []
    for (let s = 0; s <= 90; s++) samples.push({ ts: T0 + s * 30_000, value: kwAt(Math.floor(s / 2)) })
    // The trapezoid ramps each step over the 30 s between samples: in [7,22) the last 30 s ramp from 60 to 15 MW,
    // (14.5 × 60 + 0.5 × 37.5) / 15 = 59 250 kW; the fixed quarter hours stay below it.
    const d = billingDemand(stepEnergyFromPower(samples, range, MIN))
    expect(d.sliding?.demandKw).toBeCloseTo(59_250, 6)
    expect(d.fixed?.demandKw).toBeLessThan(d.sliding?.demandKw ?? 0)
  })

  it('a 30-minute period slipping 5 minutes: [5,35) = (15 × 60 + 13 × 15) MW·min / 30 = 36 500 kW', () => {
    const steps = stepEnergyFromIntervals(counterIncrements(eafCounter()).increments, range, 5 * MIN)
    const d = billingDemand(steps, { periodMs: 30 * MIN, slipMs: 5 * MIN })
    // windows start 0, 5, 10, 15: [0,30) 15×60+8×15 = 1020 → 34 000; [5,35) 15×60+13×15 = 1095 → 36 500;
    // [10,40) 12×60+15×15 = 945 → 31 500; [15,45) 7×60+15×15 = 645 → 21 500. Fixed (half hours): [0,30) only.
    expect(d.sliding?.demandKw).toBeCloseTo(36_500, 6)
    expect(d.sliding?.start).toBe(T0 + 5 * MIN)
    expect(d.fixed?.demandKw).toBeCloseTo(34_000, 6)
  })

  it('two incomers sum before the maximum; a slip that does not divide the period is refused', () => {
    const a = stepEnergyFromIntervals(counterIncrements(eafCounter()).increments, range, MIN)
    const both = sumStepEnergy([a, a])
    expect(billingDemand(both as NonNullable<typeof both>).sliding?.demandKw).toBeCloseTo(120_000, 6)
    expect(codeOf(() => billingDemand(a, { periodMs: 15 * MIN, slipMs: 4 * MIN }))).toBe('ANALYTICS_ERR_INPUT')
  })
})

describe('basic charge (基本电费)', () => {
  const base = { demandPricePerKwMonth: 42, capacityPricePerKvaMonth: 26.3, monthEnergyKwh: 100_000 }
  it('contracted 1000 kW, maximum 1040 kW (104 %): billed at the contract, 1000 × 42 = 42 000', () => {
    const c = basicCharge({ ...base, basis: 'contracted-demand', contractedDemandKw: 1000, maxDemandKw: 1040 })
    expect(c).toMatchObject({ billedQuantity: 1000, unit: 'kW', charge: 42_000, contractedKw: 1000, priceFactor: 1 })
    expect(c.rules.map((r) => r.rule)).toEqual(['within-contract'])
  })
  it('contracted 1000 kW, maximum 1100 kW (110 %): 1100 + (1100 − 1050) = 1150 kW × 42 = 48 300', () => {
    const c = basicCharge({ ...base, basis: 'contracted-demand', contractedDemandKw: 1000, maxDemandKw: 1100 })
    expect(c.billedQuantity).toBeCloseTo(1150, 9)
    expect(c.charge).toBeCloseTo(48_300, 6)
    expect(c.rules.map((r) => r.rule)).toEqual(['105%-over-contract'])
  })
  it('a contract below 40 % of the kVA is raised to it: 300 kW on 1000 kVA → 400 kW', () => {
    const c = basicCharge({ ...base, basis: 'contracted-demand', contractedDemandKw: 300, transformerKva: 1000, maxDemandKw: 350 })
    expect(c).toMatchObject({ billedQuantity: 400, charge: 16_800, contractedKw: 400 })
    expect(c.rules.map((r) => r.rule)).toEqual(['40%-contract-floor', 'within-contract'])
  })
  it('actual demand at ≥ 260 kWh/kVA pays 90 %: 800 kW × 42 × 0.9 = 30 240 (260 000 kWh on 1000 kVA)', () => {
    const c = basicCharge({ ...base, basis: 'actual-demand', transformerKva: 1000, monthEnergyKwh: 260_000, maxDemandKw: 800 })
    expect(c).toMatchObject({ billedQuantity: 800, priceFactor: 0.9, kwhPerKva: 260 })
    expect(c.charge).toBeCloseTo(30_240, 6)
    expect(basicCharge({ ...base, basis: 'actual-demand', transformerKva: 1000, monthEnergyKwh: 259_999, maxDemandKw: 800 }).charge).toBe(33_600)
  })
  it('capacity: 1000 kVA × 26.3 = 26 300, no discount; a missing input is a coded error naming it', () => {
    expect(basicCharge({ ...base, basis: 'capacity', transformerKva: 1000, monthEnergyKwh: 300_000, maxDemandKw: 900 })).toMatchObject({
      billedQuantity: 1000,
      unit: 'kVA',
      charge: 26_300,
      priceFactor: 1,
    })
    expect(codeOf(() => basicCharge({ ...base, basis: 'capacity', maxDemandKw: 1 }))).toBe('ANALYTICS_ERR_INPUT')
    expect(codeOf(() => basicCharge({ ...base, basis: 'contracted-demand', maxDemandKw: 1 }))).toBe('ANALYTICS_ERR_INPUT')
  })
})

describe('力调 (功率因数调整电费表)', () => {
  it('standard 0.90: every step', () => {
    const table: Array<[number, number]> = [
      [1.0, -0.75],
      [0.95, -0.75],
      [0.94, -0.6],
      [0.93, -0.45],
      [0.92, -0.3],
      [0.91, -0.15],
      [0.9, 0],
      [0.89, 0.5],
      [0.8, 5],
      [0.7, 10],
      [0.69, 11],
      [0.65, 15],
      [0.64, 17],
      [0.6, 25],
      [0.32, 81],
    ]
    for (const [pf, pct] of table) expect([pf, pfAdjustmentPercent(pf, 0.9)]).toEqual([pf, expect.closeTo(pct, 9)])
  })
  it('standard 0.85 and 0.80: their own reductions and breakpoints', () => {
    const t85: Array<[number, number]> = [
      [0.94, -1.1],
      [0.93, -0.95],
      [0.92, -0.8],
      [0.91, -0.65],
      [0.9, -0.5],
      [0.86, -0.1],
      [0.84, 0.5],
      [0.66, 9.5],
      [0.65, 10],
      [0.6, 15],
      [0.59, 17],
      [0.32, 71],
    ]
    for (const [pf, pct] of t85) expect([pf, pfAdjustmentPercent(pf, 0.85)]).toEqual([pf, expect.closeTo(pct, 9)])
    const t80: Array<[number, number]> = [
      [0.93, -1.3],
      [0.92, -1.3],
      [0.91, -1.15],
      [0.9, -1.0],
      [0.81, -0.1],
      [0.66, 7],
      [0.6, 10],
      [0.59, 11],
      [0.55, 15],
      [0.54, 17],
      [0.32, 61],
    ]
    for (const [pf, pct] of t80) expect([pf, pfAdjustmentPercent(pf, 0.8)]).toEqual([pf, expect.closeTo(pct, 9)])
  })
  it('PF is rounded to two decimals first; 4000 kWh with 3000 kvarh is PF 0.80: +5 % of 10 000 = +500', () => {
    expect(pfAdjustmentPercent(0.8949, 0.9)).toBe(0.5)
    expect(pfAdjustmentPercent(0.9049, 0.9)).toBe(0)
    expect(pfAdjustmentPercent(0.9051, 0.9)).toBe(-0.15)
    const a = powerFactorAdjustment(4000, 3000, 0.9, 10_000)
    expect(a).toMatchObject({ powerFactorRounded: 0.8, percent: 5, adjustment: 500 })
    expect(a.powerFactor).toBeCloseTo(0.8, 12)
    expect(codeOf(() => pfAdjustmentPercent(0.9, 0.88))).toBe('ANALYTICS_ERR_INPUT')
  })
})

describe('tariff choice and version age', () => {
  it('two-part from 315 kVA, or whenever a billing basis is configured', () => {
    expect(defaultPricing(315).pricing).toBe('two-part')
    expect(defaultPricing(314).pricing).toBe('single-part')
    expect(defaultPricing(undefined).pricing).toBe('single-part')
    expect(defaultPricing(undefined, 'capacity').pricing).toBe('two-part')
    expect(defaultPricing(200, 'contracted-demand').pricing).toBe('two-part')
  })
  it('warns when a version is more than 12 months older than the month it prices', () => {
    expect(staleVersionWarning('v', '2026-01-01', '2027-01')).toBeNull()
    expect(staleVersionWarning('v', '2026-01-01', '2027-02')).toContain('13 months old')
  })
})

describe('pricing a step grid', () => {
  it('prices a day of 1-minute steps as touCost prices the same intervals (1 kWh a minute: 480 valley, 480 flat, 360 peak, 120 critical)', () => {
    const day = { start: sh('2026-03-02T00:00'), end: sh('2026-03-03T00:00') }
    const intervals = Array.from({ length: 1440 }, (_, m) => ({ start: day.start + m * MIN, end: day.start + (m + 1) * MIN, amount: 1 }))
    const steps = stepEnergyFromIntervals(intervals, day, MIN)
    const c = compileTariff(HUBEI_TWO_PART_1_10KV)
    const grid = priceStepEnergy(steps, c)
    const ref = touCost(intervals, c, { monthlyMaxDemandKw: { '2026-03': 0 } })
    expect(Object.fromEntries(grid.byPeriod.map((p) => [p.period, p.energyKwh]))).toEqual({ valley: 480, flat: 480, peak: 360, critical_peak: 120 })
    // 480 × 0.432924 + 480 × 0.651886 + 360 × 0.848961 + 120 × 1.049999 = 952.33464
    expect(grid.energyCost).toBeCloseTo(952.33464, 9)
    expect(grid.energyCost).toBeCloseTo(ref.energyCost, 9)
    expect(grid.byVersion).toEqual([{ id: 'hubei-2026-01-two-part', energyKwh: 1440, cost: expect.closeTo(952.33464, 9) }])
  })
})
