import {
  coalFactor,
  comprehensiveEnergy,
  DEFAULT_REFERENCE,
  findBenchmark,
  gapPercent,
  gradeProduct,
  gradeSec,
  meterFlow,
  type BenchmarkProduct,
  type Bucket,
  type BucketAmount,
  type CarrierFlow,
  type GbGrade,
  type IndicatorGrade,
  type NdrcGrade,
  type RollupNode,
  type SecGrade,
  type TimeRange,
  type Ungraded,
} from '../analytics/index.ts'
import type { ProductionEntry } from '../records/index.ts'
import { lineCarrierFlows } from './comprehensive.ts'
import { energyReport, productionReport, type EnergyReport, type ProductionRow, type ReportDeps, type ReportGranularity } from './energy.ts'
import { linesOf, type Scope, type ScopeLine } from './scope.ts'

/**
 * Specific energy consumption per line with a product (analytics/README.md, "Specific energy
 * consumption"): kWh per unit of output = line electricity (energyReport) / output (the production
 * counter, or the line's production entries where there are any). When the line's product names a
 * benchmark (line.product.benchmark → analytics/reference/benchmarks.ts) the product and its
 * companions are graded on their own boundary and unit (analytics gradeIndicator): comprehensive
 * energy (kgce/t: every carrier metered or entered on the line, GB/T 2589-2020, exports subtracted)
 * or electricity only (kWh/t); ungraded, with the reason, when a carrier the boundary needs is
 * neither metered nor entered. NDRC 标杆/基准 and GB levels 1/2/3 (3 = 限定值) are separate results.
 */

/** A line's production in a bucket (`unit`: t or pcs), its energy, and the SEC graded (ReferenceGrade). */
export interface SecRow extends ProductionRow, ReferenceGrade {
  energyKwh: number
  /** min(energy coverage, output coverage) */
  coverage: number
  /** kWh per unit of output; null without output. */
  secKwhPerUnit: number | null
  /** comprehensive energy per tonne over every carrier metered or entered (GB/T 2589-2020); null for pieces or without output */
  secKgcePerT: number | null
  /** comprehensive energy of the line in the bucket, kgce (every carrier metered or entered, exports subtracted) */
  kgce: number
  /** the line's carriers in the bucket: source (meter / entry), conversion (coefficient / measured NCV), coverage */
  flows: CarrierFlow[]
  /** where the output comes from: the production counter or production entries (ERP …) */
  outputSource: 'meter' | 'entry'
  /** the product's indicator and its companions (e.g. clinker 综合能耗 and 综合电耗), each graded on its own */
  indicators: IndicatorGrade[]
  /** NDRC 标杆/基准 of the product's indicator (policy levels); null without NDRC levels or ungraded */
  ndrc: NdrcGrade | null
  /** GB levels 1/2/3 of the product's indicator (3 = 限定值, the legal limit); null without GB levels or ungraded */
  gb: GbGrade | null
  /** why the product's indicator has no value, coded */
  ungraded: Ungraded | null
  /** standard, version and basis of the product's indicator, e.g. 'GB 16780-2021; gb-ndrc-2025.2; GB/T 2589-2020 …' */
  standard: string | null
  conversionBasis: string | null
  benchmarkProduct: string | null
  benchmarkUnit: string | null
  /** SEC in the benchmark's unit. */
  value: number | null
  /** Best GB level met (1…3) or 'none'; null when the product has no GB levels. */
  gbLevel: string | null
  /** The benchmark values are flagged unverified in the reference data. */
  unverified: boolean | null
  note: string | null
}

export type GradeBasis = 'ndrc' | 'gb'

/** A SEC value graded against a reference product, with the levels used. */
export interface ReferenceGrade {
  grade: SecGrade | null
  /** ndrc = NDRC 标杆/基准; gb = GB level 1 / level 3 where the product has no NDRC levels. */
  basis: GradeBasis | null
  benchmark: number | null
  baseline: number | null
  gapToBenchmarkPct: number | null
  gapToBaselinePct: number | null
}

/**
 * Grades a SEC value (in the product's unit) with analytics gradeSec against NDRC 标杆/基准; a
 * product without NDRC levels is graded on its GB levels instead: ≤ level 1 → benchmark, ≤ level 3
 * (the mandatory limit) → compliant, else below_baseline (the convention of the simulator's
 * scenarios, simulators/scenario/benchmarks.ts). Gaps: (value − level) / |level| × 100, positive = worse.
 */
export function gradeAgainstReference(value: number, product: BenchmarkProduct): ReferenceGrade {
  const g = gradeSec(value, product)
  if (g.grade !== undefined && g.benchmark !== undefined && g.baseline !== undefined) {
    return {
      grade: g.grade,
      basis: 'ndrc',
      benchmark: g.benchmark,
      baseline: g.baseline,
      gapToBenchmarkPct: g.gapToBenchmarkPct ?? null,
      gapToBaselinePct: g.gapToBaselinePct ?? null,
    }
  }
  if (product.gbLevels) {
    const { level1, level3 } = product.gbLevels
    const grade: SecGrade = value <= level1 ? 'benchmark' : value <= level3 ? 'compliant' : 'below_baseline'
    return {
      grade,
      basis: 'gb',
      benchmark: level1,
      baseline: level3,
      gapToBenchmarkPct: gapPercent(value, level1),
      gapToBaselinePct: gapPercent(value, level3),
    }
  }
  return { grade: null, basis: null, benchmark: null, baseline: null, gapToBenchmarkPct: null, gapToBaselinePct: null }
}

export interface SecReport {
  scope: string
  timezone: string
  granularity: ReportGranularity
  start: number
  end: number
  rows: SecRow[]
  /** Sources of the benchmark values, the coal coefficient table and the benchmark table version used. */
  sources: { benchmarks: Record<string, string>; coal: string; benchmarkVersion: string }
}

function lineNodes(node: RollupNode): RollupNode[] {
  if (node.level === 'line') return [node]
  if (node.level === 'device') return []
  return node.children.flatMap(lineNodes)
}

/** Per line path, the flows of each bucket (reports/comprehensive.ts lineCarrierFlows). */
export type LineFlows = ReadonlyMap<string, readonly (readonly CarrierFlow[])[]>

/** The line's flows of a bucket; without `flows`, its electricity from the energy report only. */
function bucketFlows(
  deps: Pick<ReportDeps, 'reference'>,
  l: ScopeLine,
  b: { energyKwh: number; coverage: number },
  i: number,
  flows: LineFlows | undefined,
): CarrierFlow[] {
  const f = flows?.get(l.path)?.[i]
  if (f) return [...f]
  return [
    meterFlow(
      {
        carrier: 'electricity',
        direction: 'import',
        amount: b.energyKwh,
        coverage: b.coverage,
        refs: l.energyDevices.map((d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`),
      },
      deps.reference?.coal,
    ),
  ]
}

/** Grades of one line's bucket: the product's indicator first, then its companions. */
function gradesOf(
  deps: Pick<ReportDeps, 'reference'>,
  bench: BenchmarkProduct | undefined,
  flows: readonly CarrierFlow[],
  output: number,
  unit: string,
): IndicatorGrade[] {
  if (!bench || unit !== 't') return []
  const reference = deps.reference ?? DEFAULT_REFERENCE
  return gradeProduct(bench.id, comprehensiveEnergy(flows, reference.coal), output, { benchmarks: reference.benchmarks, coal: reference.coal })
}

/**
 * SEC rows from an energy report (with its roll-up tree), a production report of the same buckets
 * and, when given, every carrier of each line per bucket (`flows`; without it a line's carriers are
 * its electricity only, so a fuel-burning product is ungraded and says so).
 */
export function secOf(
  deps: Pick<ReportDeps, 'reference' | 'model'>,
  scope: Scope,
  energy: EnergyReport,
  production: readonly ProductionRow[],
  flows?: LineFlows,
): SecReport {
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const coal = coalFactor('electricity', reference.coal)
  const lines = secLines(deps, scope)
  const nodes = new Map(lineNodes(energy.node).map((n) => [n.path, n]))
  const outputByKey = new Map(production.map((p) => [`${p.line}|${p.start}`, p]))
  const sources: Record<string, string> = {}
  const rows: SecRow[] = []
  for (const l of lines) {
    const product = l.model.product as NonNullable<typeof l.model.product>
    const bench = product.benchmark !== undefined ? findBenchmark(product.benchmark, reference.benchmarks) : undefined
    if (bench) sources[bench.id] = bench.source
    // A device scope has no line node: its line's energy is the device's own.
    const buckets = nodes.get(l.path)?.buckets ?? (scope.device !== undefined ? energy.node.buckets : undefined) ?? []
    buckets.forEach((b, i) => {
      const out = outputByKey.get(`${l.path}|${b.start}`)
      const f = bucketFlows(deps, l, b, i, flows)
      rows.push(secRowOf(l, b, out, f, gradesOf(deps, bench, f, out?.output ?? 0, product.unit), bench, product.id, product.unit))
    })
  }
  return {
    scope: energy.scope,
    timezone: energy.timezone,
    granularity: energy.granularity,
    start: energy.start,
    end: energy.end,
    rows,
    sources: { benchmarks: sources, coal: `${coal.tableVersion}: ${coal.source}`, benchmarkVersion: reference.benchmarks.version },
  }
}

function secLines(deps: Pick<ReportDeps, 'model'>, scope: Scope): ScopeLine[] {
  return linesOf(deps.model, scope).filter((l) => l.model.product !== undefined && l.productionDevice !== undefined)
}

function secRowOf(
  l: ScopeLine,
  b: { label: string; start: number; end: number; energyKwh: number; coverage: number },
  out: (ProductionRow & { source?: 'meter' | 'entry' }) | undefined,
  flows: CarrierFlow[],
  grades: IndicatorGrade[],
  bench: BenchmarkProduct | undefined,
  productId: string,
  unit: string,
): SecRow {
  const output = out?.output ?? 0
  const kgce = flows.reduce((s, f) => s + f.kgce, 0)
  const secKwh = output > 0 ? b.energyKwh / output : null
  const primary = grades[0]
  let note: string | null = output > 0 ? null : 'no output in the bucket'
  if (bench && output > 0 && unit !== 't') note = `benchmark ${bench.id} is per tonne; product ${productId} is counted in pieces`
  else if (primary?.ungraded && output > 0) note = primary.ungraded.reason
  const value = primary ? primary.value : null
  const legacy = bench && value !== null ? gradeAgainstReference(value, bench) : undefined
  const gb = primary?.gb ?? null
  return {
    line: l.path,
    product: productId,
    unit,
    bucket: b.label,
    start: b.start,
    end: b.end,
    energyKwh: b.energyKwh,
    output,
    coverage: Math.min(
      b.coverage,
      out?.coverage ?? 0,
      ...flows.filter((f) => bench?.carriers?.includes(f.carrier) ?? f.carrier === 'electricity').map((f) => f.coverage),
    ),
    secKwhPerUnit: secKwh,
    secKgcePerT: output > 0 && unit === 't' ? kgce / output : null,
    kgce,
    flows,
    outputSource: out?.source ?? 'meter',
    indicators: grades,
    ndrc: primary?.ndrc ?? null,
    gb,
    ungraded: primary?.ungraded ?? null,
    standard: primary ? [primary.standard, primary.benchmarkVersion].filter((x) => x !== null).join('; ') : null,
    conversionBasis: primary?.basis ?? null,
    benchmarkProduct: bench?.id ?? null,
    benchmarkUnit: bench?.unit ?? null,
    value: bench ? value : secKwh,
    grade: legacy?.grade ?? null,
    basis: legacy?.basis ?? null,
    benchmark: legacy?.benchmark ?? null,
    baseline: legacy?.baseline ?? null,
    gapToBenchmarkPct: legacy?.gapToBenchmarkPct ?? null,
    gapToBaselinePct: legacy?.gapToBaselinePct ?? null,
    gbLevel: gb === null ? null : gb.level === null ? 'none' : String(gb.level),
    unverified: primary ? primary.warnings.length > 0 : null,
    note,
  }
}

/**
 * Output rows with the lines' production entries (ERP …): in a bucket where a line has entries its
 * output is their sum (pro rata by time), else the counter's.
 */
export function withProductionEntries(
  rows: readonly ProductionRow[],
  entries: readonly ProductionEntry[],
): Array<ProductionRow & { source: 'meter' | 'entry' }> {
  return rows.map((r) => {
    const mine = entries.filter((e) => `${e.enterprise}/${e.site}/${e.line}` === r.line && e.end > r.start && e.start < r.end)
    if (mine.length === 0) return { ...r, source: 'meter' as const }
    let output = 0
    let covered = 0
    for (const e of mine) {
      const o = Math.min(e.end, r.end) - Math.max(e.start, r.start)
      output += (e.amount * o) / (e.end - e.start)
      covered += o
    }
    return { ...r, output, coverage: Math.min(1, covered / (r.end - r.start)), source: 'entry' as const }
  })
}

/** Every carrier of the SEC lines per bucket (meters and entries), electricity from the energy report's line buckets. */
export async function secLineFlows(deps: ReportDeps, scope: Scope, energy: EnergyReport): Promise<LineFlows> {
  const lines = secLines(deps, scope).filter((l) => l.model.product?.benchmark !== undefined)
  if (lines.length === 0) return new Map()
  const nodes = new Map(lineNodes(energy.node).map((n) => [n.path, n]))
  const buckets: Bucket[] = energy.rows.map((r) => ({ start: r.start, end: r.end, label: r.bucket }))
  const electricity = new Map<string, BucketAmount[]>()
  for (const l of lines) {
    const bs = nodes.get(l.path)?.buckets ?? (scope.device !== undefined ? energy.node.buckets : [])
    electricity.set(
      l.path,
      bs.map((b) => ({ amount: b.energyKwh, coverage: b.coverage })),
    )
  }
  return lineCarrierFlows(deps, lines, buckets, { start: energy.start, end: energy.end }, electricity)
}

/** The production report with the scope's production entries applied (withProductionEntries). */
export async function productionWithEntries(
  deps: ReportDeps,
  scope: Scope,
  range: TimeRange,
  granularity: ReportGranularity,
): Promise<Array<ProductionRow & { source: 'meter' | 'entry' }>> {
  const q = { enterprise: scope.enterprise, ...(scope.site ? { site: scope.site } : {}), ...(scope.line ? { line: scope.line } : {}), ...range }
  const [production, entries] = await Promise.all([
    productionReport(deps, scope, range, granularity),
    deps.records ? deps.records.productionEntries(q) : Promise.resolve([]),
  ])
  return withProductionEntries(production.rows, entries)
}

/** SEC per line with a product in the scope, per bucket, graded on every carrier metered or entered. */
export async function secReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<SecReport> {
  const [energy, production] = await Promise.all([energyReport(deps, scope, range, granularity), productionWithEntries(deps, scope, range, granularity)])
  return secOf(deps, scope, energy, production, await secLineFlows(deps, scope, energy))
}
