import { offsetAt } from '../analytics/time.ts'
import { DAY_MS, HOUR_MS } from '../core/duration.ts'

/** Local time zone offset at ts, cached (analytics/time.ts keeps the one cache of offsets). */
export function cachedOffsetMs(ts: number, timezone: string): number {
  return offsetAt(ts, timezone)
}

/** Local hour of the week, 0 = Monday 00:00. */
export function hourOfWeek(ts: number, timezone: string): number {
  return slotOfWeek(ts, timezone, HOUR_MS)
}

/** Local slot of the week of length slotMs, 0 = the first slot from Monday 00:00. */
export function slotOfWeek(ts: number, timezone: string, slotMs: number): number {
  const local = ts + cachedOffsetMs(ts, timezone)
  const day = Math.floor(local / DAY_MS)
  // 1970-01-01 was a Thursday: (day + 3) mod 7 = 0 on Mondays.
  const dow = (((day + 3) % 7) + 7) % 7
  return Math.floor((dow * DAY_MS + (local - day * DAY_MS)) / slotMs)
}
