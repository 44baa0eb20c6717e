/**
 * Which periods to compute now: every closed 15-minute, day and month period since the last one
 * computed (a first start, or a restart after an outage, goes back `backfillDays`), plus a recheck of
 * the recent days once an hour so that late telemetry or a correction goes up as a new revision.
 */
import { windowStartOf } from '../core/windows.ts'
import type { TimeRange } from '../analytics/index.ts'
import type { PeriodKind } from '../province/message.ts'

const DAY = 86_400_000

export interface ScheduleOptions {
  timezone: string
  settleMs: number
  backfillDays: number
  recheckDays: number
}

/** One provider call: a kind and a range aligned to its periods (15m: at most a day per call). */
export interface Work {
  kind: PeriodKind
  range: TimeRange
}

const EVERY: Record<PeriodKind, string> = { '15m': '15m', day: '1d', month: '1mo' }

/** Closed periods of `kind` in [from, closedUpTo), chunked; `from` and `closedUpTo` are aligned here. */
export function workOf(kind: PeriodKind, from: number, closedUpTo: number, tz: string): Work[] {
  const end = windowStartOf(closedUpTo, EVERY[kind], tz)
  let start = windowStartOf(from, EVERY[kind], tz)
  const out: Work[] = []
  while (start < end) {
    // 15-minute work goes in local-day chunks; days in up to a month; months one at a time
    const next =
      kind === 'month'
        ? windowStartOf(start + 32 * DAY, '1mo', tz)
        : Math.min(end, windowStartOf(start + (kind === '15m' ? DAY : 31 * DAY), kind === '15m' ? '1d' : '1mo', tz))
    const stop = Math.min(end, next > start ? next : end)
    out.push({ kind, range: { start, end: stop } })
    start = stop
  }
  return out
}

/** What to compute at `now`, given the marks (end of the last computed period per kind). */
export function plan(now: number, marks: Partial<Record<PeriodKind, number>>, recheck: boolean, o: ScheduleOptions): Work[] {
  const closedUpTo = now - o.settleMs
  const floor = now - o.backfillDays * DAY
  const out: Work[] = []
  for (const kind of ['15m', 'day', 'month'] as const) {
    let from = Math.max(marks[kind] ?? floor, floor)
    if (recheck) from = Math.min(from, Math.max(floor, closedUpTo - o.recheckDays * DAY - (kind === 'month' ? 31 * DAY : 0)))
    out.push(...workOf(kind, from, closedUpTo, o.timezone))
  }
  return out
}
