import { PlantWattError } from './errors.ts'

/**
 * Window lengths used across the API and the stores: `<n><unit>` with units ms, s, m, h, d, w
 * (fixed length) and mo, y (calendar, in the plant's time zone).
 */
export type Duration = { kind: 'fixed'; ms: number; text: string } | { kind: 'calendar'; months: number; text: string }

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
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
