import { PlantWattError } from '../../core/errors.ts'

/**
 * National unit-product energy levels a scenario line can be placed against (DOMAIN.md, "Energy-
 * efficiency benchmark levels"). Lower is better. Only indicators the simulator can produce from
 * electricity alone are listed; kgce indicators convert kWh at the equivalent value 0.1229 kgce/kWh
 * (GB/T 2589-2020), i.e. the simulated plant's whole energy is booked as electricity.
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

export const BENCHMARKS = {
  'clinker-electricity': { product: 'cement clinker (综合电耗)', unit: 'kWh/t', gb: [48, 57, 61], source: 'GB 16780-2021' },
  'eaf-steel': { product: 'EAF steel ≥ 70 t (综合能耗)', unit: 'kgce/t', gb: [61, 64, 72], source: 'GB 21256-2025 (DOMAIN.md)' },
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

/** Converts an indicator value to kWh per unit of product. */
export function toKwhPerUnit(id: BenchmarkId, value: number): number {
  return BENCHMARKS[id].unit === 'kWh/t' ? value : value / KGCE_PER_KWH_EQUIVALENT
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
