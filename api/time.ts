import { DAY_MS, MINUTE_MS } from '../core/duration.ts'
import { assertTimeZone, zoneOffsetMs } from '../core/windows.ts'
import { apiError } from './errors.ts'

const EPOCH_MS_RE = /^[0-9]{1,15}$/
const ISO_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/i

/** True when `timezone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timezone: string): boolean {
  try {
    assertTimeZone(timezone)
    return true
  } catch {
    return false
  }
}

/** Epoch ms of a wall-clock time in `timezone`, using the offset in force at the result. */
export function wallTimeToEpoch(wallAsUtcMs: number, timezone: string): number {
  const first = wallAsUtcMs - zoneOffsetMs(wallAsUtcMs, timezone)
  return wallAsUtcMs - zoneOffsetMs(first, timezone)
}

/** Where a request carries a parameter: its query string (the default) or its JSON body. */
export type ParamPlace = 'querystring' | 'body'

const PLACE_NAMES: Record<ParamPlace, { one: string; two: string }> = {
  querystring: { one: 'query parameter', two: 'query parameters' },
  body: { one: 'body field', two: 'body fields' },
}

/**
 * Parses a request instant: epoch milliseconds (`1764385200000`) or ISO 8601
 * (`2025-11-29`, `2025-11-29T08:00`, `2025-11-29T08:00:00+08:00`, `…Z`). Without an offset the
 * time is wall-clock time in `timezone`, so `start=2025-11-29` means the plant's midnight.
 * Throws API_ERR_VALIDATION naming `param` and where it is (`place`, default the query string).
 */
export function parseInstant(text: string, param: string, timezone: string, place: ParamPlace = 'querystring'): number {
  if (EPOCH_MS_RE.test(text)) return Number(text)
  const m = ISO_RE.exec(text)
  const bad = () =>
    apiError(
      'API_ERR_VALIDATION',
      `${PLACE_NAMES[place].one} "${param}": ${JSON.stringify(text)} is not a time: expected epoch milliseconds or ISO 8601 (e.g. 2025-11-29T08:00:00+08:00)`,
      [{ parameter: param, in: place, message: 'expected epoch milliseconds or ISO 8601' }],
    )
  if (!m) throw bad()
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  const check = new Date(wall)
  // Date.UTC rolls 2025-02-30 over into March; a round trip catches impossible dates and times.
  if (month < 1 || month > 12 || check.getUTCDate() !== day || check.getUTCMonth() !== month - 1 || hour > 23 || minute > 59 || second > 59) throw bad()
  const zone = m[8]
  if (zone === undefined) return wallTimeToEpoch(wall, timezone)
  if (zone.toUpperCase() === 'Z') return wall
  const digits = zone.replace(':', '')
  const sign = digits.startsWith('-') ? -1 : 1
  const offsetMin = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))
  if (Number(digits.slice(3, 5)) > 59 || offsetMin > 18 * 60) throw bad()
  return wall - sign * offsetMin * MINUTE_MS
}

/** A request's time range [start, stop), epoch ms. */
export interface InstantRange {
  start: number
  stop: number
}

/** How a request names its range, and how long the route lets it be. */
export interface RangeRules {
  /** The two bounds as the request spells them; default `["start", "stop"]`. */
  names?: readonly [string, string]
  /** Where they are; default the query string. */
  place?: ParamPlace
  /** Longest span, in days; unlimited when absent. */
  maxDays?: number
}

/**
 * The API's one range check: the start must come before the stop (API_ERR_RANGE), and the span
 * may not exceed `maxDays` (API_ERR_RANGE_TOO_LARGE). Both messages name the two parameters.
 */
export function checkRange(range: InstantRange, rules: RangeRules = {}): InstantRange {
  const [a, b] = rules.names ?? ['start', 'stop']
  const what = `${PLACE_NAMES[rules.place ?? 'querystring'].two} "${a}" and "${b}"`
  const { start, stop } = range
  if (start >= stop) {
    throw apiError('API_ERR_RANGE', `${what}: ${a} (${new Date(start).toISOString()}) must be before ${b} (${new Date(stop).toISOString()})`, {
      [a]: start,
      [b]: stop,
    })
  }
  const { maxDays } = rules
  if (maxDays !== undefined && stop - start > maxDays * DAY_MS) {
    throw apiError('API_ERR_RANGE_TOO_LARGE', `${what} span ${((stop - start) / DAY_MS).toFixed(1)} days; at most ${maxDays} days per request`, { maxDays })
  }
  return range
}

/** Parses both bounds (parseInstant) in `timezone` and checks the range (checkRange). */
export function parseRange(start: string, stop: string, timezone: string, rules: RangeRules = {}): InstantRange {
  const [a, b] = rules.names ?? ['start', 'stop']
  const place = rules.place ?? 'querystring'
  return checkRange({ start: parseInstant(start, a, timezone, place), stop: parseInstant(stop, b, timezone, place) }, rules)
}
