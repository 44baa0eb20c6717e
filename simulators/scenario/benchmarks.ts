import { PlantWattError } from '../../core/errors.ts'

/**
 * National unit-product energy levels a scenario line can be placed against (DOMAIN.md, "Energy-
 * efficiency benchmark levels"). Lower is better. kWh/t indicators are electricity only; kgce/t
 * indicators are comprehensive energy (GB/T 2589-2020): the line's electricity at the equivalent
 * value 0.1229 kgce/kWh plus the fuels and working media its PLC counts (product.carriers), one of
 * which balances the total to the target.
 */
export interface BenchmarkIndicator {
  product: string
  unit: 'kWh/t' | 'kgce/t'
  /** GB levels 1 / 2 / 3. */
  gb: readonly [number, number, number]
  /** NDRC 标杆 / 基准 where published; otherwise GB level 1 / level 3 bound the grades. */
  ndrc?: readonly [number, number]
  source: string
}

export const KGCE_PER_KWH_EQUIVALENT = 0.1229

/**
 * The carrier counters a scenario line's PLC / DCS can report (integrating its coal scale, gas and
 * oxygen flow meters), with kgce per counter unit: GB/T 2589-2020 reference coefficients as shipped in
 * analytics/reference/coal-gbt2589-2020.ts (raw coal 0.7143 kgce/kg, natural gas 1.2143 kgce/m3,
 * oxygen 0.4 kgce/m3 — the last tabulated, not checked against the standard's text).
 */
export const CARRIER_KGCE_PER_UNIT = { coal_t: 714.3, gas_m3: 1.2143, oxygen_m3: 0.4 } as const
export type CarrierQuantity = keyof typeof CARRIER_KGCE_PER_UNIT
export const CARRIER_QUANTITIES = Object.keys(CARRIER_KGCE_PER_UNIT) as CarrierQuantity[]

export const BENCHMARKS = {
  'clinker-electricity': { product: 'cement clinker (综合电耗)', unit: 'kWh/t', gb: [48, 57, 61], source: 'GB 16780-2021' },
  'eaf-steel': { product: 'EAF steel ≥ 70 t (工序能耗)', unit: 'kgce/t', gb: [61, 64, 72], source: 'GB 21256-2025 (DOMAIN.md)' },
  'clinker-energy': {
    product: 'cement clinker (综合能耗)',
    unit: 'kgce/t',
    gb: [100, 107, 117],
    ndrc: [100, 117],
    source: 'GB 16780-2021; 发改产业〔2023〕723号',
  },
} as const satisfies Record<string, BenchmarkIndicator>

export type BenchmarkId = keyof typeof BENCHMARKS
export const BENCHMARK_IDS = Object.keys(BENCHMARKS) as BenchmarkId[]

export const SEC_GRADES = ['benchmark', 'compliant', 'below_baseline'] as const
export type SecGrade = (typeof SEC_GRADES)[number]

/** The 标杆 and 基准 bounds of an indicator, in its own unit. */
export function gradeBounds(id: BenchmarkId): { advanced: number; baseline: number } {
  const b: BenchmarkIndicator = BENCHMARKS[id]
  return b.ndrc ? { advanced: b.ndrc[0], baseline: b.ndrc[1] } : { advanced: b.gb[0], baseline: b.gb[2] }
}

/** Converts an indicator value to kWh per unit of product (a kgce indicator as if all of it were electricity). */
export function toKwhPerUnit(id: BenchmarkId, value: number): number {
  return BENCHMARKS[id].unit === 'kWh/t' ? value : value / KGCE_PER_KWH_EQUIVALENT
}

/** The indicator value a line is placed at (in the indicator's unit): a point clearly inside the asked grade. */
export function secTargetValue(target: SecGrade | number, benchmark: BenchmarkId | undefined, where: string): number {
  if (typeof target === 'number') return target
  if (!benchmark) throw new PlantWattError('SIM_ERR_SCENARIO', `${where}: secTarget ${JSON.stringify(target)} needs a product benchmark`)
  const { advanced, baseline } = gradeBounds(benchmark)
  return target === 'benchmark' ? advanced * 0.96 : target === 'compliant' ? (advanced + baseline) / 2 : baseline * 1.07
}

/** A carrier counter of a line: counter units per unit of output. */
export interface CarrierRate {
  quantity: CarrierQuantity
  perUnit: number
}

/**
 * What a line consumes per unit of output: its electricity (kWh) and its carriers. For a kgce
 * indicator the line's electricity is `electricityKwhPerUnit` and the carrier marked `balance` takes
 * what is left of the target: (target − kWh × 0.1229 − Σ other carriers' kgce) / its kgce per unit.
 */
export function lineConsumption(
  product: {
    secTarget: SecGrade | number
    benchmark?: BenchmarkId | undefined
    electricityKwhPerUnit?: number | undefined
    carriers?: ReadonlyArray<{ quantity: CarrierQuantity; perUnit?: number | undefined; balance?: boolean | undefined }> | undefined
  },
  where: string,
): { kwhPerUnit: number; carriers: CarrierRate[] } {
  const carriers = product.carriers ?? []
  if (!product.benchmark || BENCHMARKS[product.benchmark].unit === 'kWh/t' || product.electricityKwhPerUnit === undefined) {
    return {
      kwhPerUnit: secTargetKwhPerUnit(product.secTarget, product.benchmark, where),
      carriers: carriers.map((c) => ({ quantity: c.quantity, perUnit: c.perUnit ?? 0 })),
    }
  }
  const target = secTargetValue(product.secTarget, product.benchmark, where)
  const kwh = product.electricityKwhPerUnit
  const fixed = carriers.filter((c) => !c.balance).reduce((s, c) => s + (c.perUnit ?? 0) * CARRIER_KGCE_PER_UNIT[c.quantity], 0)
  const rest = target - kwh * KGCE_PER_KWH_EQUIVALENT - fixed
  const out = carriers.map((c) => ({ quantity: c.quantity, perUnit: c.balance ? rest / CARRIER_KGCE_PER_UNIT[c.quantity] : (c.perUnit ?? 0) }))
  if (out.some((c) => !(c.perUnit >= 0))) {
    throw new PlantWattError('SIM_ERR_SCENARIO', `${where}: the electricity and fixed carriers already exceed the target ${target} kgce/t; no balance is left`)
  }
  return { kwhPerUnit: kwh, carriers: out }
}

/** Grade of a value in the indicator's unit: at or better than 标杆, between, worse than 基准. */
export function gradeSec(id: BenchmarkId, value: number): SecGrade {
  const { advanced, baseline } = gradeBounds(id)
  if (value <= advanced) return 'benchmark'
  if (value <= baseline) return 'compliant'
  return 'below_baseline'
}

/**
 * The specific electricity consumption (kWh per unit) a line is simulated at: an explicit number, or
 * a point clearly inside the asked grade — 4 % better than 标杆, midway, or 7 % worse than 基准.
 */
export function secTargetKwhPerUnit(target: SecGrade | number, benchmark: BenchmarkId | undefined, where: string): number {
  if (typeof target === 'number') return target
  if (!benchmark) throw new PlantWattError('SIM_ERR_SCENARIO', `${where}: secTarget ${JSON.stringify(target)} needs a product benchmark`)
  const { advanced, baseline } = gradeBounds(benchmark)
  const value = target === 'benchmark' ? advanced * 0.96 : target === 'compliant' ? (advanced + baseline) / 2 : baseline * 1.07
  return toKwhPerUnit(benchmark, value)
}
