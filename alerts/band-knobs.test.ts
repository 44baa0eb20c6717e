import { describe, expect, it } from 'vitest'
import { bandKw, type DeviceBaseline, fitDeviceBaseline, standbyIdleKw } from './baseline.ts'
import { fitRegimeSlots, judgeRegimeWindow, type RegimeSlots } from './regimes.ts'
import { validateAlertsConfig } from './rules.ts'

/**
 * The knobs that shape an anomaly band and its clearing, each configurable (issue 17 item 2):
 * tailQuantile, floorShare, minBandShare (time-of-week and production models), minSlotSamples (regime
 * model), clearBand (both). Defaults are the values the evaluations were measured with.
 */
describe('anomaly band knobs', () => {
  it('are rule keys of anomaly rules with the measured defaults, range-checked, refused on other kinds', () => {
    const plain = validateAlertsConfig({ rules: [{ id: 'a', kind: 'anomaly' }] }).rules[0]
    const set = validateAlertsConfig({
      rules: [{ id: 'b', kind: 'anomaly', tailQuantile: 0.95, floorShare: 0.1, minBandShare: 0.02, minSlotSamples: 5, clearBand: 0.5 }],
    }).rules[0]
    expect(plain).toMatchObject({ tailQuantile: 0.99, floorShare: 0.05, minBandShare: 0.01, minSlotSamples: 3, clearBand: 0.7 })
    expect(set).toMatchObject({ tailQuantile: 0.95, floorShare: 0.1, minBandShare: 0.02, minSlotSamples: 5, clearBand: 0.5 })
    for (const bad of [{ clearBand: 0 }, { clearBand: 1.5 }, { tailQuantile: 0.3 }, { minSlotSamples: 0 }, { minSlotSamples: 2.5 }, { floorShare: 0 }])
      expect(() => validateAlertsConfig({ rules: [{ id: 'x', kind: 'anomaly', ...bad }] }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({
          code: 'ALERTS_ERR_CONFIG',
          message: expect.stringMatching(/\/rules\/0\/(clearBand|tailQuantile|minSlotSamples|floorShare)/),
        }),
      )
    expect(() => validateAlertsConfig({ rules: [{ id: 'x', kind: 'stuck', clearBand: 0.5 }] })).toThrow(/clearBand/)
  })

  it('the keys that shape learning are the first anomaly rule’s: a later rule setting another value is refused', () => {
    for (const key of ['tailQuantile', 'floorShare', 'minSlotSamples'] as const) {
      const value = key === 'minSlotSamples' ? 5 : 0.9
      expect(
        () =>
          validateAlertsConfig({
            rules: [
              { id: 'a', kind: 'anomaly' },
              { id: 'b', kind: 'anomaly', [key]: value },
            ],
          }),
        key,
      ).toThrow(
        expect.objectContaining({
          message: expect.stringContaining(`/rules/1/${key}: ${key} is learned once per device, with the first anomaly rule (/rules/0, "default")`),
        }),
      )
      // The same value, or set on the first rule only: accepted.
      expect(() =>
        validateAlertsConfig({
          rules: [
            { id: 'a', kind: 'anomaly', [key]: value },
            { id: 'b', kind: 'anomaly', [key]: value },
          ],
        }),
      ).not.toThrow()
    }
    // clearBand and minBandShare are per rule.
    expect(() =>
      validateAlertsConfig({
        rules: [
          { id: 'a', kind: 'anomaly' },
          { id: 'b', kind: 'anomaly', clearBand: 0.5, minBandShare: 0.05 },
        ],
      }),
    ).not.toThrow()
  })

  it('minBandShare: the smallest band as a share of the expected value', () => {
    const b: DeviceBaseline = {
      model: 'time-of-week',
      intercept: 0,
      slope: 0,
      slots: [100],
      slotMs: 900_000,
      sigma: 0.001,
      tail: 0,
      floorKw: 5,
      quantumKw: 0,
      levelKw: 100,
      n: 2000,
      timezone: 'UTC',
    }
    // k σ × 100 = 0.5 kW = minBandKw; 1 % of 100 = 1 kW wins; 20 % = 20 kW.
    expect(bandKw(b, 100, 5, 0.5)).toBeCloseTo(1, 9)
    expect(bandKw(b, 100, 5, 0.5, undefined, 0.2)).toBeCloseTo(20, 9)
  })

  it('tailQuantile and floorShare shape the time-of-week model', () => {
    // Three weeks of 15-minute windows at 100 kW with a small ripple and one window in fifty at 160 kW.
    const windows = Array.from({ length: 3 * 7 * 96 }, (_, i) => ({ start: Date.UTC(2026, 0, 5) + i * 900_000, powerKw: i % 50 === 7 ? 160 : 100 + (i % 3) }))
    const base = fitDeviceBaseline(windows, 'UTC', 96, 900_000, 0, { regimes: 'off' })
    const median = fitDeviceBaseline(windows, 'UTC', 96, 900_000, 0, { regimes: 'off', tailQuantile: 0.5, floorShare: 0.2 })
    expect(base?.model).toBe('time-of-week')
    // The 99th percentile reaches the 2 % of windows at +60 %; the median residual does not.
    expect(base?.tail).toBeGreaterThan(0.3)
    expect(median?.tail).toBeLessThan(0.03)
    // The floor: this share of the median window power (101 kW).
    expect(base?.floorKw).toBeCloseTo(0.05 * 101, 9)
    expect(median?.floorKw).toBeCloseTo(0.2 * 101, 9)
  })

  it('minSlotSamples: how many windows a slot needs for its own regime shares', () => {
    const levels = { levelsKw: [10, 30, 200] as [number, number, number], edgesKw: [Math.sqrt(300), Math.sqrt(6000)] as [number, number] }
    // Slot 0 has two windows (idle, running), slot 1 four idle ones; one day of two slots.
    const slotOf = [0, 0, 1, 1, 1, 1]
    const power = [10, 200, 11, 9, 10, 10]
    const pooled = fitRegimeSlots(slotOf, power, 2, levels, 2)
    const own = fitRegimeSlots(slotOf, power, 2, levels, 2, 2)
    // Default 3: slot 0 borrows slot 1 → 5 idle of 6.
    expect(pooled.share.slice(0, 3)).toEqual([5 / 6, 0, 1 / 6])
    // 2: slot 0 keeps its own → half idle, half running.
    expect(own.share.slice(0, 3)).toEqual([0.5, 0, 0.5])
  })

  it('clearBand: how far inside the band a window must be to count towards clearing', () => {
    const t: RegimeSlots = {
      levels: { levelsKw: [10, 30, 200], edgesKw: [Math.sqrt(300), Math.sqrt(6000)] },
      share: [1, 0, 0],
      medianKw: [10, Number.NaN, Number.NaN],
      relSigma: [0.1, 0.2, 0.35],
      logSigma: [0.1, 0.2, 0.3],
      overallShare: [1, 0, 0],
    }
    const o = { k: 5, minBandKw: 0.5, minRegimeShare: 0.1, direction: 'both' as const }
    // Idle band 10 … 16.49 kW above the median: 15 kW sits at 0.77 of it — inside, not normal at 0.7.
    const at15 = judgeRegimeWindow(t, 0, 15, o)
    expect(at15).toMatchObject({ abnormal: false, normal: false })
    expect(judgeRegimeWindow(t, 0, 15, { ...o, clearBand: 0.9 })).toMatchObject({ abnormal: false, normal: true })
  })
})

describe('standby idle level (recentIdle)', () => {
  const DAY = 86_400_000
  const Q = 900_000
  // 60 days of idle nights: 12 kW for 46 days, then 20 kW for the last 14 (a winter base load), 40 windows a night.
  const idle = Array.from({ length: 60 * 40 }, (_, i) => {
    const day = Math.floor(i / 40)
    return { start: day * DAY + (i % 40) * Q, powerKw: day < 46 ? 12 : 20 }
  })
  const now = 60 * DAY

  it("follows a base load that has risen over the last recentIdle, keeps the history's when it has not", () => {
    // Whole history: P90 of 1,840 windows at 12 and 560 at 20 → 20 (the top 23 % are 20); 1.25 × 20 = 25.
    expect(standbyIdleKw(idle, now, 0, Q)).toBeCloseTo(25, 9)
    const early = idle.slice(0, 46 * 40)
    const end = 46 * DAY
    // Only the 12 kW nights: 15 kW; with a recent stretch that is no higher, the same.
    expect(standbyIdleKw(early, end, 14 * DAY, Q)).toBeCloseTo(15, 9)
    // Risen in the last 3 days: the history's P90 is still 12, the recent stretch says 20 → 25.
    const risen = [...early, ...idle.slice(46 * 40, 49 * 40)]
    expect(standbyIdleKw(risen, 49 * DAY, 0, Q)).toBeCloseTo(15, 9)
    expect(standbyIdleKw(risen, 49 * DAY, 14 * DAY, Q)).toBeCloseTo(25, 9)
    // Fallen: the recent stretch lower than the history keeps the history's level.
    const fallen = idle.map((w, i) => ({ start: w.start, powerKw: i < 46 * 40 ? 20 : 8 }))
    expect(standbyIdleKw(fallen, now, 14 * DAY, Q)).toBeCloseTo(25, 9)
    expect(standbyIdleKw(fallen.slice(46 * 40), now, 14 * DAY, Q)).toBeCloseTo(10, 9)
  })

  it('needs half a day of recent idle windows and 8 in all', () => {
    const few = [...idle.slice(0, 46 * 40), ...idle.slice(46 * 40, 46 * 40 + 47)]
    // 47 recent windows at 20 kW: fewer than 48 (half a day of 15-minute windows) — the history decides.
    expect(standbyIdleKw(few, 47 * DAY, 14 * DAY, Q)).toBeCloseTo(15, 9)
    expect(standbyIdleKw(idle.slice(0, 7), now, 14 * DAY, Q)).toBeUndefined()
  })

  it('is the standby rule key recentIdle (default 14d, 0 = off)', () => {
    expect(validateAlertsConfig({ rules: [{ id: 's', kind: 'standby' }] }).rules[0]?.recentIdleMs).toBe(14 * DAY)
    expect(validateAlertsConfig({ rules: [{ id: 't', kind: 'standby', recentIdle: '0' }] }).rules[0]?.recentIdleMs).toBe(0)
    expect(() => validateAlertsConfig({ rules: [{ id: 'a', kind: 'anomaly', recentIdle: '14d' }] })).toThrow(/recentIdle/)
    // Learned once per device: a later standby rule with another recentIdle is refused.
    expect(() =>
      validateAlertsConfig({
        rules: [
          { id: 's', kind: 'standby' },
          { id: 't', kind: 'standby', recentIdle: '7d' },
        ],
      }),
    ).toThrow(/\/rules\/1\/recentIdle: recentIdle is learned once per device, with the first standby rule \(\/rules\/0, "default"\)/)
    expect(() =>
      validateAlertsConfig({
        rules: [
          { id: 's', kind: 'standby' },
          { id: 't', kind: 'standby', recentIdle: '14d' },
        ],
      }),
    ).not.toThrow()
  })
})
