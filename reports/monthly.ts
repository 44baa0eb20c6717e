import type { SecGrade, TimeRange } from '../analytics/index.ts'
import { carbonOfEnergy, type CarbonReport } from './carbon.ts'
import { costReport, type CostReport } from './cost.ts'
import { energyReport, type ReportDeps } from './energy.ts'
import { linesOf, type Scope } from './scope.ts'
import { productionWithEntries, secLineFlows, secOf, type SecReport, type SecRow } from './sec.ts'

/**
 * The monthly report of a scope: energy, cost, CO2 (and kgce) and SEC per local month in one answer.
 * The counter readings are fetched once and shared by the parts (ReportDeps.memo).
 */

export interface MonthlyRow {
  scope: string
  month: string
  start: number
  end: number
  energyKwh: number
  coverage: number
  energyCost: number
  /** Two-part tariffs: max 15-minute demand × demand charge; 0 otherwise. */
  demandCharge: number
  totalCost: number
  kgCo2: number
  kgce: number
  /** Output and SEC when the scope holds exactly one line with a product; else null (see `sec`). */
  output: number | null
  secKwhPerUnit: number | null
  secValue: number | null
  grade: SecGrade | null
}

export interface MonthlyReport {
  scope: string
  timezone: string
  start: number
  end: number
  currency: string
  totals: { energyKwh: number; coverage: number; totalCost: number; kgCo2: number; kgce: number }
  rows: MonthlyRow[]
  /** SEC per line with a product and month. */
  sec: SecRow[]
  /** The benchmark source per graded product and the coal table (version: source) the SEC used. */
  secSources: SecReport['sources']
  /** Tariffs (with versions and sources), grid factors and the coal coefficient used. */
  tariffs: CostReport['tariffs']
  factors: CarbonReport['factors']
  coal: CarbonReport['coal']
  missing: string[]
}

export async function monthlyReport(deps: ReportDeps, scope: Scope, range: TimeRange): Promise<MonthlyReport> {
  const shared: ReportDeps = { ...deps, memo: deps.memo ?? new Map() }
  const lines = linesOf(deps.model, scope)
  const [energy, cost, production] = await Promise.all([
    energyReport(shared, scope, range, 'month'),
    costReport(shared, scope, range, 'month'),
    productionWithEntries(shared, scope, range, 'month'),
  ])
  const carbon = carbonOfEnergy(shared, energy, (lines[0] as (typeof lines)[number]).region)
  const sec = secOf(shared, scope, energy, production, await secLineFlows(shared, scope, energy))
  const productLines = new Set(sec.rows.map((r) => r.line))
  const costOf = new Map<string, { energyCost: number; demandCharge: number }>()
  for (const r of cost.rows) {
    const c = costOf.get(r.bucket) ?? { energyCost: 0, demandCharge: 0 }
    if (r.period === 'demand_charge') c.demandCharge += r.cost
    else c.energyCost += r.cost
    costOf.set(r.bucket, c)
  }
  const rows: MonthlyRow[] = energy.rows.map((e, i) => {
    const c = costOf.get(e.bucket) ?? { energyCost: 0, demandCharge: 0 }
    const co2 = carbon.rows[i]
    const s = productLines.size === 1 ? sec.rows.find((r) => r.start === e.start) : undefined
    return {
      scope: e.scope,
      month: e.bucket,
      start: e.start,
      end: e.end,
      energyKwh: e.energyKwh,
      coverage: e.coverage,
      energyCost: c.energyCost,
      demandCharge: c.demandCharge,
      totalCost: c.energyCost + c.demandCharge,
      kgCo2: co2?.kgCo2 ?? 0,
      kgce: co2?.kgce ?? 0,
      output: s ? s.output : null,
      secKwhPerUnit: s?.secKwhPerUnit ?? null,
      secValue: s?.value ?? null,
      grade: s?.grade ?? null,
    }
  })
  return {
    scope: energy.scope,
    timezone: energy.timezone,
    start: range.start,
    end: range.end,
    currency: cost.currency,
    totals: { energyKwh: energy.energyKwh, coverage: energy.coverage, totalCost: cost.totalCost, kgCo2: carbon.kgCo2, kgce: carbon.kgce },
    rows,
    sec: sec.rows,
    secSources: sec.sources,
    tariffs: cost.tariffs,
    factors: carbon.factors,
    coal: carbon.coal,
    missing: energy.missing,
  }
}
