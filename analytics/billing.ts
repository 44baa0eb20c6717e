import type { StepEnergy } from './demand.ts'
import { analyticsError } from './errors.ts'
import { powerFactorFromEnergy } from './power-factor.ts'
import { pricePieces, type CompiledTariff, type PeriodCost } from './tariff.ts'

/**
 * The parts of an industrial electricity bill beyond energy × price (DOMAIN.md "Billing details"):
 * the two-part basic charge (基本电费) on capacity, contracted demand or actual maximum demand; the
 * power-factor adjustment (力调电费, 功率因数调整电费办法, (83)水电财字第215号); the default pricing
 * by transformer size; and how old a tariff version is.
 */

/** Two-part basic charge basis: kVA of transformers, contracted demand, or actual maximum demand. */
export type BillingBasis = 'capacity' | 'contracted-demand' | 'actual-demand'

/** Contracted demand: the part of the actual maximum above this share of the contract is charged double. */
export const OVER_CONTRACT_SHARE = 1.05
/** Contracted demand is not set below this share of the transformer capacity (kVA taken as kW). */
export const CONTRACT_FLOOR_SHARE = 0.4
/** Demand bases: a month's use of at least this many kWh per kVA pays DEMAND_PRICE_DISCOUNT of the demand price (发改价格〔2023〕526号). */
export const HIGH_USE_KWH_PER_KVA = 260
export const DEMAND_PRICE_DISCOUNT = 0.9
/** Users of this transformer capacity and above are on two-part pricing (发改价格〔2023〕526号); 100–315 kVA may choose. */
export const TWO_PART_FROM_KVA = 315

export interface BasicChargeInput {
  basis: BillingBasis
  /** The month's billing-grade maximum demand (sliding window), kW; null without data. */
  maxDemandKw: number | null
  contractedDemandKw?: number
  transformerKva?: number
  /** Energy of the month (to date for a partial month), kWh: decides the 90 % demand price. */
  monthEnergyKwh: number
  demandPricePerKwMonth?: number
  capacityPricePerKvaMonth?: number
}

/** A rule that changed the charge, with the figures it used. */
export interface BillingRule {
  rule: '40%-contract-floor' | '105%-over-contract' | 'within-contract' | '90%-demand-price'
  text: string
}

export interface BasicCharge {
  basis: BillingBasis
  /** kW (demand bases) or kVA (capacity) the price is applied to. */
  billedQuantity: number
  unit: 'kW' | 'kVA'
  /** The tariff's price per unit and month before the discount. */
  pricePerUnitMonth: number
  /** 0.9 at ≥ 260 kWh/kVA on a demand basis, else 1. */
  priceFactor: number
  charge: number
  /** The contract after the 40 % floor (contracted basis), kW. */
  contractedKw: number | null
  /** monthEnergyKwh / transformerKva; null without kVA. */
  kwhPerKva: number | null
  rules: BillingRule[]
}

function need(value: number | undefined, what: string, basis: BillingBasis): number {
  if (value === undefined) throw analyticsError('ANALYTICS_ERR_INPUT', `basis ${basis} needs ${what}`, { field: what })
  return value
}

/**
 * The month's basic charge (基本电费).
 * - capacity: kVA × capacity price.
 * - contracted-demand: contract C = max(contractedDemandKw, 40 % of kVA); maximum D ≤ 105 % of C is
 *   billed as C; above it the part over 105 % counts twice: billed D + (D − 1.05 C) (发改办价格〔2016〕1583号).
 * - actual-demand: billed D.
 * Demand bases pay 90 % of the demand price when the month reaches 260 kWh per kVA.
 */
export function basicCharge(input: BasicChargeInput): BasicCharge {
  const { basis } = input
  const kva = input.transformerKva
  const kwhPerKva = kva !== undefined && kva > 0 ? input.monthEnergyKwh / kva : null
  const rules: BillingRule[] = []
  if (basis === 'capacity') {
    const price = need(input.capacityPricePerKvaMonth, 'capacityPricePerKvaMonth', basis)
    const q = need(kva, 'transformerKva', basis)
    return { basis, billedQuantity: q, unit: 'kVA', pricePerUnitMonth: price, priceFactor: 1, charge: q * price, contractedKw: null, kwhPerKva, rules }
  }
  const price = need(input.demandPricePerKwMonth, 'demandPricePerKwMonth', basis)
  const d = input.maxDemandKw ?? 0
  let billed = d
  let contractedKw: number | null = null
  if (basis === 'contracted-demand') {
    let c = need(input.contractedDemandKw, 'contractedDemandKw', basis)
    if (kva !== undefined && c < CONTRACT_FLOOR_SHARE * kva) {
      rules.push({ rule: '40%-contract-floor', text: `contract ${c} kW raised to 40 % of ${kva} kVA = ${CONTRACT_FLOOR_SHARE * kva} kW` })
      c = CONTRACT_FLOOR_SHARE * kva
    }
    contractedKw = c
    if (d > OVER_CONTRACT_SHARE * c) {
      billed = d + (d - OVER_CONTRACT_SHARE * c)
      rules.push({
        rule: '105%-over-contract',
        text: `maximum ${round3(d)} kW > 105 % of ${c} kW: the ${round3(d - OVER_CONTRACT_SHARE * c)} kW above it counts twice`,
      })
    } else {
      billed = c
      rules.push({ rule: 'within-contract', text: `maximum ${round3(d)} kW ≤ 105 % of ${c} kW: billed at the contract` })
    }
  }
  let priceFactor = 1
  if (kwhPerKva !== null && kwhPerKva >= HIGH_USE_KWH_PER_KVA) {
    priceFactor = DEMAND_PRICE_DISCOUNT
    rules.push({ rule: '90%-demand-price', text: `${round3(kwhPerKva)} kWh/kVA ≥ 260: 90 % of the demand price` })
  }
  return {
    basis,
    billedQuantity: billed,
    unit: 'kW',
    pricePerUnitMonth: price,
    priceFactor,
    charge: billed * price * priceFactor,
    contractedKw,
    kwhPerKva,
    rules,
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000

/** 力调 standards of the 1983 measures: 0.90 (HV industrial ≥ 160 kVA), 0.85 (other ≥ 100 kVA), 0.80 (agriculture, wholesale). */
export const PF_STANDARDS = [0.9, 0.85, 0.8] as const

/** Above the standard: the reduction (%) per PF in hundredths, from standard + 0.01 up; the last value holds to 1.00. */
const REDUCTIONS: Record<number, readonly number[]> = {
  90: [0.15, 0.3, 0.45, 0.6, 0.75],
  85: [0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.95, 1.1],
  80: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3],
}

/**
 * The 力调 adjustment of the month's charge (%, + surcharge, − reduction) for a PF and a standard,
 * per the 功率因数调整电费表: the PF is rounded to two decimals first. Below the standard S: +0.5 % per
 * 0.01 down to S − 0.20, then +1 % per 0.01 down to S − 0.25, then +2 % per 0.01. Above it, the
 * reductions tabulated in REDUCTIONS (0.90: −0.15 % per 0.01 up to −0.75 % from 0.95).
 */
export function pfAdjustmentPercent(pf: number, standard: number): number {
  const s = Math.round(standard * 100)
  if (!(s in REDUCTIONS))
    throw analyticsError('ANALYTICS_ERR_INPUT', `power-factor standard ${standard}: must be 0.90, 0.85 or 0.80`, { field: 'powerFactorStandard' })
  if (!(pf >= 0 && pf <= 1)) throw analyticsError('ANALYTICS_ERR_INPUT', `power factor ${pf}: must be within 0..1`)
  const p = Math.round(pf * 100)
  if (p === s) return 0
  if (p > s) {
    const r = REDUCTIONS[s] as readonly number[]
    return -(r[Math.min(p - s, r.length) - 1] as number)
  }
  const below = s - p
  if (below <= 20) return below * 0.5
  if (below <= 25) return 10 + (below - 20)
  return 15 + (below - 25) * 2
}

export interface PowerFactorAdjustment {
  activeKwh: number
  reactiveKvarh: number
  /** kWh / √(kWh² + kvarh²), unrounded. */
  powerFactor: number
  /** Rounded to two decimals, as the table is read. */
  powerFactorRounded: number
  standard: number
  percent: number
  /** The charge the percentage applies to (energy + basic charge). */
  baseCharge: number
  adjustment: number
}

/** The month's 力调 from its energy registers, applied to energy charge + basic charge. */
export function powerFactorAdjustment(activeKwh: number, reactiveKvarh: number, standard: number, baseCharge: number): PowerFactorAdjustment {
  const powerFactor = powerFactorFromEnergy(activeKwh, reactiveKvarh)
  const percent = pfAdjustmentPercent(powerFactor, standard)
  return {
    activeKwh,
    reactiveKvarh,
    powerFactor,
    powerFactorRounded: Math.round(powerFactor * 100) / 100,
    standard,
    percent,
    baseCharge,
    adjustment: (baseCharge * percent) / 100,
  }
}

/**
 * Default pricing of a supply: two-part when a billing basis is configured (100–315 kVA may choose
 * it) or from 315 kVA (发改价格〔2023〕526号), else single-part.
 */
export function defaultPricing(transformerKva: number | undefined, basis?: BillingBasis): { pricing: 'single-part' | 'two-part'; reason: string } {
  if (basis !== undefined) return { pricing: 'two-part', reason: `billing basis ${basis} configured: two-part` }
  if (transformerKva === undefined) return { pricing: 'single-part', reason: 'no transformer kVA: single-part' }
  return transformerKva >= TWO_PART_FROM_KVA
    ? { pricing: 'two-part', reason: `${transformerKva} kVA ≥ 315 kVA: two-part (发改价格〔2023〕526号)` }
    : { pricing: 'single-part', reason: `${transformerKva} kVA < 315 kVA: single-part (two-part may be chosen from 100 kVA)` }
}

/** Months between a version's effective date and a period's start (local dates 'YYYY-MM-DD' / 'YYYY-MM'). */
export function monthsBetween(effectiveFrom: string, month: string): number {
  const [y0, m0] = effectiveFrom.split('-').map(Number) as [number, number]
  const [y1, m1] = month.split('-').map(Number) as [number, number]
  return (y1 - y0) * 12 + (m1 - m0)
}

/** A warning when a month is priced by a version that took effect more than 12 months before it. */
export function staleVersionWarning(versionId: string, effectiveFrom: string, month: string): string | null {
  const age = monthsBetween(effectiveFrom, month)
  return age > 12 ? `${month} is priced by tariff version ${versionId} of ${effectiveFrom}, ${age} months old: check for a newer price table` : null
}

export interface StepPrice {
  energyKwh: number
  energyCost: number
  byPeriod: PeriodCost[]
  byVersion: Array<{ id: string; energyKwh: number; cost: number }>
}

/**
 * TOU price of energy on a step grid, as touCost prices intervals (pro rata by time inside a step),
 * in O(steps + pieces): the period pieces of the grid's span are cut once (≈ 7 a day), then the steps
 * are walked once. For a month of 1-minute steps that is ~200 pieces instead of 44 640 intervals.
 */
export function priceStepEnergy(steps: StepEnergy, compiled: CompiledTariff, end?: number): StepPrice {
  const n = steps.energyKwh.length
  const stop = Math.min(end ?? Infinity, steps.start + n * steps.stepMs)
  const out: StepPrice = { energyKwh: 0, energyCost: 0, byPeriod: [], byVersion: [] }
  if (!(stop > steps.start)) return out
  const periods = new Map<string, PeriodCost>()
  const versions = new Map<string, { id: string; energyKwh: number; cost: number }>()
  let i = 0
  for (const piece of pricePieces([{ start: steps.start, end: stop, amount: 0 }], compiled)) {
    let energy = 0
    while (i < n) {
      const s0 = steps.start + i * steps.stepMs
      const s1 = Math.min(s0 + steps.stepMs, stop)
      if (s0 >= piece.end) break
      const o = Math.min(s1, piece.end) - Math.max(s0, piece.start)
      if (o > 0) energy += o === s1 - s0 ? (steps.energyKwh[i] as number) : ((steps.energyKwh[i] as number) * o) / (s1 - s0)
      if (s1 > piece.end) break
      i++
    }
    const cost = energy * piece.pricePerKwh
    const p = periods.get(piece.period) ?? { period: piece.period, energyKwh: 0, cost: 0, pricePerKwh: piece.pricePerKwh }
    p.energyKwh += energy
    p.cost += cost
    periods.set(piece.period, p)
    const v = versions.get(piece.versionId) ?? { id: piece.versionId, energyKwh: 0, cost: 0 }
    v.energyKwh += energy
    v.cost += cost
    versions.set(piece.versionId, v)
    out.energyKwh += energy
    out.energyCost += cost
  }
  for (const p of periods.values()) if (p.energyKwh > 0) p.pricePerKwh = p.cost / p.energyKwh
  out.byPeriod = [...periods.values()]
  out.byVersion = [...versions.values()]
  return out
}
