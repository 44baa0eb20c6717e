import chineseDays from 'chinese-days'
import { DAY_MS } from '../core/duration.ts'
import { type CalendarConfig, WEEKDAYS, type Weekday } from '../core/calendar.ts'
import { cachedOffsetMs } from './time.ts'

/**
 * The working calendar of a plant: which local days are working days, per line. A line works on its
 * weekdays (`lines`, else `workdays`); with `holidays: cn` China's public holidays are days off on
 * every weekday — a Saturday inside National Day too, for a line that works Saturdays — and the
 * adjusted working days (调休, a weekend worked in exchange) are working days for the lines that work
 * Monday to Friday (the national week the exchange belongs to; a line with a shorter week of its own
 * keeps its schedule), both from the `chinese-days` package (updated by its maintainers each year
 * from the State Council notice); the plant's own `nonWorkingDays` and `workingDays` override
 * everything. A year the package does not know yet is judged by the weekday schedule alone:
 * `uncoveredYears` names it, and the learning warns (alerts/baseline.ts).
 */

export { CalendarSchema, HOLIDAY_SOURCES, WEEKDAYS, type CalendarConfig, type Weekday } from '../core/calendar.ts'

/** Every day a working day: what a rule without a calendar uses. */
export const ALWAYS_WORKING: CalendarConfig = Object.freeze({ workdays: [...WEEKDAYS], lines: {}, holidays: 'none', nonWorkingDays: [], workingDays: [] })

const MON_TO_FRI: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri']

/** A public holiday in China (named by chinese-days; an ordinary weekend is not one). */
function isPublicHolidayCn(date: string): boolean {
  return chineseDays.getHolidaysInRange(date, date, false).length > 0
}

const knownYears = new Map<number, boolean>()
/** True when chinese-days has the year's public holidays (every year has some on weekdays). */
export function holidayYearKnownCn(year: number): boolean {
  let known = knownYears.get(year)
  if (known === undefined) knownYears.set(year, (known = chineseDays.getHolidaysInRange(`${year}-01-01`, `${year}-12-31`, false).length > 0))
  return known
}

/** How to bring a new year's holidays in (the package is pinned exactly in package.json). */
export const HOLIDAY_UPDATE_HINT =
  "update with `npm install chinese-days@latest` (it rewrites the exact pin in package.json and package-lock.json; commit both), or list the days in the calendar's nonWorkingDays / workingDays"

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

  /**
   * Years in [fromTs, toTs] (local) whose public holidays `holidays: cn` needs and chinese-days does
   * not have: those days are judged by the weekday schedule alone. Empty without `holidays: cn`.
   */
  uncoveredYears(fromTs: number, toTs: number): number[] {
    if (this.config.holidays !== 'cn') return []
    const from = Number(localDate(fromTs, this.timezone).date.slice(0, 4))
    const to = Number(localDate(toTs, this.timezone).date.slice(0, 4))
    const out: number[] = []
    for (let y = from; y <= to; y++) if (!holidayYearKnownCn(y)) out.push(y)
    return out
  }

  private decide(date: string, weekday: number, line: string | undefined): boolean {
    if (this.on.has(date)) return true
    if (this.off.has(date)) return false
    const days = (line !== undefined ? this.config.lines[line] : undefined) ?? this.config.workdays
    const scheduled = days.includes(WEEKDAYS[weekday] as Weekday)
    if (this.config.holidays === 'cn') {
      // A public holiday is off whatever the weekday (2025-10-04, a Saturday of National Day).
      if (isPublicHolidayCn(date)) return false
      // A weekend China works (调休) makes up for weekdays taken off: worked by the lines whose week is
      // Monday to Friday (or more); a line with a shorter week of its own keeps its schedule.
      if (weekday >= 5 && chineseDays.isWorkday(date) && MON_TO_FRI.every((d) => days.includes(d))) return true
    }
    return scheduled
  }
}
