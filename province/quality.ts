/**
 * Data-quality indices of one enterprise over one month, from what it uploaded: completeness of the
 * 15-minute boundary records (≥ 90 % by default), timeliness (share not late), daily totals against
 * the monthly total (within 5 % by default), late and missing uploads.
 */
import type { QuarterCount } from './store.ts'

export const QUARTERS_PER_DAY = 96

export interface QualityRules {
  completenessPct: number
  consistencyPct: number
}

export interface EnterpriseQuality {
  /** 15-minute boundary records expected in the closed part of the month (days × 96 × carriers). */
  expected: number
  received: number
  late: number
  /** received / expected (0..1); null before any quarter of the month closed. */
  completeness: number | null
  /** 1 − late / received; null without records. */
  timeliness: number | null
  /** Per carrier: (Σ daily − monthly) / monthly × 100; null where the month or its days are missing. */
  consistency: { carrier: string; deviationPct: number | null; days: number }[]
  /** Closed days of the month without a daily boundary record (per carrier). */
  missingDays: number
  /** The month closed and no monthly boundary record arrived (per carrier). */
  missingMonthly: number
  /** Why the enterprise is behind; empty when it is not. */
  behind: string[]
}

export interface QualityInput {
  carriers: readonly string[]
  /** Closed quarters and closed days of the month so far (now-clipped). */
  closedQuarters: number
  closedDays: number
  monthClosed: boolean
  counts: readonly QuarterCount[]
  /** carrier → Σ daily and number of days. */
  days: ReadonlyMap<string, { sum: number; days: number }>
  /** carrier → monthly boundary value. */
  month: ReadonlyMap<string, number>
}

export function enterpriseQuality(q: QualityInput, rules: QualityRules): EnterpriseQuality {
  const expected = q.closedQuarters * q.carriers.length
  let received = 0
  let late = 0
  for (const c of q.counts) {
    if (!q.carriers.includes(c.carrier)) continue
    received += c.received
    late += c.late
  }
  received = Math.min(received, expected)
  const completeness = expected === 0 ? null : received / expected
  const timeliness = received === 0 ? null : 1 - late / received
  let missingDays = 0
  let missingMonthly = 0
  const consistency = q.carriers.map((carrier) => {
    const d = q.days.get(carrier)
    const m = q.month.get(carrier)
    missingDays += Math.max(0, q.closedDays - (d?.days ?? 0))
    if (q.monthClosed && m === undefined) missingMonthly++
    const complete = d !== undefined && d.days >= q.closedDays && m !== undefined && m !== 0
    return { carrier, deviationPct: complete ? ((d.sum - m) / m) * 100 : null, days: d?.days ?? 0 }
  })
  const behind: string[] = []
  if (completeness !== null && completeness * 100 < rules.completenessPct)
    behind.push(`completeness ${(completeness * 100).toFixed(1)} % < ${rules.completenessPct} %`)
  for (const c of consistency) {
    if (c.deviationPct !== null && Math.abs(c.deviationPct) > rules.consistencyPct)
      behind.push(`${c.carrier}: daily vs monthly ${c.deviationPct.toFixed(1)} % (limit ±${rules.consistencyPct} %)`)
  }
  if (missingDays > 0) behind.push(`${missingDays} daily record(s) missing`)
  if (missingMonthly > 0) behind.push(`${missingMonthly} monthly record(s) missing`)
  return { expected, received, late, completeness, timeliness, consistency, missingDays, missingMonthly, behind }
}
