import { isPlantWattError } from '../core/errors.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/** Test helpers (not exported from analytics/index.ts). */

/** Epoch ms of a wall-clock time in Asia/Shanghai (UTC+8, no DST): sh('2026-01-05T06:00'). */
export const sh = (local: string): number => Date.parse(`${local}:00+08:00`)

export const MIN = MINUTE_MS
export const HOUR = HOUR_MS

/** The PlantWattError code a function throws (undefined when it does not throw). */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isPlantWattError(err) ? err.code : `not a PlantWattError: ${String(err)}`
  }
  return undefined
}

/** The error `fn` throws (fails the test when it does not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}
