import {
  coalFactor,
  DEFAULT_REFERENCE,
  findBenchmark,
  gapPercent,
  gradeSec,
  type BenchmarkProduct,
  type RollupNode,
  type SecGrade,
  type TimeRange,
} from '../analytics/index.ts'
import { energyReport, productionReport, type EnergyReport, type ProductionRow, type ReportDeps, type ReportGranularity } from './energy.ts'
import { linesOf, type Scope } from './scope.ts'

/**
 * Specific energy consumption per line with a product (analytics/README.md, "Specific energy
 * consumption"): kWh per unit of output = line energy (energyReport) / output (productionReport);
 * when the line's product names a benchmark (line.product.benchmark → analytics/reference/benchmarks.ts)
 * the value is converted to the benchmark's unit (kgce/t: kWh × 0.1229 kgce/kWh, GB/T 2589 — the
 * line's electricity only; kWh/t as is) and graded benchmark / compliant / below_baseline with the
 * gap in percent. Lines without a benchmark get the value and no grade.
 */

/** A line's production in a bucket (`unit`: t or pcs), its energy, and the SEC graded (ReferenceGrade). */
export interface SecRow extends ProductionRow, ReferenceGrade {
  energyKwh: number
  /** min(energy coverage, output coverage) */
  coverage: number
  /** kWh per unit of output; null without output. */
  secKwhPerUnit: number | null
  /** kgce per tonne (electricity only); null for pieces or without output. */
  secKgcePerT: number | null
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
  /** Sources of the benchmark values and the coal coefficient used. */
  sources: { benchmarks: Record<string, string>; coal: string }
}

function lineNodes(node: RollupNode): RollupNode[] {
  if (node.level === 'line') return [node]
  if (node.level === 'device') return []
  return node.children.flatMap(lineNodes)
}

/** SEC rows from an energy report (with its roll-up tree) and a production report of the same buckets. */
export function secOf(deps: Pick<ReportDeps, 'reference' | 'model'>, scope: Scope, energy: EnergyReport, production: readonly ProductionRow[]): SecReport {
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const coal = coalFactor('electricity', reference.coal)
  const lines = linesOf(deps.model, scope).filter((l) => l.model.product !== undefined && l.productionDevice !== undefined)
  // A device scope has no line node: its line's energy is the device's own.
  const nodes = new Map(lineNodes(energy.node).map((n) => [n.path, n]))
  const outputByKey = new Map(production.map((p) => [`${p.line}|${p.start}`, p]))
  const sources: Record<string, string> = {}
  const rows: SecRow[] = []
  for (const l of lines) {
    const product = l.model.product as NonNullable<typeof l.model.product>
    const bench = product.benchmark !== undefined ? findBenchmark(product.benchmark, reference.benchmarks) : undefined
    if (bench) sources[bench.id] = bench.source
    const buckets = nodes.get(l.path)?.buckets ?? (scope.device !== undefined ? energy.node.buckets : undefined) ?? []
    for (const b of buckets) {
      const out = outputByKey.get(`${l.path}|${b.start}`)
      const output = out?.output ?? 0
      const secKwh = output > 0 ? b.energyKwh / output : null
      const secKgce = secKwh !== null && product.unit === 't' ? secKwh * coal.kgcePerUnit : null
      let note: string | null = output > 0 ? null : 'no output in the bucket'
      let value: number | null = null
      if (bench && secKwh !== null) {
        if (product.unit !== 't') note = `benchmark ${bench.id} is per tonne; product ${product.id} is counted in pieces`
        else if (bench.unit === 'kgce/t') value = secKgce
        else if (bench.unit === 'kWh/t') value = secKwh
        else note = `benchmark unit ${bench.unit} is not kgce/t or kWh/t`
      }
      const g = bench && value !== null ? gradeSec(value, bench) : undefined
      const r = bench && value !== null ? gradeAgainstReference(value, bench) : undefined
      rows.push({
        line: l.path,
        product: product.id,
        unit: product.unit,
        bucket: b.label,
        start: b.start,
        end: b.end,
        energyKwh: b.energyKwh,
        output,
        coverage: Math.min(b.coverage, out?.coverage ?? 0),
        secKwhPerUnit: secKwh,
        secKgcePerT: secKgce,
        benchmarkProduct: bench?.id ?? null,
        benchmarkUnit: bench?.unit ?? null,
        value: bench ? value : secKwh,
        grade: r?.grade ?? null,
        basis: r?.basis ?? null,
        benchmark: r?.benchmark ?? null,
        baseline: r?.baseline ?? null,
        gapToBenchmarkPct: r?.gapToBenchmarkPct ?? null,
        gapToBaselinePct: r?.gapToBaselinePct ?? null,
        gbLevel: g?.gbLevel === undefined ? null : String(g.gbLevel),
        unverified: g ? g.unverified : null,
        note,
      })
    }
  }
  return {
    scope: energy.scope,
    timezone: energy.timezone,
    granularity: energy.granularity,
    start: energy.start,
    end: energy.end,
    rows,
    sources: { benchmarks: sources, coal: `${coal.tableVersion}: ${coal.source}` },
  }
}

/** SEC per line with a product in the scope, per bucket. */
export async function secReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<SecReport> {
  const [energy, production] = await Promise.all([energyReport(deps, scope, range, granularity), productionReport(deps, scope, range, granularity)])
  return secOf(deps, scope, energy, production.rows)
}
