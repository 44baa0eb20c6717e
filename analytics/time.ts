import { DAY_MS, MINUTE_MS } from '../core/duration.ts'
import { isPlantWattError } from '../core/errors.ts'
import * as windows from '../core/windows.ts'
import { analyticsError } from './errors.ts'
import type { TimeRange } from './types.ts'

/**
 * Local-time helpers for analytics. The window grid itself comes from core/windows.ts so that
 * analytics buckets and store aggregates can never disagree on where an hour, day or month starts.
 * (That file is pure time arithmetic; it would sit better in core/ — see analytics/README.md.)
 */

/** core/windows.ts reports an unknown zone as STORAGE_ERR_QUERY: analytics callers get ANALYTICS_ERR_INPUT. */
function zoned<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (isPlantWattError(err, 'STORAGE_ERR_QUERY')) throw analyticsError('ANALYTICS_ERR_INPUT', err.message, undefined, err)
    throw err
  }
}

export function assertTimeZone(timezone: string): void {
  zoned(() => windows.assertTimeZone(timezone))
}

/** The instant local midnight of (year, month 1–12, day) begins in `timezone`. */
export function startOfLocalDate(year: number, month: number, day: number, timezone: string): number {
  return zoned(() => windows.startOfLocalDate(year, month, day, timezone))
}

// Offsets change on whole quarter hours in every zone in use today: cache by quarter hour, since
// Intl formatting (~µs) dominates year-long scans of 1-minute data otherwise.
const QUARTER_MS = 900_000
const offsetCache = new Map<string, Map<number, number>>()

/** Offset of local time from UTC at `ts` (ms), cached. */
export function offsetAt(ts: number, timezone: string): number {
  let zone = offsetCache.get(timezone)
  if (!zone) {
    zone = new Map()
    offsetCache.set(timezone, zone)
  }
  const key = Math.floor(ts / QUARTER_MS)
  let o = zone.get(key)
  if (o === undefined) {
    o = zoned(() => windows.zoneOffsetMs(key * QUARTER_MS, timezone))
    if (zone.size > 200_000) zone.clear()
    zone.set(key, o)
  }
  return o
}

/** "Naive" local time: the local wall clock read as if it were UTC (ms). */
export function wallClock(ts: number, timezone: string): number {
  return ts + offsetAt(ts, timezone)
}

/**
 * The instant a local wall-clock time (as naive ms) occurs. In a DST gap, the transition instant;
 * in a DST overlap, one of the two occurrences (the one under the offset in force just before).
 */
export function wallToInstant(naive: number, timezone: string): number {
  const o1 = offsetAt(naive, timezone)
  const t1 = naive - o1
  const o2 = offsetAt(t1, timezone)
  if (o2 === o1) return t1
  const t2 = naive - o2
  if (offsetAt(t2, timezone) === o2) return t2
  // A wall time the clocks skip: every later wall time is already past it, so it "happens" at the transition.
  let lo = Math.min(t1, t2)
  let hi = Math.max(t1, t2)
  const before = offsetAt(lo, timezone)
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(mid, timezone) === before) lo = mid
    else hi = mid
  }
  // offsetAt is constant per quarter hour, so the transition is the start of hi's quarter.
  return hi - (hi % QUARTER_MS)
}

/** Local calendar fields plus minute of the day at `ts`. */
export function localParts(ts: number, timezone: string): { year: number; month: number; day: number; minuteOfDay: number; naive: number } {
  const naive = wallClock(ts, timezone)
  const d = new Date(naive)
  const dayStartNaive = Math.floor(naive / DAY_MS) * DAY_MS
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    minuteOfDay: (naive - dayStartNaive) / MINUTE_MS,
    naive,
  }
}

/** Parses 'HH:MM' (00:00–24:00) into minutes of the day; undefined when malformed. */
export function parseClock(text: string): number | undefined {
  const m = /^([01][0-9]|2[0-4]):([0-5][0-9])$/.exec(text)
  if (!m) return undefined
  const minutes = Number(m[1]) * 60 + Number(m[2])
  return minutes <= 1440 ? minutes : undefined
}

export function formatClock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`
}

/** Calendar granularities analytics buckets by (the store's `every` strings). */
export type CalendarGranularity = 'hour' | '15m' | 'day' | 'month'

const EVERY: Record<CalendarGranularity, string> = { '15m': '15m', hour: '1h', day: '1d', month: '1mo' }

/** Back-to-back windows of `granularity` covering [start, end) in `timezone`, clipped to the range. */
export function calendarWindows(range: TimeRange, granularity: CalendarGranularity, timezone: string): TimeRange[] {
  const starts = zoned(() => windows.windowStarts(range.start, range.end, EVERY[granularity], timezone))
  const out: TimeRange[] = []
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i] as number
    const next = i + 1 < starts.length ? (starts[i + 1] as number) : range.end
    out.push({ start: Math.max(s, range.start), end: Math.min(next, range.end) })
  }
  return out
}

/** Length of the overlap of [a0, a1) and [b0, b1). */
export function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0))
}
