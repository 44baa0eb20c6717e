import { HOUR_MS } from '../../core/duration.ts'
import type { DeviceAddress } from '../../core/topic.ts'
import type { ScenarioProduction } from './model.ts'

/** A line's production counter in a live run: the true count, in-process (run.plcs serves it over Modbus). */
export interface ScenarioCounter {
  address: DeviceAddress
  key: string
  quantity: 'output_t' | 'output_count'
  /** Output counted so far (from initialCounters, else 0 at the run's start), and the clock time of that count. */
  snapshot(): { ts: number; value: number }
  tick(): { ts: number; value: number }
}

/**
 * A production counter integrating the line's output rate (trapezoids between ticks) from `start`
 * units; parts are counted whole. Ticks once at creation (reads the clock).
 */
export function createProductionCounter(p: ScenarioProduction, clock: () => number, start: number): ScenarioCounter {
  let total = start
  let last: { t: number; rate: number } | undefined
  let current = { ts: 0, value: 0 }
  const tick = () => {
    const t = clock()
    const rate = p.ratePerHour(t)
    if (last && t > last.t) total += ((last.rate + rate) / 2) * ((t - last.t) / HOUR_MS)
    // A clock that steps back leaves the count where it is.
    if (!last || t >= last.t) last = { t, rate }
    current = { ts: t, value: p.quantity === 'output_count' ? Math.floor(total) : total }
    return current
  }
  tick()
  return { address: p.address, key: p.key, quantity: p.quantity, snapshot: () => current, tick }
}
