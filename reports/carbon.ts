import { coalFactor, DEFAULT_REFERENCE, localParts, selectGridFactor, type CoalFactorUsed, type GridFactorUsed, type TimeRange } from '../analytics/index.ts'
import { energyReport, type EnergyReport, type EnergyRow, type ReportDeps, type ReportGranularity } from './energy.ts'
import { linesOf, type Scope } from './scope.ts'

/**
 * CO2 and coal equivalent of a scope's electricity (analytics/README.md, "Coal equivalent and CO2"):
 * kg CO2 = kWh × the grid factor of the enterprise's region for the local year of the energy (newest
 * year ≤ it, else the parent region's); kgce = kWh × the GB/T 2589 electricity coefficient. Every
 * row names the factor it used.
 */

export interface CarbonRow extends EnergyRow {
  kgCo2: number
  /** Region and year of the grid factor used; null when the bucket spans years with different factors (see `factors`). */
  factorRegion: string | null
  factorYear: number | null
  kgCo2PerKwh: number | null
  factorVerified: boolean | null
  kgce: number
}

export interface CarbonReport {
  scope: string
  timezone: string
  granularity: ReportGranularity
  start: number
  end: number
  energyKwh: number
  kgCo2: number
  kgce: number
  rows: CarbonRow[]
  /** Every grid factor used, with its source and what was asked for. */
  factors: GridFactorUsed[]
  /** The coal-equivalent coefficient used. */
  coal: CoalFactorUsed
  missing: string[]
}

/** CO2 and kgce per bucket of an energy report (no store access: monthlyReport reuses it). */
export function carbonOfEnergy(
  deps: Pick<ReportDeps, 'reference'>,
  report: EnergyReport,
  region: string,
  monthly?: EnergyReport,
): Omit<CarbonReport, 'granularity'> & { granularity: ReportGranularity } {
  const reference = deps.reference ?? DEFAULT_REFERENCE
  const coal = coalFactor('electricity', reference.coal)
  const used = new Map<string, GridFactorUsed>()
  const factorFor = (year: number): GridFactorUsed => {
    const key = String(year)
    let f = used.get(key)
    if (!f) used.set(key, (f = selectGridFactor(region, year, reference.emissionFactors)))
    return f
  }
  const yearOf = (ts: number): number => localParts(ts, report.timezone).year
  const rows: CarbonRow[] = report.rows.map((r) => {
    const y0 = yearOf(r.start)
    const y1 = yearOf(r.end - 1)
    let kgCo2: number
    let single: GridFactorUsed | undefined
    if (y0 === y1 || !monthly) {
      single = factorFor(y0)
      kgCo2 = r.energyKwh * single.kgCo2PerKwh
    } else {
      // A bucket over several years: each month's energy with its own year's factor.
      kgCo2 = 0
      const factors = new Set<GridFactorUsed>()
      for (const m of monthly.rows) {
        if (m.start < r.start || m.start >= r.end) continue
        const f = factorFor(yearOf(m.start))
        factors.add(f)
        kgCo2 += m.energyKwh * f.kgCo2PerKwh
      }
      if (factors.size === 1) single = [...factors][0]
    }
    return {
      scope: r.scope,
      bucket: r.bucket,
      start: r.start,
      end: r.end,
      energyKwh: r.energyKwh,
      coverage: r.coverage,
      kgCo2,
      factorRegion: single?.region ?? null,
      factorYear: single?.year ?? null,
      kgCo2PerKwh: single?.kgCo2PerKwh ?? null,
      factorVerified: single?.verified ?? null,
      kgce: r.energyKwh * coal.kgcePerUnit,
    }
  })
  return {
    scope: report.scope,
    timezone: report.timezone,
    granularity: report.granularity,
    start: report.start,
    end: report.end,
    energyKwh: report.energyKwh,
    kgCo2: rows.reduce((s, r) => s + r.kgCo2, 0),
    kgce: report.energyKwh * coal.kgcePerUnit,
    rows,
    factors: [...used.values()].sort((a, b) => a.requested.year - b.requested.year),
    coal,
    missing: report.missing,
  }
}

export async function carbonReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: ReportGranularity): Promise<CarbonReport> {
  const lines = linesOf(deps.model, scope)
  const region = (lines[0] as (typeof lines)[number]).region
  const report = await energyReport(deps, scope, range, granularity)
  const spansYears = localParts(range.start, report.timezone).year !== localParts(range.end - 1, report.timezone).year
  const monthly = granularity === 'total' && spansYears ? await energyReport(deps, scope, range, 'month') : undefined
  return carbonOfEnergy(deps, report, region, monthly)
}
