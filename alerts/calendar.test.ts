import { describe, expect, it } from 'vitest'
import { WorkCalendar } from './calendar.ts'
import { fitRegimeSlots, judgeRegimeWindow, learnRegimes } from './regimes.ts'

const TZ = 'Asia/Shanghai'
/** Local midnight of a date in Shanghai (UTC+8). */
const day = (iso: string): number => Date.parse(`${iso}T00:00:00+08:00`) + 10 * 3_600_000

describe('WorkCalendar', () => {
  it("weekday schedules per line, China's public holidays and 调休 from chinese-days, the plant's own days", () => {
    const c = new WorkCalendar(
      {
        workdays: ['mon', 'tue', 'wed', 'thu', 'fri'],
        lines: { rolling: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
        holidays: 'cn',
        nonWorkingDays: ['2024-03-05'],
        workingDays: ['2024-03-10'],
      },
      TZ,
    )
    expect(c.isWorkingDay(day('2024-03-04'))).toBe(true) // a Monday
    expect(c.isWorkingDay(day('2024-03-09'))).toBe(false) // a Saturday
    expect(c.isWorkingDay(day('2024-03-09'), 'rolling')).toBe(true) // the rolling line works Saturdays
    expect(c.isWorkingDay(day('2024-10-01'))).toBe(false) // National Day, a Tuesday
    expect(c.isWorkingDay(day('2024-10-12'))).toBe(true) // a Saturday worked in exchange (调休)
    expect(c.isWorkingDay(day('2024-02-04'))).toBe(true) // Sunday worked before the Spring Festival
    expect(c.isWorkingDay(day('2024-03-05'))).toBe(false) // the plant's own day off
    expect(c.isWorkingDay(day('2024-03-10'))).toBe(true) // the plant's extra working Sunday
    const none = new WorkCalendar(
      { workdays: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], lines: {}, holidays: 'none', nonWorkingDays: [], workingDays: [] },
      TZ,
    )
    expect(none.hasDaysOff).toBe(false)
    expect(none.isWorkingDay(day('2024-10-01'))).toBe(true)
  })
})

describe("China's holidays on a week of the plant's own", () => {
  const cal = new WorkCalendar(
    {
      workdays: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
      lines: { kiln: ['mon', 'wed', 'fri'] },
      holidays: 'cn',
      nonWorkingDays: [],
      workingDays: [],
    },
    TZ,
  )

  it('a public holiday on a scheduled Saturday is off; 调休 weekends are worked by Mon–Fri (or longer) weeks only', () => {
    expect(cal.isWorkingDay(day('2025-10-04'))).toBe(false) // Saturday inside National Day
    expect(cal.isWorkingDay(day('2026-05-02'))).toBe(false) // Saturday of Labour Day
    expect(cal.isWorkingDay(day('2025-10-18'))).toBe(true) // an ordinary Saturday of the Mon–Sat plant
    expect(cal.isWorkingDay(day('2025-10-19'))).toBe(false) // an ordinary Sunday
    expect(cal.isWorkingDay(day('2025-09-28'))).toBe(true) // Sunday worked before National Day (调休)
    expect(cal.isWorkingDay(day('2025-10-01'))).toBe(false) // National Day, a Wednesday
    // The Mon/Wed/Fri line: holidays off, 调休 Sundays not worked (its week is its own), its days kept.
    expect(cal.isWorkingDay(day('2025-10-01'), 'kiln')).toBe(false)
    expect(cal.isWorkingDay(day('2025-09-28'), 'kiln')).toBe(false)
    expect(cal.isWorkingDay(day('2025-10-11'), 'kiln')).toBe(false) // Saturday 调休
    expect(cal.isWorkingDay(day('2025-10-10'), 'kiln')).toBe(true) // a Friday
  })

  it('names the years chinese-days does not know (1.5.7: up to 2026), only with holidays: cn', () => {
    expect(cal.uncoveredYears(day('2026-12-01'), day('2027-02-01'))).toEqual([2027])
    expect(cal.uncoveredYears(day('2025-01-01'), day('2026-12-31'))).toEqual([])
    const none = new WorkCalendar({ workdays: ['mon'], lines: {}, holidays: 'none', nonWorkingDays: [], workingDays: [] }, TZ)
    expect(none.uncoveredYears(day('2026-12-01'), day('2027-02-01'))).toEqual([])
  })
})

describe('regimes', () => {
  it('learns idle and running levels and judges a window against the regimes its slot has shown', () => {
    // Slot 0 runs (300 kW ± 10 %) in 80 % of the weeks and idles (15 kW) in 20 %; slot 1 always idles.
    const slotOf: number[] = []
    const power: number[] = []
    for (let w = 0; w < 20; w++) {
      const noise = ((w % 5) - 2) / 20
      slotOf.push(0, 1)
      power.push(w % 5 === 0 ? 15 * (1 + noise / 5) : 300 * (1 + noise / 2), 15 * (1 + noise / 5))
    }
    const levels = learnRegimes(power, { minRatio: 3, minRegimeShare: 0.1 })
    expect(levels).toBeDefined()
    if (!levels) return
    expect(levels.levelsKw[0]).toBeLessThan(20)
    expect(levels.levelsKw[2]).toBeGreaterThan(250)
    const t = fitRegimeSlots(slotOf, power, 2, levels)
    const o = { k: 5, minBandKw: 0.5, minRegimeShare: 0.1, direction: 'both' as const }
    // Idle is 60 % of the windows: k-means is started again with its middle centre between idle and
    // running (alerts/regimes.ts NEAR_LEVELS_RATIO), which gets no window — levels ≈ 15, 67, 304 kW.
    expect(levels.levelsKw[1]).toBeGreaterThan(60)
    expect(levels.levelsKw[1]).toBeLessThan(75)
    // Both regimes are normal in slot 0, and so is the reduced range between them (a window that
    // spans a start or a stop); above running's band (304 · e^(5 × 0.036) ≈ 364 kW) is not.
    expect(judgeRegimeWindow(t, 0, 15, o).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 310, o).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 120, o).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 450, o).abnormal).toBe(true)
    // Slot 1 never ran: running there, or idle plus 40 kW, is abnormal; idle is not.
    expect(judgeRegimeWindow(t, 1, 300, o).abnormal).toBe(true)
    const v = judgeRegimeWindow(t, 1, 55, o)
    expect(v.abnormal).toBe(true)
    expect(v.expectedKw).toBeCloseTo(15, 0)
    expect(judgeRegimeWindow(t, 1, 15.5, o).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 1, 55, { ...o, direction: 'below' }).abnormal).toBe(false)
    // One level only: no regimes.
    expect(
      learnRegimes(
        power.map(() => 100),
        { minRatio: 3, minRegimeShare: 0.1 },
      ),
    ).toBeUndefined()
  })
})
