import { DAY_MS, HOUR_MS, parseDuration, type Duration } from './duration.ts'
import { PlantWattError } from './errors.ts'

/**
 * Time windows in an IANA time zone, shared by both stores (and by analytics): the one place that
 * decides where a window starts, so the embedded and InfluxDB backends cannot disagree.
 *
 * Alignment (see AggregateQuery.every in store.ts):
 * - fixed windows shorter than a day: multiples of their length from local midnight (elapsed time);
 *   a length that does not divide the day leaves a shorter last window before the next midnight;
 * - n days: local midnights, day numbers counted from 1970-01-01 local, multiples of n;
 * - n weeks: Monday local midnight, counted from Monday 1970-01-05;
 * - n months / years: the 1st at local midnight, month numbers (year × 12 + month) multiples of n,
 *   so 1y starts in January and 3mo on quarters.
 * Local days are 23 or 25 h long across a DST change, and so are the windows that contain them.
 */

export const DEFAULT_TIMEZONE = 'Asia/Shanghai'

/** 1970-01-05, the first Monday after the epoch, as a local day number. */
const FIRST_MONDAY_DAY = 4

/**
 * A run of equally long, back-to-back windows: window k is [origin + k·lengthMs, origin + (k+1)·lengthMs).
 * `from`/`to` clip the run to the query range. A backend aggregates a run with one range scan and
 * a bucket expression (SQLite) or one `GROUP BY time(lengthMs, origin mod lengthMs)` (InfluxQL).
 */
export interface WindowRun {
  origin: number
  lengthMs: number
  count: number
  /** Inclusive, epoch ms, ≥ origin. */
  from: number
  /** Exclusive, epoch ms, ≤ origin + count·lengthMs. */
  to: number
}

interface LocalDateTime {
  year: number
  /** 1–12 */
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone)
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
    } catch (cause) {
      throw new PlantWattError('STORAGE_ERR_QUERY', `unknown time zone ${JSON.stringify(timezone)}: expected an IANA name such as Asia/Shanghai`, { cause })
    }
    formatters.set(timezone, f)
  }
  return f
}

/** Throws STORAGE_ERR_QUERY unless `timezone` is an IANA zone this runtime knows. */
export function assertTimeZone(timezone: string): void {
  formatterFor(timezone)
}

/** Wall-clock date and time at instant `ts` in `timezone` (to the second). */
export function localDateTime(ts: number, timezone: string): LocalDateTime {
  const out: LocalDateTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const p of formatterFor(timezone).formatToParts(ts)) {
    if (p.type in out) out[p.type as keyof LocalDateTime] = Number(p.value)
  }
  return out
}

/** Offset of local time from UTC at instant `ts`, in ms (Asia/Shanghai: +8 h). */
export function zoneOffsetMs(ts: number, timezone: string): number {
  const second = Math.floor(ts / 1000) * 1000
  const l = localDateTime(second, timezone)
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - second
}

/** Local day number: days since 1970-01-01 in local time. */
function localDayNumber(ts: number, timezone: string): number {
  const l = localDateTime(ts, timezone)
  return Math.round(Date.UTC(l.year, l.month - 1, l.day) / DAY_MS)
}

/**
 * The instant local day `dayNumber` begins (its local midnight). Where midnight falls in a DST
 * gap the day begins at the transition; where it occurs twice, at the first occurrence.
 */
export function startOfLocalDay(dayNumber: number, timezone: string): number {
  const naive = dayNumber * DAY_MS
  const o1 = zoneOffsetMs(naive, timezone)
  const t1 = naive - o1
  const o2 = zoneOffsetMs(t1, timezone)
  if (o2 === o1) {
    // Midnight may also exist under the other offset (overlap): take the earlier instant.
    const o0 = zoneOffsetMs(t1 - 3 * HOUR_MS, timezone)
    const t0 = naive - o0
    return o0 !== o1 && t0 < t1 && zoneOffsetMs(t0, timezone) === o0 ? t0 : t1
  }
  const t2 = naive - o2
  if (zoneOffsetMs(t2, timezone) === o2) return t2
  return Math.max(t1, t2) // gap: the first instant of the day is the transition
}

/** The instant local midnight of (year, month 1–12, day) begins; out-of-range months/days roll over. */
export function startOfLocalDate(year: number, month: number, day: number, timezone: string): number {
  return startOfLocalDay(Math.round(Date.UTC(year, month - 1, day) / DAY_MS), timezone)
}

type Plan = { kind: 'subday'; ms: number } | { kind: 'days'; n: number } | { kind: 'weeks'; n: number } | { kind: 'months'; n: number }

function planOf(every: string): Plan {
  const d: Duration = parseDuration(every)
  if (d.kind === 'calendar') return { kind: 'months', n: d.months }
  if (d.ms < DAY_MS) return { kind: 'subday', ms: d.ms }
  if (every.endsWith('w')) return { kind: 'weeks', n: d.ms / (7 * DAY_MS) }
  if (d.ms % DAY_MS === 0) return { kind: 'days', n: d.ms / DAY_MS }
  throw new PlantWattError('STORAGE_ERR_QUERY', `window ${every}: windows of a day or longer must be whole days, weeks, months or years`)
}

/** Calendar windows as [index → start]; index of the window containing an instant. */
interface CalendarWindows {
  indexOf(ts: number): number
  startOf(index: number): number
}

function calendarWindows(plan: Exclude<Plan, { kind: 'subday' }>, timezone: string): CalendarWindows {
  switch (plan.kind) {
    case 'days':
      return {
        indexOf: (ts) => Math.floor(localDayNumber(ts, timezone) / plan.n),
        startOf: (i) => startOfLocalDay(i * plan.n, timezone),
      }
    case 'weeks': {
      const days = 7 * plan.n
      return {
        indexOf: (ts) => Math.floor((localDayNumber(ts, timezone) - FIRST_MONDAY_DAY) / days),
        startOf: (i) => startOfLocalDay(i * days + FIRST_MONDAY_DAY, timezone),
      }
    }
    case 'months':
      return {
        indexOf: (ts) => {
          const l = localDateTime(ts, timezone)
          return Math.floor((l.year * 12 + l.month - 1) / plan.n)
        },
        startOf: (i) => {
          const m = i * plan.n
          return startOfLocalDate(Math.floor(m / 12), (m % 12) + 1, 1, timezone)
        },
      }
  }
}

function pushSegment(runs: WindowRun[], origin: number, lengthMs: number, count: number): void {
  const last = runs[runs.length - 1]
  if (last && last.lengthMs === lengthMs && last.origin + last.count * last.lengthMs === origin) {
    last.count += count
    last.to = origin + count * lengthMs
    return
  }
  runs.push({ origin, lengthMs, count, from: origin, to: origin + count * lengthMs })
}

/** Trims runs to the windows that overlap [start, stop) and clips from/to to the range. */
function clip(runs: WindowRun[], start: number, stop: number): WindowRun[] {
  const out: WindowRun[] = []
  for (const r of runs) {
    const end = r.origin + r.count * r.lengthMs
    if (end <= start || r.origin >= stop) continue
    const first = Math.max(0, Math.floor((start - r.origin) / r.lengthMs))
    const lastExclusive = Math.min(r.count, Math.ceil((stop - r.origin) / r.lengthMs))
    const origin = r.origin + first * r.lengthMs
    out.push({
      origin,
      lengthMs: r.lengthMs,
      count: lastExclusive - first,
      from: Math.max(start, origin),
      to: Math.min(stop, r.origin + lastExclusive * r.lengthMs),
    })
  }
  return out
}

/**
 * The windows covering [start, stop) as runs, in time order. `every` absent: one window [start, stop)
 * whose start is `start`. Empty when start ≥ stop.
 */
export function windowRuns(start: number, stop: number, every: string | undefined, timezone: string = DEFAULT_TIMEZONE): WindowRun[] {
  if (!(start < stop)) return []
  if (every === undefined) return [{ origin: start, lengthMs: stop - start, count: 1, from: start, to: stop }]
  const plan = planOf(every)
  assertTimeZone(timezone)
  const runs: WindowRun[] = []
  if (plan.kind === 'subday') {
    // Walk local days: each day restarts the grid at its midnight.
    let day = localDayNumber(start, timezone)
    let dayStart = startOfLocalDay(day, timezone)
    while (dayStart < stop) {
      const nextStart = startOfLocalDay(day + 1, timezone)
      const length = nextStart - dayStart
      const full = Math.floor(length / plan.ms)
      if (full > 0) pushSegment(runs, dayStart, plan.ms, full)
      const rest = length - full * plan.ms
      if (rest > 0) pushSegment(runs, dayStart + full * plan.ms, rest, 1)
      day += 1
      dayStart = nextStart
    }
  } else {
    const cal = calendarWindows(plan, timezone)
    const last = cal.indexOf(stop - 1)
    let windowStart = cal.startOf(cal.indexOf(start))
    for (let i = cal.indexOf(start); i <= last; i++) {
      const next = cal.startOf(i + 1)
      pushSegment(runs, windowStart, next - windowStart, 1)
      windowStart = next
    }
  }
  return clip(runs, start, stop)
}

/** Start of every window overlapping [start, stop), in order (enumerates: mind long ranges of short windows). */
export function windowStarts(start: number, stop: number, every: string | undefined, timezone: string = DEFAULT_TIMEZONE): number[] {
  const out: number[] = []
  for (const r of windowRuns(start, stop, every, timezone)) for (let k = 0; k < r.count; k++) out.push(r.origin + k * r.lengthMs)
  return out
}

/** Start of the window of length `every` that contains `ts`. */
export function windowStartOf(ts: number, every: string, timezone: string = DEFAULT_TIMEZONE): number {
  const run = windowRuns(ts, ts + 1, every, timezone)[0]
  if (!run) throw new PlantWattError('STORAGE_ERR_QUERY', `no window contains ${ts}`)
  return run.origin
}
