import { describe, expect, it } from 'vitest'
import { judgeRegimeWindow, regimeBands, type RegimeSlots } from './regimes.ts'

/**
 * One slot of a hand-made regime table: idle 10 kW, reduced 30 kW, running 200 kW; edges 17.3 and
 * 77.5 kW (geometric midpoints); log spreads idle 0.1, reduced 0.2, running 0.3.
 */
function table(share: [number, number, number], medianKw: [number, number, number]): RegimeSlots {
  return {
    levels: { levelsKw: [10, 30, 200], edgesKw: [Math.sqrt(300), Math.sqrt(6000)] },
    share: [...share],
    medianKw: [...medianKw],
    relSigma: [0.1, 0.2, 0.35],
    logSigma: [0.1, 0.2, 0.3],
    overallShare: [0.5, 0.2, 0.3],
  }
}
const O = { k: 5, minBandKw: 0.5, minRegimeShare: 0.1, direction: 'both' as const }

describe('regime bands', () => {
  it('are multiplicative: median · e^(±kσ), each side at least minBandKw', () => {
    const bands = regimeBands(table([0.5, 0, 0.5], [10, Number.NaN, 200]), 0, O)
    const idle = bands.find((b) => b.regime === 0)
    const run = bands.find((b) => b.regime === 2)
    expect(idle).toMatchObject({ regime: 0, medianKw: 10 })
    expect(idle?.lowKw).toBeCloseTo(10 / Math.exp(0.5), 6) // 6.07
    expect(idle?.highKw).toBeCloseTo(10 * Math.exp(0.5), 6) // 16.49
    // running: e^(1.5) = 4.48 → 44.6 … 896, but never below its own lower edge (77.5 kW)
    expect(run?.highKw).toBeCloseTo(200 * Math.exp(1.5), 6)
    expect(run?.lowKw).toBeCloseTo(Math.sqrt(6000), 6)
  })

  it('with idle and running plausible, the reduced range in between is normal (a start or a stop inside the window)', () => {
    const t = table([0.5, 0, 0.5], [10, Number.NaN, 200])
    const bands = regimeBands(t, 0, O)
    expect(bands.map((b) => b.regime)).toEqual([0, 1, 2])
    expect(judgeRegimeWindow(t, 0, 50, O).abnormal).toBe(false)
  })

  it('a level between the plausible regimes, that neither claims, is abnormal (59 kW on a reduced evening)', () => {
    const t = table([0, 0.6, 0.4], [Number.NaN, 22, 230])
    // reduced band 22 · e^(±1): 8.1 … 59.8; running band from its edge 77.5 (not 230 · e^(−1.5) = 51): 65 kW lies in neither
    const v = judgeRegimeWindow(t, 0, 65, O)
    expect(v.abnormal).toBe(true)
    // nearer, relative to each band's width, to running's lower edge than to reduced's upper one
    expect(v.expectedKw).toBe(230)
    expect(v.lowKw).toBeCloseTo(Math.sqrt(6000), 6)
    expect(judgeRegimeWindow(t, 0, 55, O).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 90, O).abnormal).toBe(false)
  })

  it('stopping early (idle in a running slot) is normal unless lowerRegimeNormal is false; a drop inside running still fires', () => {
    const t = table([0, 0, 1], [Number.NaN, Number.NaN, 200])
    expect(judgeRegimeWindow(t, 0, 10, O).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 10, { ...O, lowerRegimeNormal: false }).abnormal).toBe(true)
    // 40 kW: neither idle's band (6.1 … 16.5) nor reduced's (11 … 81.5 at k = 5 with σ 0.2 → e^1 → yes, reduced)
    expect(judgeRegimeWindow(t, 0, 40, O).abnormal).toBe(false)
    // a narrow running band (k = 1): 200 · e^(−0.3) = 148; 120 kW is still running (≥ 77.5) and below it → fires
    expect(judgeRegimeWindow(t, 0, 120, { ...O, k: 1 }).abnormal).toBe(true)
  })
})
