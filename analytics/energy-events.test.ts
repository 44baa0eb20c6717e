import { describe, expect, it } from 'vitest'
import { counterEnergy, counterIncrements, type CounterEvent } from './energy.ts'
import { calendarWindows } from './time.ts'
import { codeOf, MIN, sh } from './test-helpers.ts'

const TZ = 'Asia/Shanghai'
const hours = (from: string, to: string) => calendarWindows({ start: sh(from), end: sh(to) }, 'hour', TZ)
const quarters = (from: string, values: readonly number[]) => values.map((value, i) => ({ ts: sh(from) + i * 15 * MIN, value }))

/**
 * The swap: a steady 600 kW load (150 kWh a quarter, 10 kWh a minute) on an old meter reading
 * 99,700 / 99,850 / 100,000 kWh at 00:00 / 00:15 / 00:30, replaced at 00:35 (old final 100,050) by a
 * new meter starting at 60,000 that reads 60,100 at 00:45, then +150 a quarter to 60,850 at 02:00.
 * True energy 00:00–02:00: 8 quarters × 150 = 1,200 kWh.
 */
const swapSamples = [
  ...quarters('2024-05-01T00:00', [99_700, 99_850, 100_000]),
  ...quarters('2024-05-01T00:45', [60_100, 60_250, 60_400, 60_550, 60_700, 60_850]),
]
const swap: CounterEvent = { kind: 'replacement', ts: sh('2024-05-01T00:35'), oldFinalReading: 100_050, newStartReading: 60_000 }

describe('counter increments across meter events', () => {
  it('a meter swap with its record: exact, 0 % lost, full coverage', () => {
    // 00:30–00:45: (100,050 − 100,000) = 50 over 00:30–00:35 + (60,100 − 60,000) = 100 over 00:35–00:45; hours: 600 and 600.
    const r = counterEnergy(swapSamples, hours('2024-05-01T00:00', '2024-05-01T02:00'), { events: [swap] })
    expect(r.windows.map((w) => w.amount)).toEqual([600, 600])
    expect(r.total).toEqual({ amount: 1200, coverage: 1 })
    expect(r.counts).toMatchObject({ replacement: 1, unexplained_reset: 0, backstep: 0 })
    expect(r.anomalies.find((a) => a.kind === 'replacement')).toMatchObject({ from: sh('2024-05-01T00:30'), to: sh('2024-05-01T00:45'), amount: 150 })
    expect(r.increments.slice(2, 4)).toEqual([
      { start: sh('2024-05-01T00:30'), end: sh('2024-05-01T00:35'), amount: 50, gap: false },
      { start: sh('2024-05-01T00:35'), end: sh('2024-05-01T00:45'), amount: 100, gap: false },
    ])
  })

  it('the same swap without a record: the swap quarter is unknown (coverage 7/8), never booked as 0 with coverage 1', () => {
    // 00:30–00:45 100,000 → 60,100: unexplained reset, 0 kWh and no coverage; every other quarter 150.
    // 00–01: 450 kWh, coverage 45/60; 01–02: 600, coverage 1; total 1,050 (the missing 150 is the uncovered quarter).
    const r = counterEnergy(swapSamples, hours('2024-05-01T00:00', '2024-05-01T02:00'))
    expect(r.windows.map((w) => [w.amount, w.coverage])).toEqual([
      [450, 0.75],
      [600, 1],
    ])
    expect(r.total).toEqual({ amount: 1050, coverage: 0.875 })
    expect(r.counts).toMatchObject({ unexplained_reset: 1, backstep: 0 })
    expect(r.windows[0]?.anomalies.map((a) => a.kind)).toEqual(['unexplained_reset'])
  })

  it('a CT ratio change (100/5 → 200/5) doubles every increment from its time on', () => {
    // Readings +10 a quarter: 00:00 0 … 01:00 40, 01:15 50, 01:30 60. Ratio 20 → 40 (× 2).
    const s = quarters('2024-05-01T00:00', [0, 10, 20, 30, 40, 50, 60])
    const w = calendarWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-01T01:30') }, '15m', TZ)
    // At a sample's time (01:00): 10 × 4 before, then 20 and 20.
    const atSample = counterEnergy(s, w, { events: [{ kind: 'ratio_change', ts: sh('2024-05-01T01:00'), oldRatio: 20, newRatio: 40 }] })
    expect(atSample.windows.map((x) => x.amount)).toEqual([10, 10, 10, 10, 20, 20])
    // At 01:05 without a reading: the 01:00–01:15 pair (Δ 10) is split by time, 5 min × 1 + 10 min × 2:
    // 10 × 5/15 + 10 × 10/15 × 2 = 3.3333 + 13.3333 = 16.6667.
    const between = counterIncrements(s, { events: [{ kind: 'ratio_change', ts: sh('2024-05-01T01:05'), oldRatio: 20, newRatio: 40 }] })
    expect(between.increments.map((i) => i.amount).slice(4)).toEqual([50 / 3, 20])
    // With the reading at the change (43): (43 − 40) × 1 over 01:00–01:05, (50 − 43) × 2 = 14 over 01:05–01:15.
    const withReading = counterIncrements(s, {
      events: [{ kind: 'ratio_change', ts: sh('2024-05-01T01:05'), oldRatio: 20, newRatio: 40, readingAtChange: 43 }],
    })
    expect(withReading.increments.map((i) => i.amount).slice(4)).toEqual([3, 14, 20])
    // A ratio changed before the first sample still applies: every increment × 2.
    const before = counterIncrements(s, { events: [{ kind: 'ratio_change', ts: sh('2024-04-30T00:00'), oldRatio: 20, newRatio: 40 }] })
    expect(before.increments.map((i) => i.amount)).toEqual([20, 20, 20, 20, 20, 20])
  })

  it('a rollover at the register modulus is a rollover (uint16 kWh: 65,536), not a reset', () => {
    // 65,400 → 65,500 (+100) → 64 (65,536 − 65,500 + 64 = 100) → 164 (+100) = 300
    const s = quarters('2024-05-01T00:00', [65_400, 65_500, 64, 164])
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'), { modulus: 65_536 })
    expect(r.total.amount).toBe(300)
    expect(r.counts).toMatchObject({ rollover: 1, unexplained_reset: 0 })
    expect(r.anomalies.find((a) => a.kind === 'rollover')).toMatchObject({ amount: 100 })
    // A replacement may bring its own modulus: old uint32-ish meter replaced by a uint16 one starting at 65,000.
    // 00:00 500 → 00:15 600 (+100); swap at 00:20 (old final 633, new start 65,000); 00:30 65,500: each meter's leg
    // where it happened, 633 − 600 = 33 over 00:15–00:20 and 65,500 − 65,000 = 500 over 00:20–00:30;
    // 00:45 64: rollover at the new modulus, 65,536 − 65,500 + 64 = 100. Total 733.
    const s2 = quarters('2024-05-01T00:00', [500, 600, 65_500, 64])
    const r2 = counterIncrements(s2, {
      events: [{ kind: 'replacement', ts: sh('2024-05-01T00:20'), oldFinalReading: 633, newStartReading: 65_000, newModulus: 65_536 }],
    })
    expect(r2.increments.map((i) => i.amount)).toEqual([100, 33, 500, 100])
  })

  it('a recorded register reset counts from the value after it', () => {
    // 00:00 1000, 00:15 1010, reset at 00:20 (1012 before, 0 after), 00:30 2, 00:45 7.
    // With the reading before: 10 + (1012 − 1010) + (2 − 0) + 5 = 19, full coverage of 00:00–00:45.
    const s = quarters('2024-05-01T00:00', [1000, 1010, 2, 7])
    const w = calendarWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-01T00:45') }, '15m', TZ)
    const full = counterEnergy(s, w, { events: [{ kind: 'reset', ts: sh('2024-05-01T00:20'), valueAfter: 0, valueBefore: 1012 }] })
    expect(full.windows.map((x) => x.amount)).toEqual([10, 4, 5])
    expect(full.total.coverage).toBe(1)
    expect(full.counts).toMatchObject({ reset: 1, unexplained_reset: 0 })
    // Without it: 00:15–00:20 is unknown (no amount, no coverage), 00:20–00:30 counts 2 from 0.
    const part = counterEnergy(s, w, { events: [{ kind: 'reset', ts: sh('2024-05-01T00:20'), valueAfter: 0 }] })
    expect(part.windows.map((x) => x.amount)).toEqual([10, 2, 5])
    expect(part.windows[1]?.coverage).toBeCloseTo(10 / 15, 12)
    expect(part.counts.unexplained_reset).toBe(0)
  })

  it('an event at a sample time belongs to the pair before it; the sample is the new meter', () => {
    // 00:00 100, 00:15 swap (old final 120, new start 0) and the new meter reads 0 at 00:15, 00:30 30.
    const s = quarters('2024-05-01T00:00', [100, 0, 30])
    const r = counterIncrements(s, { events: [{ kind: 'replacement', ts: sh('2024-05-01T00:15'), oldFinalReading: 120, newStartReading: 0 }] })
    expect(r.increments.map((i) => [i.amount, i.gap])).toEqual([
      [20, false],
      [30, false],
    ])
  })

  it('a drop larger than 0.1 % is no jitter; bad event values are refused', () => {
    // 1000 → 998.9 (0.11 %): unexplained reset
    const r = counterIncrements(quarters('2024-05-01T00:00', [1000, 998.9, 1000]))
    expect(r.anomalies.map((a) => a.kind)).toEqual(['unexplained_reset'])
    expect(r.increments.map((i) => i.amount)).toEqual([0, 1000 - 998.9])
    expect(codeOf(() => counterIncrements([], { events: [{ kind: 'ratio_change', ts: 0, oldRatio: 0, newRatio: 1 }] }))).toBe('ANALYTICS_ERR_INPUT')
    expect(codeOf(() => counterIncrements([], { events: [{ kind: 'reset', ts: 0, valueAfter: Number.NaN }] }))).toBe('ANALYTICS_ERR_INPUT')
  })
})
