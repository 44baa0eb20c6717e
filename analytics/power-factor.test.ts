import { describe, expect, it } from 'vitest'
import { powerFactorFromEnergy, powerFactorSummary } from './power-factor.ts'
import { MIN } from './test-helpers.ts'

describe('power factor', () => {
  it('from energies: P / √(P² + Q²)', () => {
    // UCI steel data, first row: 3.17 kWh, 2.95 kvarh lagging → 3.17 / √(10.0489 + 8.7025) = 3.17 / 4.330289 = 0.732053
    // (the data set's own Lagging_Current_Power_Factor: 73.21 %)
    expect(powerFactorFromEnergy(3.17, 2.95)).toBeCloseTo(0.732053, 6)
    // 3-4-5: 300 kWh, 400 kvarh → 0.6
    expect(powerFactorFromEnergy(300, 400)).toBeCloseTo(0.6, 12)
    expect(powerFactorFromEnergy(0, 0)).toBe(1)
  })

  it('time-weighted mean and time below the limit', () => {
    // 0.95 for 1 min, −0.85 (leading, |0.85|) for 1 min, 0.92 for 1 min, then the last sample has no duration.
    // mean = (0.95 + 0.85 + 0.92)/3 = 0.906667; below 0.9 for 1 of 3 min.
    // A 10-minute gap (> 5 min) before the last sample adds nothing.
    const s = [0.95, -0.85, 0.92, 0.5].map((value, i) => ({ ts: i * MIN, value }))
    s.push({ ts: 13 * MIN, value: 0.99 })
    const r = powerFactorSummary(s)
    expect(r.mean).toBeCloseTo(2.72 / 3, 12)
    expect(r.belowLimitMs).toBe(MIN)
    expect(r.coveredMs).toBe(3 * MIN)
    expect(r.belowLimitShare).toBeCloseTo(1 / 3, 12)
    // plain mean of the 5 samples: (0.95 + 0.85 + 0.92 + 0.5 + 0.99)/5 = 0.842
    expect(r.sampleMean).toBeCloseTo(0.842, 12)
    expect(powerFactorSummary(s, { limit: 0.93 }).belowLimitMs).toBe(2 * MIN)
  })
})
