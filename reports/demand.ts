import { demandFromEnergy, monthlyMaxDemand, OVER_CONTRACT_SHARE, type Bucket, type DemandWindow, type Increment, type TimeRange } from '../analytics/index.ts'
import { deviceKey } from '../core/plant.ts'
import { accountsOf } from './accounts.ts'
import {
  clipIncrements,
  counterReadings,
  readingIncrements,
  scopeBuckets,
  scopeEnergyIntervals,
  scopeTimezone,
  type ReportDeps,
  type ReportGranularity,
} from './energy.ts'
import { formatScope, linesOf, scopeLevel, type Scope } from './scope.ts'

/**
 * 15-minute demand of a scope (analytics/README.md, demand.ts): energy of the scope's meters in each
 * local quarter hour / 0.25 h; the maximum per bucket and per month, against the site's contracted
 * demand (site.contractedDemandKw) when the scope lies within one site.
 */

export type DemandGranularity = ReportGranularity | '15m'

export interface DemandRow {
  scope: string
  bucket: string
  start: number
  end: number
  /** The highest 15-minute demand in the bucket, kW (for 15m: the window's own demand). */
  maxDemandKw: number
  /** Start of the window where it occurred, epoch ms. */
  maxAt: number
  energyKwh: number
  /** Lowest coverage among the bucket's windows (a partly covered window understates demand). */
  coverage: number
  contractedDemandKw: number | null
  /** maxDemandKw / contractedDemandKw; null without a contract. */
  contractRatio: number | null
  overContract: boolean | null
}

export interface DemandMonth {
  month: string
  maxDemandKw: number
  maxAt: number
  coverage: number
  contractedDemandKw: number | null
  overContract: boolean | null
}

/** The monthly maximum of one supply account (its own meters, never pooled with another account's). */
export interface AccountDemandMonth {
  account: string
  origin: 'configured' | 'implicit-lines'
  month: string
  /** Maximum fixed 15-minute window of quarter-hour readings, kW (GET /bill has the sliding figure). */
  maxDemandKw: number
  maxAt: number
  contractedDemandKw: number | null
  contractRatio: number | null
  /** Above 105 % of the contract: the part above it is charged double. */
  over105: boolean | null
}

export interface DemandReport {
  scope: string
  timezone: string
  granularity: DemandGranularity
  start: number
  end: number
  /** The site's contracted demand when the scope lies within one site, else null. */
  contractedDemandKw: number | null
  maxDemandKw: number
  maxAt: number | null
  rows: DemandRow[]
  months: DemandMonth[]
  /** Enterprise and site scopes: each supply account's monthly maximum, never pooled. */
  accounts: AccountDemandMonth[]
  missing: string[]
}

/** Each account's monthly maximum over the range (enterprise and site scopes; else none). */
async function accountDemand(deps: ReportDeps, scope: Scope, range: TimeRange, timezone: string): Promise<AccountDemandMonth[]> {
  const level = scopeLevel(scope)
  if (level !== 'enterprise' && level !== 'site') return []
  const accounts = accountsOf(deps.model, scope)
  const readings = await counterReadings(
    deps,
    accounts.flatMap((a) => a.meters),
    'energy_import_kwh',
    range,
  )
  const out: AccountDemandMonth[] = []
  for (const a of accounts) {
    const intervals: Increment[] = []
    for (const m of a.meters) {
      const samples = readings.get(deviceKey(m))
      if (samples) for (const iv of clipIncrements(readingIncrements(samples).increments, range)) intervals.push(iv)
    }
    const contract = a.contractedDemandKw ?? null
    for (const m of monthlyMaxDemand(demandFromEnergy(intervals, timezone, range), timezone)) {
      out.push({
        account: a.path,
        origin: a.origin,
        month: m.month,
        maxDemandKw: m.demandKw,
        maxAt: m.start,
        contractedDemandKw: contract,
        contractRatio: contract === null ? null : m.demandKw / contract,
        over105: contract === null ? null : m.demandKw > OVER_CONTRACT_SHARE * contract,
      })
    }
  }
  return out
}

export async function demandReport(deps: ReportDeps, scope: Scope, range: TimeRange, granularity: DemandGranularity): Promise<DemandReport> {
  const lines = linesOf(deps.model, scope)
  const timezone = scopeTimezone(deps.model, lines)
  const sites = new Set(lines.map((l) => `${l.enterprise}/${l.site}`))
  const contracted = sites.size === 1 ? (lines[0]?.contractedDemandKw ?? null) : null
  const byLine = await scopeEnergyIntervals(deps, scope, range)
  // Coverage of a window sums over the devices' (overlapping) intervals: divide by their number.
  const devices = Math.max(
    1,
    byLine.reduce((n, l) => n + l.devices + l.missing.length, 0),
  )
  const windows: DemandWindow[] = demandFromEnergy(
    byLine.flatMap((l) => l.intervals),
    timezone,
    range,
  ).map((w) => ({ ...w, coverage: w.coverage / devices }))
  const path = formatScope(scope)
  const vsContract = (kw: number) => ({
    contractedDemandKw: contracted,
    contractRatio: contracted === null ? null : kw / contracted,
    overContract: contracted === null ? null : kw > contracted,
  })
  let rows: DemandRow[]
  if (granularity === '15m') {
    rows = windows.map((w) => ({
      scope: path,
      bucket: new Date(w.start).toISOString(),
      start: w.start,
      end: w.end,
      maxDemandKw: w.demandKw,
      maxAt: w.start,
      energyKwh: w.energyKwh,
      coverage: w.coverage,
      ...vsContract(w.demandKw),
    }))
  } else {
    const buckets = scopeBuckets(range, granularity, lines, timezone)
    rows = []
    let i = 0
    for (const b of buckets as Bucket[]) {
      let max: DemandWindow | undefined
      let energy = 0
      let coverage = 1
      let any = false
      // Windows are back to back from range.start; a window belongs to the bucket it starts in.
      for (; i < windows.length && (windows[i] as DemandWindow).start < b.end; i++) {
        const w = windows[i] as DemandWindow
        any = true
        energy += w.energyKwh
        coverage = Math.min(coverage, w.coverage)
        if (!max || w.demandKw > max.demandKw) max = w
      }
      const kw = max?.demandKw ?? 0
      rows.push({
        scope: path,
        bucket: b.label,
        start: b.start,
        end: b.end,
        maxDemandKw: kw,
        maxAt: max?.start ?? b.start,
        energyKwh: energy,
        coverage: any ? coverage : 0,
        ...vsContract(kw),
      })
    }
  }
  const months = monthlyMaxDemand(windows, timezone).map((m) => ({
    month: m.month,
    maxDemandKw: m.demandKw,
    maxAt: m.start,
    coverage: m.coverage,
    contractedDemandKw: contracted,
    overContract: contracted === null ? null : m.demandKw > contracted,
  }))
  const top = months.reduce<DemandMonth | undefined>((a, m) => (!a || m.maxDemandKw > a.maxDemandKw ? m : a), undefined)
  return {
    scope: path,
    timezone,
    granularity,
    start: range.start,
    end: range.end,
    contractedDemandKw: contracted,
    maxDemandKw: top?.maxDemandKw ?? 0,
    maxAt: top?.maxAt ?? null,
    rows,
    months,
    accounts: await accountDemand(deps, scope, range, timezone),
    missing: byLine.flatMap((l) => l.missing),
  }
}
