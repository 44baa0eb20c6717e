import { PlantWattError } from '../core/errors.ts'

/** Error codes raised by analytics (mapped to HTTP statuses by the API's one error handler). */
export type AnalyticsErrorCode =
  | 'ANALYTICS_ERR_INPUT'
  | 'ANALYTICS_ERR_TARIFF'
  | 'ANALYTICS_ERR_FACTOR'
  | 'ANALYTICS_ERR_BENCHMARK'
  | 'ANALYTICS_ERR_SHIFTS'
  | 'ANALYTICS_ERR_REGRESSION'
  | 'ANALYTICS_ERR_PLANT'

export function analyticsError(code: AnalyticsErrorCode, message: string, details?: unknown, cause?: unknown): PlantWattError {
  return new PlantWattError(code, message, { ...(details === undefined ? {} : { details }), ...(cause === undefined ? {} : { cause }) })
}

/** Throws ANALYTICS_ERR_INPUT unless ranges are well formed, sorted and non-overlapping. */
export function assertRanges(ranges: ReadonlyArray<{ start: number; end: number }>, what: string): void {
  let prevEnd = -Infinity
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as { start: number; end: number }
    if (!Number.isFinite(r.start) || !Number.isFinite(r.end) || !(r.start < r.end)) {
      throw analyticsError('ANALYTICS_ERR_INPUT', `${what}[${i}]: expected start < end, got [${r.start}, ${r.end})`)
    }
    if (r.start < prevEnd) throw analyticsError('ANALYTICS_ERR_INPUT', `${what}[${i}]: ranges must be sorted and must not overlap`)
    prevEnd = r.end
  }
}
