import type { CalendarConfig } from '../core/calendar.ts'
import { lineKey, type PlantModel } from '../core/plant.ts'
import { cachedOffsetMs } from './time.ts'
import { DAY_MS, MINUTE_MS } from '../core/duration.ts'

/** What the rules need to know about a line of the plant model. */
export interface LineContext {
  enterprise: string
  site: string
  line: string
  timezone: string
  /** Shifts as [start, end) local minutes of the day; end > 1440 when a shift runs past midnight. */
  shifts: [number, number][]
  /** The line's production counter. */
  production?: { device: string; quantity: 'output_t' | 'output_count' }
  mainMeter?: string
  contractedDemandKw?: number
  /** The enterprise's working calendar from the plant model, if it has one. */
  calendar?: CalendarConfig
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

export function lineContexts(plant: PlantModel): Map<string, LineContext> {
  const out = new Map<string, LineContext>()
  for (const e of plant.enterprises) {
    for (const s of e.sites) {
      for (const l of s.lines) {
        const ctx: LineContext = {
          enterprise: e.id,
          site: s.id,
          line: l.id,
          timezone: s.timezone ?? plant.timezone,
          shifts: l.shifts.map((sh) => {
            const a = minutes(sh.start)
            let b = minutes(sh.end)
            if (b <= a) b += 1440
            return [a, b] as [number, number]
          }),
        }
        if (l.product) ctx.production = { device: l.product.productionDevice, quantity: l.product.unit === 't' ? 'output_t' : 'output_count' }
        if (l.mainMeter) ctx.mainMeter = l.mainMeter
        if (s.contractedDemandKw !== undefined) ctx.contractedDemandKw = s.contractedDemandKw
        if (e.calendar) ctx.calendar = e.calendar
        out.set(lineKey({ enterprise: e.id, site: s.id, line: l.id }), ctx)
      }
    }
  }
  return out
}

/** True when ts falls in one of the line's shifts (local time of the site). */
export function inShift(line: LineContext, ts: number): boolean {
  const local = ts + cachedOffsetMs(ts, line.timezone)
  const minute = Math.floor((((local % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS)
  for (const [a, b] of line.shifts) {
    if ((minute >= a && minute < b) || (minute + 1440 >= a && minute + 1440 < b)) return true
  }
  return false
}
