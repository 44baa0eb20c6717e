import { DAY_MS } from '../core/duration.ts'
import { PlantWattError } from '../core/errors.ts'
import type { RetentionConfig } from './config.ts'

/** Roll-up resolutions, finest first, ms. */
export const MINUTE_MS = 60_000
export const QUARTER_HOUR_MS = 900_000

export const DEFAULT_RETENTION: Readonly<RetentionConfig> = Object.freeze({
  rawDays: 90,
  minuteDays: 400,
  quarterHourDays: 3660,
  measurements: Object.freeze(['telemetry']) as unknown as string[],
})

/** The retention with defaults for missing keys; STORAGE_ERR_CONFIG when a coarser resolution would expire before a finer one. */
export function resolveRetention(partial: Partial<RetentionConfig> | undefined): Readonly<RetentionConfig> {
  const r = { ...DEFAULT_RETENTION, ...(partial ?? {}) }
  for (const key of ['rawDays', 'minuteDays', 'quarterHourDays'] as const) {
    if (!Number.isInteger(r[key]) || r[key] < 1)
      throw new PlantWattError('STORAGE_ERR_CONFIG', `storage.retention.${key}: a whole number of days ≥ 1, got ${r[key]}`)
  }
  if (r.minuteDays < r.rawDays) {
    throw new PlantWattError(
      'STORAGE_ERR_CONFIG',
      `storage.retention.minuteDays (${r.minuteDays}) must be at least rawDays (${r.rawDays}): the 1-minute roll-up answers for expired raw data`,
    )
  }
  if (r.quarterHourDays < r.minuteDays) {
    throw new PlantWattError(
      'STORAGE_ERR_CONFIG',
      `storage.retention.quarterHourDays (${r.quarterHourDays}) must be at least minuteDays (${r.minuteDays}): the 15-minute roll-up answers for expired minutes`,
    )
  }
  return Object.freeze({ ...r, measurements: [...r.measurements] })
}

/** Retention cut-offs at `now`: what is older may be deleted (epoch ms, not yet aligned). */
export function retentionCutoffs(r: Readonly<RetentionConfig>, now: number): { raw: number; minute: number; quarterHour: number } {
  return { raw: now - r.rawDays * DAY_MS, minute: now - r.minuteDays * DAY_MS, quarterHour: now - r.quarterHourDays * DAY_MS }
}

export const floorTo = (ts: number, res: number): number => ts - (((ts % res) + res) % res)
export const ceilTo = (ts: number, res: number): number => -floorTo(-ts, res)
