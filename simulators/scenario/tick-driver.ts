import type { LinePlc } from './line-plcs.ts'
import type { ScenarioCounter } from './production-counter.ts'

/**
 * The counter ticks a run drives itself, in order: each line PLC (its tick reads its production
 * counter), then the counters without a PLC, which tick alone. Meters tick on their own timers.
 */
export function counterTicks(plcsByEndpoint: ReadonlyMap<string, readonly LinePlc[]>, production: readonly ScenarioCounter[]): (() => unknown)[] {
  const plcs = [...plcsByEndpoint.values()].flat()
  const unserved = production.filter((_, i) => !plcs.some((x) => x.index === i))
  return [...plcs.map((x) => x.device.tick), ...unserved.map((p) => p.tick)]
}

/** Runs a list of ticks in order, on a timer of its own and on demand. */
export interface TickDriver {
  /** Every tick once, now. */
  tick(): void
  /** Clears the timer. */
  stop(): Promise<void>
}

/** Ticks every `updateIntervalMs` real ms on an unref'd timer (never keeps the process alive); 0 = only on tick(). */
export function startTickDriver(ticks: readonly (() => unknown)[], updateIntervalMs: number): TickDriver {
  const tick = (): void => {
    for (const t of ticks) t()
  }
  const timer = updateIntervalMs > 0 ? setInterval(tick, updateIntervalMs) : undefined
  timer?.unref()
  return {
    tick,
    async stop() {
      if (timer) clearInterval(timer)
    },
  }
}
