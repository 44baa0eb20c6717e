import { analyticsError } from './errors.ts'
import { demandFromEnergy, monthKey, monthlyMaxDemand, type MonthlyMaxDemand } from './demand.ts'
import { DAY_MS, MINUTE_MS } from '../core/duration.ts'
import { assertTimeZone, formatClock, localParts, parseClock, startOfLocalDate, wallToInstant } from './time.ts'
import type { Tariff, TariffVersion } from './reference/schemas.ts'
import { REFERENCE_CONFIG_KEYS } from './reference/config-keys.ts'
import type { AmountInterval } from './types.ts'

/**
 * Time-of-use cost. A tariff has versions by effective date (local date in the tariff's zone); each
 * version has seasons (sets of months) whose spans give a period for every minute of the day. An
 * interval is split wherever the period, the month or the version changes, and its energy is spread
 * pro rata by time (constant power inside an interval).
 */

export interface TariffProblem {
  version: string
  season?: string
  problem:
    | 'overlap'
    | 'missing'
    | 'month-overlap'
    | 'month-missing'
    | 'unpriced-period'
    | 'bad-span'
    | 'no-demand-charge'
    | 'duplicate-date'
    | 'bad-date'
    | 'bad-timezone'
  /** 'HH:MM' range for overlaps and missing hours. */
  from?: string
  to?: string
  periods?: string[]
  months?: number[]
  message: string
}

interface Segment {
  from: number
  to: number
  period: string
}

interface CompiledVersion {
  version: TariffVersion
  start: number
  /** By month 1–12: segments covering 0–1440 minutes. */
  segmentsByMonth: Segment[][]
}

export interface CompiledTariff {
  tariff: Tariff
  versions: CompiledVersion[]
}

function minuteRanges(minutes: number[], predicate: (m: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let m = 0; m < minutes.length; m++) {
    if (!predicate(m)) continue
    const last = out[out.length - 1]
    if (last && last[1] === m) last[1] = m + 1
    else out.push([m, m + 1])
  }
  return out
}

/**
 * Every problem of a tariff: overlapping or missing minutes of the day in a season, months covered
 * twice or not at all, periods without a price, two-part versions without a demand charge.
 */
export function tariffProblems(tariff: Tariff): TariffProblem[] {
  const problems: TariffProblem[] = []
  try {
    assertTimeZone(tariff.timezone)
  } catch {
    problems.push({ version: '*', problem: 'bad-timezone', message: `unknown time zone ${JSON.stringify(tariff.timezone)}` })
  }
  const dates = new Set<string>()
  for (const v of tariff.versions) {
    if (dates.has(v.effectiveFrom)) problems.push({ version: v.id, problem: 'duplicate-date', message: `two versions take effect on ${v.effectiveFrom}` })
    dates.add(v.effectiveFrom)
    if (Number.isNaN(Date.parse(`${v.effectiveFrom}T00:00:00Z`)))
      problems.push({ version: v.id, problem: 'bad-date', message: `effectiveFrom ${v.effectiveFrom} is not a date` })
    if (v.kind === 'two-part' && v.demandChargePerKwMonth === undefined) {
      problems.push({ version: v.id, problem: 'no-demand-charge', message: 'a two-part tariff needs demandChargePerKwMonth' })
    }
    const monthOwner = new Map<number, string[]>()
    for (const season of v.seasons) {
      for (const m of season.months) monthOwner.set(m, [...(monthOwner.get(m) ?? []), season.name])
      const owners: string[][] = Array.from({ length: 1440 }, () => [])
      for (const span of season.spans) {
        const from = parseClock(span.from)
        const to = parseClock(span.to)
        if (from === undefined || to === undefined || from === 1440 || from === to) {
          problems.push({
            version: v.id,
            season: season.name,
            problem: 'bad-span',
            from: span.from,
            to: span.to,
            message: `span ${span.from}–${span.to} (${span.period}) is empty or malformed`,
          })
          continue
        }
        if (!(span.period in v.pricesPerKwh)) {
          problems.push({
            version: v.id,
            season: season.name,
            problem: 'unpriced-period',
            periods: [span.period],
            message: `period ${span.period} has no price`,
          })
        }
        // to ≤ from wraps past midnight (22:00–06:00).
        const end = to > from ? to : to + 1440
        for (let m = from; m < end; m++) (owners[m % 1440] as string[]).push(span.period)
      }
      for (const [a, b] of minuteRanges(
        owners.map((o) => o.length),
        (m) => (owners[m] as string[]).length > 1,
      )) {
        const periods = [...new Set(owners.slice(a, b).flat())]
        problems.push({
          version: v.id,
          season: season.name,
          problem: 'overlap',
          from: formatClock(a),
          to: formatClock(b),
          periods,
          message: `${formatClock(a)}–${formatClock(b)} is in more than one period (${periods.join(', ')})`,
        })
      }
      for (const [a, b] of minuteRanges(
        owners.map((o) => o.length),
        (m) => (owners[m] as string[]).length === 0,
      )) {
        problems.push({
          version: v.id,
          season: season.name,
          problem: 'missing',
          from: formatClock(a),
          to: formatClock(b),
          message: `${formatClock(a)}–${formatClock(b)} is in no period`,
        })
      }
    }
    const twice = [...monthOwner].filter(([, s]) => s.length > 1).map(([m]) => m)
    if (twice.length > 0)
      problems.push({ version: v.id, problem: 'month-overlap', months: twice, message: `months ${twice.join(', ')} are in more than one season` })
    const missing = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].filter((m) => !monthOwner.has(m))
    if (missing.length > 0)
      problems.push({ version: v.id, problem: 'month-missing', months: missing, message: `months ${missing.join(', ')} are in no season` })
  }
  return problems
}

/** Throws ANALYTICS_ERR_TARIFF listing every problem (details: TariffProblem[]) unless the tariff is valid. */
export function validateTariff(tariff: Tariff): void {
  const problems = tariffProblems(tariff)
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.version}${p.season ? ` / ${p.season}` : ''}: ${p.message}`).join('\n')
    throw analyticsError('ANALYTICS_ERR_TARIFF', `tariff ${tariff.id}: ${problems.length} problem(s)\n${lines}`, problems)
  }
}

/** Validates and prepares a tariff for pricing (do it once, price many times). */
export function compileTariff(tariff: Tariff): CompiledTariff {
  validateTariff(tariff)
  const versions = tariff.versions
    .map((version): CompiledVersion => {
      const [y, m, d] = version.effectiveFrom.split('-').map(Number) as [number, number, number]
      const segmentsByMonth: Segment[][] = []
      for (const season of version.seasons) {
        const segs: Segment[] = []
        for (const span of season.spans) {
          const from = parseClock(span.from) as number
          const to = parseClock(span.to) as number
          if (to > from) segs.push({ from, to, period: span.period })
          else {
            segs.push({ from, to: 1440, period: span.period })
            if (to > 0) segs.push({ from: 0, to, period: span.period })
          }
        }
        segs.sort((a, b) => a.from - b.from)
        for (const month of season.months) segmentsByMonth[month] = segs
      }
      return { version, start: startOfLocalDate(y, m, d, tariff.timezone), segmentsByMonth }
    })
    .sort((a, b) => a.start - b.start)
  return { tariff, versions }
}

export interface PeriodCost {
  period: string
  energyKwh: number
  cost: number
  /** The price used; when several versions priced this period, the energy-weighted mean. */
  pricePerKwh: number
}

export interface MonthCost {
  month: string
  energyKwh: number
  energyCost: number
  /** Two-part only. */
  maxDemand?: MonthlyMaxDemand
  demandCharge?: number
  totalCost: number
  versionId: string
}

export interface TouCostResult {
  tariffId: string
  currency: string
  energyKwh: number
  energyCost: number
  demandCharge: number
  totalCost: number
  byPeriod: PeriodCost[]
  byMonth: MonthCost[]
  /** The versions that priced some of the energy, with their sources. */
  versions: Array<{ id: string; effectiveFrom: string; kind: TariffVersion['kind']; energyKwh: number; cost: number; source: string }>
  /** Versions that priced energy more than STALE_VERSION_MONTHS after they took effect (issue: prices change monthly). */
  staleVersions: StaleVersionWarning[]
}

/** A version older than this (months between its effectiveFrom and the energy it prices) is flagged. */
export const STALE_VERSION_MONTHS = 12

/**
 * A version that priced energy more than STALE_VERSION_MONTHS after it took effect: the agency
 * purchase (代理购电) prices change every month, so the answer says so instead of pricing silently.
 */
export interface StaleVersionWarning {
  versionId: string
  effectiveFrom: string
  /** End of the last piece it priced, epoch ms. */
  pricedUntil: number
  /** Whole local months from effectiveFrom to the start of the last piece it priced. */
  monthsOld: number
  message: string
}

export interface TouCostOptions {
  /**
   * Two-part tariffs: the monthly maximum 15-minute demand per local month 'YYYY-MM'. Absent: it is
   * computed from the intervals themselves (15-minute windows of their energy).
   */
  monthlyMaxDemandKw?: Record<string, number>
}

/** A piece of an interval inside one period of one version (exposed for reports and tests). */
export interface PricedPiece {
  start: number
  end: number
  energyKwh: number
  period: string
  pricePerKwh: number
  versionId: string
}

/** Splits intervals at period, month and version boundaries and prices each piece. */
export function pricePieces(intervals: readonly AmountInterval[], compiled: CompiledTariff): PricedPiece[] {
  const tz = compiled.tariff.timezone
  const versions = compiled.versions
  const out: PricedPiece[] = []
  for (const iv of intervals) {
    const span = iv.end - iv.start
    if (!(span > 0)) throw analyticsError('ANALYTICS_ERR_INPUT', `interval [${iv.start}, ${iv.end}) is empty`)
    let t = iv.start
    while (t < iv.end) {
      let vi = -1
      for (let i = versions.length - 1; i >= 0; i--) {
        if ((versions[i] as CompiledVersion).start <= t) {
          vi = i
          break
        }
      }
      if (vi < 0) {
        throw analyticsError(
          'ANALYTICS_ERR_TARIFF',
          `tariff ${compiled.tariff.id}: no version in force at ${new Date(t).toISOString()} (first takes effect ${versions[0]?.version.effectiveFrom}): add a version under ${REFERENCE_CONFIG_KEYS.tariffs} (id ${compiled.tariff.id}) in the config file`,
          { tariff: compiled.tariff.id, at: t, configKey: REFERENCE_CONFIG_KEYS.tariffs },
        )
      }
      const cv = versions[vi] as CompiledVersion
      const nextVersion = versions[vi + 1]?.start ?? Infinity
      const l = localParts(t, tz)
      const segs = cv.segmentsByMonth[l.month] as Segment[]
      const seg = segs.find((s) => s.from <= l.minuteOfDay && l.minuteOfDay < s.to) as Segment
      const dayStartNaive = Math.floor(l.naive / DAY_MS) * DAY_MS
      let boundary = wallToInstant(dayStartNaive + seg.to * MINUTE_MS, tz)
      // A boundary inside a DST gap can map back before t: step at least to the next minute.
      if (boundary <= t) boundary = t + MINUTE_MS
      const next = Math.min(iv.end, boundary, nextVersion)
      const price = cv.version.pricesPerKwh[seg.period] as number
      const energy = (iv.amount * (next - t)) / span
      out.push({ start: t, end: next, energyKwh: energy, period: seg.period, pricePerKwh: price, versionId: cv.version.id })
      t = next
    }
  }
  return out
}

/**
 * TOU cost of interval energy under a (versioned) tariff: per period, per month and per version;
 * two-part versions add monthly max 15-minute demand × demand charge (the version in force at the
 * start of the month's maximum window).
 */
export function touCost(intervals: readonly AmountInterval[], tariff: Tariff | CompiledTariff, options: TouCostOptions = {}): TouCostResult {
  const compiled = 'versions' in tariff && 'tariff' in tariff ? tariff : compileTariff(tariff)
  const tz = compiled.tariff.timezone
  const pieces = pricePieces(intervals, compiled)
  const byPeriod = new Map<string, PeriodCost>()
  const byMonth = new Map<string, MonthCost>()
  const byVersion = new Map<string, { energyKwh: number; cost: number }>()
  let energyKwh = 0
  let energyCost = 0
  const lastPiece = new Map<string, PricedPiece>()
  for (const p of pieces) {
    lastPiece.set(p.versionId, p)
    const cost = p.energyKwh * p.pricePerKwh
    energyKwh += p.energyKwh
    energyCost += cost
    const bp = byPeriod.get(p.period) ?? { period: p.period, energyKwh: 0, cost: 0, pricePerKwh: p.pricePerKwh }
    bp.energyKwh += p.energyKwh
    bp.cost += cost
    byPeriod.set(p.period, bp)
    const month = monthKey(p.start, tz)
    const bm = byMonth.get(month) ?? { month, energyKwh: 0, energyCost: 0, totalCost: 0, versionId: p.versionId }
    bm.energyKwh += p.energyKwh
    bm.energyCost += cost
    byMonth.set(month, bm)
    const bv = byVersion.get(p.versionId) ?? { energyKwh: 0, cost: 0 }
    bv.energyKwh += p.energyKwh
    bv.cost += cost
    byVersion.set(p.versionId, bv)
  }
  for (const bp of byPeriod.values()) if (bp.energyKwh > 0) bp.pricePerKwh = bp.cost / bp.energyKwh

  let demandCharge = 0
  if (compiled.versions.some((v) => v.version.kind === 'two-part')) {
    const computed = options.monthlyMaxDemandKw ? undefined : monthlyMaxDemand(demandFromEnergy(intervals, tz), tz)
    for (const bm of byMonth.values()) {
      const max = computed?.find((c) => c.month === bm.month)
      const kw = options.monthlyMaxDemandKw?.[bm.month] ?? max?.demandKw
      const at = max?.start ?? startOfMonth(bm.month, tz)
      const cv = [...compiled.versions].reverse().find((v) => v.start <= at)
      if (!cv || cv.version.kind !== 'two-part') continue
      if (kw === undefined) throw analyticsError('ANALYTICS_ERR_INPUT', `two-part tariff: no maximum demand for ${bm.month}`)
      const charge = kw * (cv.version.demandChargePerKwMonth as number)
      if (max) bm.maxDemand = max
      else bm.maxDemand = { month: bm.month, demandKw: kw, start: at, end: at, coverage: 1 }
      bm.demandCharge = charge
      demandCharge += charge
    }
  }
  for (const bm of byMonth.values()) bm.totalCost = bm.energyCost + (bm.demandCharge ?? 0)
  const currency = compiled.versions[0]?.version.currency ?? 'CNY'
  return {
    tariffId: compiled.tariff.id,
    currency,
    energyKwh,
    energyCost,
    demandCharge,
    totalCost: energyCost + demandCharge,
    byPeriod: [...byPeriod.values()],
    byMonth: [...byMonth.values()].sort((a, b) => a.month.localeCompare(b.month)),
    versions: compiled.versions
      .filter((v) => byVersion.has(v.version.id))
      .map((v) => {
        const agg = byVersion.get(v.version.id) as { energyKwh: number; cost: number }
        return {
          id: v.version.id,
          effectiveFrom: v.version.effectiveFrom,
          kind: v.version.kind,
          energyKwh: agg.energyKwh,
          cost: agg.cost,
          source: v.version.source,
        }
      }),
    staleVersions: staleVersions(compiled, lastPiece),
  }
}

function staleVersions(compiled: CompiledTariff, lastPiece: ReadonlyMap<string, PricedPiece>): StaleVersionWarning[] {
  const tz = compiled.tariff.timezone
  const out: StaleVersionWarning[] = []
  for (const cv of compiled.versions) {
    const last = lastPiece.get(cv.version.id)
    if (!last) continue
    const from = localParts(cv.start, tz)
    const at = localParts(last.start, tz)
    const monthsOld = (at.year - from.year) * 12 + (at.month - from.month) - (at.day < from.day ? 1 : 0)
    if (monthsOld < STALE_VERSION_MONTHS) continue
    out.push({
      versionId: cv.version.id,
      effectiveFrom: cv.version.effectiveFrom,
      pricedUntil: last.end,
      monthsOld,
      message: `tariff ${compiled.tariff.id}: version ${cv.version.id} (from ${cv.version.effectiveFrom}) priced energy ${monthsOld} months later; add a newer version under ${REFERENCE_CONFIG_KEYS.tariffs} in the config file`,
    })
  }
  return out
}

function startOfMonth(month: string, timezone: string): number {
  const [y, m] = month.split('-').map(Number) as [number, number]
  return startOfLocalDate(y, m, 1, timezone)
}

/** The period in force at an instant (for live views and simulators). */
export function periodAt(ts: number, tariff: CompiledTariff): { period: string; pricePerKwh: number; versionId: string } {
  const piece = pricePieces([{ start: ts, end: ts + 1, amount: 0 }], tariff)[0] as PricedPiece
  return { period: piece.period, pricePerKwh: piece.pricePerKwh, versionId: piece.versionId }
}
