import { cleanSamples } from './energy.ts'
import type { Sample } from './types.ts'

/** Power factor: average from energies, mean of samples, and time spent below a limit. */

/** PF = P / sqrt(P² + Q²) from active (kWh) and reactive (kvarh) energy over the same period; 1 when both are 0. */
export function powerFactorFromEnergy(activeKwh: number, reactiveKvarh: number): number {
  const s = Math.hypot(activeKwh, reactiveKvarh)
  return s === 0 ? 1 : Math.abs(activeKwh) / s
}

export interface PowerFactorSummary {
  /** Time-weighted mean of |PF| over the covered time (each sample holds until the next). */
  mean: number
  /** Plain mean of |PF| samples. */
  sampleMean: number
  belowLimitMs: number
  coveredMs: number
  /** belowLimitMs / coveredMs */
  belowLimitShare: number
  limit: number
}

/**
 * Summary of power-factor samples. A sample's value holds until the next sample, up to maxGapMs;
 * the sign (lead/lag) is ignored. `limit` defaults to 0.90, the assessment level for high-voltage industrial users of 160 kVA and above (功率因数调整电费办法, 1983).
 */
export function powerFactorSummary(samples: readonly Sample[], options: { limit?: number; maxGapMs?: number } = {}): PowerFactorSummary {
  const limit = options.limit ?? 0.9
  const maxGapMs = options.maxGapMs ?? 300_000
  const clean = cleanSamples(samples).samples
  let weighted = 0
  let coveredMs = 0
  let belowLimitMs = 0
  for (let k = 0; k + 1 < clean.length; k++) {
    const a = clean[k] as Sample
    const b = clean[k + 1] as Sample
    const dt = b.ts - a.ts
    if (dt > maxGapMs) continue
    weighted += Math.abs(a.value) * dt
    coveredMs += dt
    if (Math.abs(a.value) < limit) belowLimitMs += dt
  }
  const sampleMean = clean.length > 0 ? clean.reduce((s, x) => s + Math.abs(x.value), 0) / clean.length : NaN
  return {
    mean: coveredMs > 0 ? weighted / coveredMs : NaN,
    sampleMean,
    belowLimitMs,
    coveredMs,
    belowLimitShare: coveredMs > 0 ? belowLimitMs / coveredMs : 0,
    limit,
  }
}
