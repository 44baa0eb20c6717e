import { describe, expect, it } from 'vitest'
import { counterEnergy, counterIncrements, powerEnergy, sumIntervalsByWindow } from './energy.ts'
import { calendarWindows } from './time.ts'
import { codeOf, HOUR, MIN, sh } from './test-helpers.ts'

const TZ = 'Asia/Shanghai'
const hours = (from: string, to: string) => calendarWindows({ start: sh(from), end: sh(to) }, 'hour', TZ)

describe('counterEnergy', () => {
  it('differences a counter per window, splitting a pair that straddles a boundary pro rata', () => {
    // 00:00 100, 00:30 110, 00:50 130, 01:10 150, 02:00 160 kWh; maxGap 1 h.
    // 00–01: 10 + 20 + (01:10 pair: 20 kWh over 20 min, 10 of them before 01:00 → 10) = 40
    // 01–02: 10 (rest of the straddling pair) + 10 = 20
    const s = [
      { ts: sh('2024-05-01T00:00'), value: 100 },
      { ts: sh('2024-05-01T00:30'), value: 110 },
      { ts: sh('2024-05-01T00:50'), value: 130 },
      { ts: sh('2024-05-01T01:10'), value: 150 },
      { ts: sh('2024-05-01T02:00'), value: 160 },
    ]
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T02:00'), { maxGapMs: HOUR })
    expect(r.windows.map((w) => w.amount)).toEqual([40, 20])
    expect(r.windows.map((w) => w.coverage)).toEqual([1, 1])
    expect(r.total).toEqual({ amount: 60, coverage: 1 })
  })

  it('books no energy and no coverage for a drop no record explains (an unexplained reset)', () => {
    // 1000 → 1010 (+10) → 2 (unexplained: unknown, 00:15–00:30 uncovered) → 7 (+5) = 15 kWh, coverage 30/60
    const s = [1000, 1010, 2, 7].map((value, i) => ({ ts: sh('2024-05-01T00:00') + i * 15 * MIN, value }))
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'))
    expect(r.total.amount).toBe(15)
    expect(r.total.coverage).toBe(0.5)
    expect(r.counts).toMatchObject({ unexplained_reset: 1, reset: 0, backstep: 0 })
    expect(r.anomalies.find((a) => a.kind === 'unexplained_reset')).toMatchObject({ from: sh('2024-05-01T00:15'), to: sh('2024-05-01T00:30'), amount: 0 })
    expect(r.increments[1]).toEqual({ start: sh('2024-05-01T00:15'), end: sh('2024-05-01T00:30'), amount: 0, gap: true })
  })

  it('unwraps a uint32 × 0.01 kWh register rolling over at 42 949 672.96', () => {
    // 42 949 670.00 → (wrap) → 1.04: 42 949 672.96 − 42 949 670.00 + 1.04 = 4.00 kWh; then +1.00
    const modulus = 4_294_967_296 * 0.01
    const s = [
      { ts: sh('2024-05-01T00:00'), value: 42_949_670.0 },
      { ts: sh('2024-05-01T00:15'), value: 1.04 },
      { ts: sh('2024-05-01T00:30'), value: 2.04 },
    ]
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'), { modulus })
    expect(r.total.amount).toBeCloseTo(5.0, 6)
    expect(r.counts).toMatchObject({ rollover: 1, unexplained_reset: 0 })
    // Without the modulus, the same drop is an unexplained reset: only the 1.00 after it counts
    const bare = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'))
    expect(bare.total.amount).toBeCloseTo(1.0, 9)
    expect(bare.counts.unexplained_reset).toBe(1)
  })

  it('does not count meter jitter (a backstep of at most 0.1 %) twice', () => {
    // 100 → 99.9 (0.1 %: backstep, 0, reference stays 100) → 101 (+1) = 1 kWh
    const s = [100, 99.9, 101].map((value, i) => ({ ts: sh('2024-05-01T00:00') + i * 10 * MIN, value }))
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'))
    expect(r.total.amount).toBeCloseTo(1, 9)
    expect(r.counts.backstep).toBe(1)
  })

  it('spreads energy across a gap pro rata, or puts it where the next sample lands', () => {
    // 00:00 0, 00:15 10, gap, 02:15 130, 02:30 140; maxGap 15 min.
    // The gap pair carries 120 kWh over 2 h (60 kWh/h):
    //   pro rata: 00–01 10 + 45 min × 1 kWh/min = 55; 01–02 60; 02–03 15 + 10 = 25 (sum 140)
    //   next sample: 00–01 10; 01–02 0; 02–03 120 + 10 = 130
    // Coverage only counts the gap-free pairs: 15/60, 0, 15/60.
    const s = [
      { ts: sh('2024-05-01T00:00'), value: 0 },
      { ts: sh('2024-05-01T00:15'), value: 10 },
      { ts: sh('2024-05-01T02:15'), value: 130 },
      { ts: sh('2024-05-01T02:30'), value: 140 },
    ]
    const w = hours('2024-05-01T00:00', '2024-05-01T03:00')
    const pro = counterEnergy(s, w)
    expect(pro.windows.map((x) => x.amount)).toEqual([55, 60, 25])
    expect(pro.windows.map((x) => x.coverage)).toEqual([0.25, 0, 0.25])
    expect(pro.total.coverage).toBeCloseTo(0.5 / 3, 12)
    expect(pro.counts.gap).toBe(1)
    expect(pro.windows[1]?.anomalies.map((a) => a.kind)).toEqual(['gap'])
    const next = counterEnergy(s, w, { gapPolicy: 'next-sample' })
    expect(next.windows.map((x) => x.amount)).toEqual([10, 0, 130])
  })

  it('a month with a gap: the counter still gives the month its energy, coverage says what is missing', () => {
    // Hourly readings through January 2024 (Shanghai), +1 kWh each hour, none from Jan 10 00:00 to
    // Jan 13 00:00 (72 h). January has 744 h: energy 744 kWh; coverage (744 − 72) / 744 = 0.903226.
    const start = sh('2024-01-01T00:00')
    const s = []
    for (let h = 0; h <= 744; h++) {
      const ts = start + h * HOUR
      if (ts > sh('2024-01-10T00:00') && ts < sh('2024-01-13T00:00')) continue
      s.push({ ts, value: 5000 + h })
    }
    const months = calendarWindows({ start, end: sh('2024-02-01T00:00') }, 'month', TZ)
    expect(months).toHaveLength(1)
    const r = counterEnergy(s, months, { maxGapMs: HOUR })
    expect(r.windows[0]?.amount).toBeCloseTo(744, 9)
    expect(r.windows[0]?.coverage).toBeCloseTo(672 / 744, 12)
    expect(r.anomalies.filter((a) => a.kind === 'gap')).toEqual([
      expect.objectContaining({ from: sh('2024-01-10T00:00'), to: sh('2024-01-13T00:00'), amount: 72 }),
    ])
  })

  it('sorts out-of-order samples and drops duplicates (the last received wins)', () => {
    // Received: 0@00, 5@30, 2@15, 2@15 (duplicate), 9@60 → sorted 0, 2, 5, 9: 9 kWh in 00–01.
    // Out of order: both 00:15 samples arrive after 00:30.
    const t0 = sh('2024-05-01T00:00')
    const s = [
      { ts: t0, value: 0 },
      { ts: t0 + 30 * MIN, value: 5 },
      { ts: t0 + 15 * MIN, value: 2 },
      { ts: t0 + 15 * MIN, value: 2 },
      { ts: t0 + 60 * MIN, value: 9 },
    ]
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'))
    expect(r.total.amount).toBe(9)
    expect(r.counts).toMatchObject({ duplicate: 1, out_of_order: 2 })
    expect(r.increments.map((i) => i.amount)).toEqual([2, 3, 4])
  })

  it('drops bad-quality and non-finite samples and says so', () => {
    const t0 = sh('2024-05-01T00:00')
    const s = [
      { ts: t0, value: 0 },
      { ts: t0 + 10 * MIN, value: 999, quality: 'bad' as const },
      { ts: t0 + 20 * MIN, value: Number.NaN },
      { ts: t0 + 30 * MIN, value: 6 },
    ]
    const r = counterEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'), { maxGapMs: HOUR })
    expect(r.total.amount).toBe(6)
    expect(r.counts).toMatchObject({ bad_quality: 1, invalid: 1 })
  })

  it('rejects overlapping windows and a bad modulus', () => {
    expect(
      codeOf(() =>
        counterEnergy(
          [],
          [
            { start: 0, end: 10 },
            { start: 5, end: 20 },
          ],
        ),
      ),
    ).toBe('ANALYTICS_ERR_INPUT')
    expect(codeOf(() => counterIncrements([], { modulus: 0 }))).toBe('ANALYTICS_ERR_INPUT')
  })
})

describe('powerEnergy', () => {
  it('integrates power by the trapezoid rule, splitting exactly on the interpolated line', () => {
    // 00:00 0 kW, 00:30 60 kW, 01:00 60 kW → 0.5 h × 30 kW + 0.5 h × 60 kW = 45 kWh.
    // 15-minute windows: 00:00–00:15 ramps 0→30 kW: 0.25 h × 15 kW = 3.75; 00:15–00:30 30→60: 11.25;
    // then 15 and 15.
    const t0 = sh('2024-05-01T00:00')
    const s = [
      { ts: t0, value: 0 },
      { ts: t0 + 30 * MIN, value: 60 },
      { ts: t0 + 60 * MIN, value: 60 },
    ]
    const r = powerEnergy(s, calendarWindows({ start: t0, end: t0 + HOUR }, '15m', TZ), { maxGapMs: 30 * MIN })
    expect(r.windows.map((w) => w.amount)).toEqual([3.75, 11.25, 15, 15])
    expect(r.total.amount).toBe(45)
    expect(r.total.coverage).toBe(1)
  })

  it('assumes no energy across a gap longer than maxGapMs', () => {
    // 00:00 10 kW, 00:10 10 kW (10/6 kWh), gap to 00:50 (40 min > 15), 00:50 10 kW, 01:00 10 kW (10/6 kWh).
    const t0 = sh('2024-05-01T00:00')
    const s = [0, 10, 50, 60].map((m) => ({ ts: t0 + m * MIN, value: 10 }))
    const r = powerEnergy(s, hours('2024-05-01T00:00', '2024-05-01T01:00'), { maxGapMs: 15 * MIN })
    expect(r.total.amount).toBeCloseTo(20 / 6, 12)
    expect(r.windows[0]?.coverage).toBeCloseTo(20 / 60, 12)
    expect(r.counts.gap).toBe(1)
  })
})

describe('sumIntervalsByWindow', () => {
  it('splits interval amounts at window edges pro rata', () => {
    // 90 kWh over 00:30–02:00: 30 in 00–01, 60 in 01–02.
    const w = hours('2024-05-01T00:00', '2024-05-01T02:00')
    expect(sumIntervalsByWindow([{ start: sh('2024-05-01T00:30'), end: sh('2024-05-01T02:00'), amount: 90 }], w)).toEqual([30, 60])
  })
})
