import { PlantWattError } from './errors.ts'

/**
 * Window lengths used across the API and the stores: `<n><unit>` with units ms, s, m, h, d, w
 * (fixed length) and mo, y (calendar, in the plant's time zone).
 */
export type Duration = { kind: 'fixed'; ms: number; text: string } | { kind: 'calendar'; months: number; text: string }

/** One minute, in ms. */
export const MINUTE_MS = 60_000
/** One hour, in ms. */
export const HOUR_MS = 60 * MINUTE_MS
/** One day of elapsed time, in ms (a local day across a DST change is 23 or 25 h: see windows.ts). */
export const DAY_MS = 24 * HOUR_MS

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS }
const DURATION_RE = /^([1-9][0-9]{0,5})(ms|s|m|h|d|w|mo|y)$/

export function parseDuration(text: string): Duration {
  const m = DURATION_RE.exec(text)
  if (!m) throw new PlantWattError('CORE_ERR_DURATION', `invalid duration ${JSON.stringify(text)}: expected e.g. 1m, 15m, 1h, 1d, 1w, 1mo, 1y`)
  const n = Number(m[1])
  const unit = m[2] as string
  if (unit === 'mo') return { kind: 'calendar', months: n, text }
  if (unit === 'y') return { kind: 'calendar', months: 12 * n, text }
  return { kind: 'fixed', ms: n * (UNIT_MS[unit] as number), text }
}
