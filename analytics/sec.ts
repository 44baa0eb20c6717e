import { analyticsError } from './errors.ts'
import { totalKgce } from './coal.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'
import type { BenchmarkProduct, BenchmarkTable, CoalTable } from './reference/schemas.ts'

/**
 * Specific energy consumption (SEC, 单位产品能耗) and its grade against the NDRC 标杆 (benchmark) and
 * 基准 (baseline) and the GB levels. Lower is better, including below zero (converter steelmaking).
 */

export type SecGrade = 'benchmark' | 'compliant' | 'below_baseline'

export interface SecValue {
  value: number
  unit: string
  energy: number
  production: number
}

/** energy / production, e.g. kWh / pcs or kgce / t (ANALYTICS_ERR_INPUT when production ≤ 0). */
export function specificEnergy(energy: number, production: number, unit: string): SecValue {
  if (!(production > 0)) throw analyticsError('ANALYTICS_ERR_INPUT', `specific energy: production must be > 0, got ${production}`)
  return { value: energy / production, unit, energy, production }
}

/** kgce per tonne from several carriers (GB/T 2589 coefficients) and tonnes produced. */
export function secKgcePerTonne(
  amounts: ReadonlyArray<{ carrier: string; amount: number }>,
  productionT: number,
  table?: CoalTable,
): SecValue & { parts: ReturnType<typeof totalKgce>['parts'] } {
  const k = totalKgce(amounts, table)
  return { ...specificEnergy(k.kgce, productionT, 'kgce/t'), parts: k.parts }
}

/**
 * Gap in percent of `value` from `reference`: (value − reference) / |reference| × 100. Positive is
 * worse than the reference (lower is better), negative is better; dividing by |reference| keeps the
 * sign meaning the same for negative references (converter steelmaking). Null when reference is 0.
 */
export function gapPercent(value: number, reference: number): number | null {
  return reference === 0 ? null : ((value - reference) / Math.abs(reference)) * 100
}

export interface SecGradeResult {
  product: string
  value: number
  unit: string
  /** Against NDRC 标杆/基准; undefined when the product has none. */
  grade?: SecGrade
  benchmark?: number
  baseline?: number
  gapToBenchmarkPct?: number | null
  gapToBaselinePct?: number | null
  /** Best GB level met (1 best … 3 the limit); 'none' misses the mandatory limit. */
  gbLevel?: 1 | 2 | 3 | 'none'
  /** The reference values came from an unverified entry. */
  unverified: boolean
  source: string
}

export function findBenchmark(productId: string, table: BenchmarkTable = DEFAULT_REFERENCE.benchmarks): BenchmarkProduct {
  const p = table.products.find((x) => x.id === productId)
  if (!p) throw analyticsError('ANALYTICS_ERR_BENCHMARK', `no benchmark values for product ${JSON.stringify(productId)} in ${table.version}`)
  return p
}

/**
 * Grades a SEC value (in the product's unit): ≤ 标杆 → benchmark; ≤ 基准 → compliant; else
 * below_baseline. Equality counts as reaching the level.
 */
export function gradeSec(value: number, product: BenchmarkProduct | string, table?: BenchmarkTable): SecGradeResult {
  const p = typeof product === 'string' ? findBenchmark(product, table) : product
  if (!Number.isFinite(value)) throw analyticsError('ANALYTICS_ERR_INPUT', `SEC value must be finite, got ${value}`)
  const out: SecGradeResult = { product: p.id, value, unit: p.unit, unverified: p.ndrc?.verified === false, source: p.source }
  if (p.ndrc) {
    out.benchmark = p.ndrc.benchmark
    out.baseline = p.ndrc.baseline
    out.grade = value <= p.ndrc.benchmark ? 'benchmark' : value <= p.ndrc.baseline ? 'compliant' : 'below_baseline'
    out.gapToBenchmarkPct = gapPercent(value, p.ndrc.benchmark)
    out.gapToBaselinePct = gapPercent(value, p.ndrc.baseline)
  }
  if (p.gbLevels) {
    const g = p.gbLevels
    out.gbLevel = value <= g.level1 ? 1 : value <= g.level2 ? 2 : value <= g.level3 ? 3 : 'none'
  }
  return out
}
