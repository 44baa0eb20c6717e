import chineseDays from 'chinese-days'
import { DAY_MS } from '../core/duration.ts'
import { type CalendarConfig, WEEKDAYS, type Weekday } from '../core/calendar.ts'
import { cachedOffsetMs } from './time.ts'

/**
 * The working calendar of a plant: which local days are working days, per line. A line works on its
 * weekdays (`lines`, else `workdays`); with `holidays: cn` China's public holidays are days off and
 * the adjusted working days (调休, a weekend worked in exchange) are working days, both from the
 * `chinese-days` package (updated by its maintainers each year from the State Council notice); the
 * plant's own `nonWorkingDays` and `workingDays` override everything.
 */

export { CalendarSchema, HOLIDAY_SOURCES, WEEKDAYS, type CalendarConfig, type Weekday } from '../core/calendar.ts'

/** Every day a working day: what a rule without a calendar uses. */
export const ALWAYS_WORKING: CalendarConfig = Object.freeze({ workdays: [...WEEKDAYS], lines: {}, holidays: 'none', nonWorkingDays: [], workingDays: [] })

/** Local calendar date of ts: YYYY-MM-DD and the weekday (0 = Monday). */
export function localDate(ts: number, timezone: string): { date: string; weekday: number; dayNumber: number } {
  const local = ts + cachedOffsetMs(ts, timezone)
  const dayNumber = Math.floor(local / DAY_MS)
  // 1970-01-01 was a Thursday: (day + 3) mod 7 = 0 on Mondays.
  return { date: new Date(dayNumber * DAY_MS).toISOString().slice(0, 10), weekday: (((dayNumber + 3) % 7) + 7) % 7, dayNumber }
}

export class WorkCalendar {
  private readonly off: ReadonlySet<string>
  private readonly on: ReadonlySet<string>
  private readonly cache = new Map<string, boolean>()

  constructor(
    readonly config: CalendarConfig,
    readonly timezone: string,
  ) {
    this.off = new Set(config.nonWorkingDays)
    this.on = new Set(config.workingDays)
  }

  /** True when the line works on the local day of ts. */
  isWorkingDay(ts: number, line?: string): boolean {
    const { date, weekday, dayNumber } = localDate(ts, this.timezone)
    const key = `${line ?? ''}|${dayNumber}`
    let v = this.cache.get(key)
    if (v === undefined) {
      v = this.decide(date, weekday, line)
      this.cache.set(key, v)
    }
    return v
  }

  /** True when the calendar can ever say "off" (else the detector keeps one week of slots). */
  get hasDaysOff(): boolean {
    const c = this.config
    return c.holidays !== 'none' || c.nonWorkingDays.length > 0 || c.workdays.length < 7 || Object.values(c.lines).some((l) => l.length < 7)
  }

  private decide(date: string, weekday: number, line: string | undefined): boolean {
    if (this.on.has(date)) return true
    if (this.off.has(date)) return false
    const days = (line !== undefined ? this.config.lines[line] : undefined) ?? this.config.workdays
    const scheduled = days.includes(WEEKDAYS[weekday] as Weekday)
    if (this.config.holidays === 'cn') {
      const cnWork = chineseDays.isWorkday(date)
      // A weekday China takes off is a public holiday; a weekend China works is 调休.
      if (weekday < 5 && !cnWork) return false
      if (weekday >= 5 && cnWork) return true
    }
    return scheduled
  }
}
