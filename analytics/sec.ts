import { analyticsError } from './errors.ts'
import { totalKgce } from './coal.ts'
import { type ComprehensiveEnergy, GBT2589, netAmount } from './comprehensive.ts'
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

// ── Grades that cannot mislead (issue 15) ──────────────────────────────────────────────────────

/** NDRC 标杆/基准 (policy levels, 发改产业〔2023〕723号): its own column, never mixed with GB levels. */
export interface NdrcGrade {
  level: SecGrade
  /** 达到标杆水平 / 达到基准水平 / 未达基准水平 */
  labelZh: string
  benchmark: number
  baseline: number
  gapToBenchmarkPct: number | null
  gapToBaselinePct: number | null
  document: string
  /** false: the levels are flagged unverified in the table (the grade says so) */
  verified: boolean
}

/** GB 单位产品能源消耗限额 levels 1/2/3: level 3 is the 限定值, a legal limit. */
export interface GbGrade {
  /** best level met; null: above level 3 (超过限定值) */
  level: 1 | 2 | 3 | null
  labelZh: string
  level1: number
  level2: number
  level3: number
  /** within the 限定值 (level 3) */
  withinLimit: boolean
  standard: string | null
}

export type UngradedCode = 'CARRIER_NOT_METERED' | 'NO_OUTPUT' | 'NOT_PER_TONNE' | 'BOUNDARY_UNDEFINED' | 'NO_EQUAL_VALUE_FACTOR' | 'NO_LEVELS'

export interface Ungraded {
  code: UngradedCode
  reason: string
  /** the carriers the reason names */
  carriers?: string[]
}

export type IndicatorKind = 'comprehensive-energy' | 'electricity'

/** One product indicator graded on its own boundary, unit and basis. */
export interface IndicatorGrade {
  product: string
  name: string
  indicator: string
  kind: IndicatorKind
  unit: string
  standard: string | null
  benchmarkVersion: string
  /** e.g. 'GB/T 2589-2020, electricity at the equivalent value 0.1229 kgce/kWh' or 'electricity only, net kWh' */
  basis: string
  boundary: string | null
  /** in `unit`; null when ungraded */
  value: number | null
  /** kgce (comprehensive) or kWh (electricity) inside the boundary */
  energy: number | null
  production: number
  carriersCounted: string[]
  /** carriers metered or entered but outside this product's boundary */
  carriersOutside: string[]
  ndrc: NdrcGrade | null
  gb: GbGrade | null
  ungraded: Ungraded | null
  /** e.g. an unverified coefficient or unverified NDRC levels: the grade stands but says so */
  warnings: string[]
}

const ROLE_ZH: Record<string, string> = { fuel: '燃料', electricity: '电力', oxygen: '氧气', 'recovered-gas': '回收煤气', heat: '热力', steam: '蒸汽' }

/** The indicator kind of a product: declared, else kWh/… → electricity, kgce/… → comprehensive energy. */
export function indicatorKind(p: BenchmarkProduct): IndicatorKind {
  return p.kind ?? (p.unit.startsWith('kWh') ? 'electricity' : 'comprehensive-energy')
}

export function ndrcGrade(value: number, p: BenchmarkProduct): NdrcGrade | null {
  if (!p.ndrc) return null
  const { benchmark, baseline } = p.ndrc
  const level: SecGrade = value <= benchmark ? 'benchmark' : value <= baseline ? 'compliant' : 'below_baseline'
  return {
    level,
    labelZh: level === 'benchmark' ? '达到标杆水平' : level === 'compliant' ? '达到基准水平' : '未达基准水平',
    benchmark,
    baseline,
    gapToBenchmarkPct: gapPercent(value, benchmark),
    gapToBaselinePct: gapPercent(value, baseline),
    document: p.ndrc.document ?? 'NDRC 工业重点领域能效标杆水平和基准水平',
    verified: p.ndrc.verified !== false,
  }
}

export function gbGrade(value: number, p: BenchmarkProduct): GbGrade | null {
  if (!p.gbLevels) return null
  const { level1, level2, level3 } = p.gbLevels
  const level = value <= level1 ? 1 : value <= level2 ? 2 : value <= level3 ? 3 : null
  return {
    level,
    labelZh: level === null ? '超过限定值 (3级)' : level === 3 ? '3级 (限定值)' : `${level}级`,
    level1,
    level2,
    level3,
    withinLimit: level !== null,
    standard: p.standard ?? null,
  }
}

/** The first `requires` group with no carrier metered or entered (coverage > 0), or undefined. */
function missingGroup(p: BenchmarkProduct, present: ReadonlySet<string>): { role: string; anyOf: string[] } | undefined {
  const groups = p.requires ?? (indicatorKind(p) === 'electricity' ? [{ role: 'electricity', anyOf: ['electricity'] }] : [])
  return groups.find((g) => !g.anyOf.some((c) => present.has(c)))
}

function ungradedOf(p: BenchmarkProduct, energy: ComprehensiveEnergy, productionT: number, table: CoalTable): Ungraded | null {
  const kind = indicatorKind(p)
  if (!p.unit.endsWith('/t')) return { code: 'NOT_PER_TONNE', reason: `${p.id} is per ${p.unit}; only per-tonne indicators are graded` }
  if (!p.gbLevels && !p.ndrc) return { code: 'NO_LEVELS', reason: `${p.id} has neither GB nor NDRC levels` }
  if (kind === 'comprehensive-energy' && !p.carriers) {
    return { code: 'BOUNDARY_UNDEFINED', reason: `边界未定义 / boundary undefined: ${p.id} lists no carriers; add them to the benchmark entry` }
  }
  const present = new Set(energy.flows.filter((f) => f.coverage > 0).map((f) => f.carrier))
  const miss = missingGroup(p, present)
  if (miss) {
    const zh = ROLE_ZH[miss.role] ?? miss.role
    return { code: 'CARRIER_NOT_METERED', reason: `${zh}未计量 / ${miss.role} not metered: ${miss.anyOf.join(' | ')}`, carriers: [...miss.anyOf] }
  }
  if (!(productionT > 0)) return { code: 'NO_OUTPUT', reason: '无产量 / no output in the period' }
  if (kind === 'comprehensive-energy' && p.electricityBasis === 'equal-value' && !table.coefficients.some((c) => c.carrier === 'electricity-equal-value')) {
    return { code: 'NO_EQUAL_VALUE_FACTOR', reason: `${p.id} converts electricity at the equal value (等价值): configure carrier electricity-equal-value` }
  }
  return null
}

/** kgce (or kWh) inside the product's boundary. */
function boundaryEnergy(p: BenchmarkProduct, energy: ComprehensiveEnergy, table: CoalTable): { energy: number; counted: string[]; outside: string[] } {
  const inside = new Set(indicatorKind(p) === 'electricity' ? ['electricity'] : (p.carriers ?? []))
  const counted = energy.carriers.filter((c) => inside.has(c))
  const outside = energy.carriers.filter((c) => !inside.has(c))
  if (indicatorKind(p) === 'electricity') return { energy: netAmount(energy.flows, 'electricity'), counted, outside }
  const eq = p.electricityBasis === 'equal-value' ? table.coefficients.find((c) => c.carrier === 'electricity-equal-value') : undefined
  let sum = 0
  for (const f of energy.flows) {
    if (!inside.has(f.carrier)) continue
    if (eq && f.carrier === 'electricity') sum += (f.direction === 'export' ? -1 : 1) * f.amount * eq.kgcePerUnit
    else sum += f.kgce
  }
  return { energy: sum, counted, outside }
}

/**
 * Grades one product indicator on the energy of its boundary: comprehensive energy (kgce/t, every
 * carrier the product counts, exports subtracted) or electricity only (kWh/t). Ungraded, with the
 * reason, when a carrier the boundary requires is neither metered nor entered, when there is no
 * output, or when the entry lacks its boundary. NDRC and GB levels are graded separately.
 */
export function gradeIndicator(
  product: BenchmarkProduct,
  energy: ComprehensiveEnergy,
  productionT: number,
  options: { benchmarks?: BenchmarkTable; coal?: CoalTable } = {},
): IndicatorGrade {
  const table = options.coal ?? DEFAULT_REFERENCE.coal
  const benchmarkVersion = (options.benchmarks ?? DEFAULT_REFERENCE.benchmarks).version
  const kind = indicatorKind(product)
  const el = table.coefficients.find((c) => c.carrier === 'electricity')
  const basis =
    kind === 'electricity'
      ? 'electricity only: net kWh (import − export) inside the boundary'
      : product.electricityBasis === 'equal-value'
        ? `${GBT2589} (${table.version}), electricity at the equal value (等价值)`
        : `${GBT2589} (${table.version}), electricity at the equivalent value (当量值) ${el?.kgcePerUnit ?? '?'} kgce/kWh`
  const ungraded = ungradedOf(product, energy, productionT, table)
  const { energy: e, counted, outside } = boundaryEnergy(product, energy, table)
  const value = ungraded ? null : e / productionT
  const warnings: string[] = []
  if (kind === 'comprehensive-energy') {
    for (const c of energy.unverified) if (counted.includes(c)) warnings.push(`UNVERIFIED_COEFFICIENT: ${c} (not traced to the ${GBT2589} text)`)
  }
  if (product.ndrc && product.ndrc.verified === false) warnings.push('UNVERIFIED_NDRC_LEVELS: check the NDRC levels against the notice')
  return {
    product: product.id,
    name: product.name,
    indicator: product.indicator,
    kind,
    unit: product.unit,
    standard: product.standard ?? null,
    benchmarkVersion,
    basis,
    boundary: product.boundary ?? null,
    value,
    energy: ungraded ? null : e,
    production: productionT,
    carriersCounted: counted,
    carriersOutside: outside,
    ndrc: value === null ? null : ndrcGrade(value, product),
    gb: value === null ? null : gbGrade(value, product),
    ungraded,
    warnings,
  }
}

/** The product and its companions (e.g. clinker 综合能耗 and 综合电耗), each graded. */
export function gradeProduct(
  productId: string,
  energy: ComprehensiveEnergy,
  productionT: number,
  options: { benchmarks?: BenchmarkTable; coal?: CoalTable } = {},
): IndicatorGrade[] {
  const table = options.benchmarks ?? DEFAULT_REFERENCE.benchmarks
  const p = findBenchmark(productId, table)
  const all = [p, ...(p.companions ?? []).map((id) => findBenchmark(id, table))]
  return all.map((x) => gradeIndicator(x, energy, productionT, options))
}
