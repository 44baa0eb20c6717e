import { zoneOffsetMs } from '../core/windows.ts'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

const offsetCache = new Map<string, Map<number, number>>()
/** Local time zone offset at ts, cached per UTC hour. */
export function cachedOffsetMs(ts: number, timezone: string): number {
  let byHour = offsetCache.get(timezone)
  if (!byHour) {
    byHour = new Map()
    offsetCache.set(timezone, byHour)
  }
  const hour = Math.floor(ts / HOUR_MS)
  let off = byHour.get(hour)
  if (off === undefined) {
    off = zoneOffsetMs(hour * HOUR_MS, timezone)
    if (byHour.size > 100_000) byHour.clear()
    byHour.set(hour, off)
  }
  return off
}

/** Local hour of the week, 0 = Monday 00:00. */
export function hourOfWeek(ts: number, timezone: string): number {
  const local = ts + cachedOffsetMs(ts, timezone)
  const day = Math.floor(local / DAY_MS)
  // 1970-01-01 was a Thursday: (day + 3) mod 7 = 0 on Mondays.
  const dow = (((day + 3) % 7) + 7) % 7
  return dow * 24 + Math.floor((local - day * DAY_MS) / HOUR_MS)
}


/** Local slot of the week of length slotMs, 0 = the first slot from Monday 00:00. */
export function slotOfWeek(ts: number, timezone: string, slotMs: number): number {
  const local = ts + cachedOffsetMs(ts, timezone)
  const day = Math.floor(local / DAY_MS)
  const dow = (((day + 3) % 7) + 7) % 7
  return Math.floor((dow * DAY_MS + (local - day * DAY_MS)) / slotMs)
}
