/** One instant of a backfill's grid: integration step `ts`, the `k`-th of the sample period that starts at `t`. */
export interface GridStep {
  t: number
  k: number
  ts: number
}

/**
 * The integration instants of [start, stop): each sample period `stepMs` from `start`, cut into
 * `subSteps` steps of `dtMs` (k = 0 is the sample instant); none past `stop`.
 */
export function* historyGrid(grid: { start: number; stop: number; stepMs: number; subSteps: number; dtMs: number }): Generator<GridStep> {
  for (let t = grid.start; t < grid.stop; t += grid.stepMs) {
    for (let k = 0; k < grid.subSteps; k++) {
      const ts = t + k * grid.dtMs
      if (ts > grid.stop) break
      yield { t, k, ts }
    }
  }
}

/** Steps devices through time, so counters integrate power in trapezoids of about dt. */
export class HistoryStepper {
  #last = Number.NEGATIVE_INFINITY
  readonly #devices: readonly { update(t: number): void }[]
  readonly #dtMs: number

  constructor(devices: readonly { update(t: number): void }[], dtMs: number) {
    this.#devices = devices
    this.#dtMs = dtMs
  }

  /** The instant of the last update, epoch ms; −∞ before the first. */
  get lastUpdate(): number {
    return this.#last
  }

  /**
   * Updates every device up to `to` in steps of dt from the last update (readings off the sample
   * grid, the end); across a long gap at most 5000 steps, so carrying counters over months stays fast.
   * The first call updates at `to` only.
   */
  advanceTo(to: number): void {
    const h = Math.max(this.#dtMs, (to - this.#last) / 5000)
    if (this.#last !== Number.NEGATIVE_INFINITY) for (let ts = this.#last + h; ts < to; ts += h) for (const d of this.#devices) d.update(ts)
    for (const d of this.#devices) d.update(to)
    this.#last = to
  }

  /** A step of the grid: one update at ts, or the steps in between when the last update is further back than dt. */
  stepTo(ts: number): void {
    if (this.#last < ts - this.#dtMs) this.advanceTo(ts)
    else {
      for (const d of this.#devices) d.update(ts)
      this.#last = ts
    }
  }

  /** Carries the counters up to `stop` unless they are there already. */
  finish(stop: number): void {
    if (stop > this.#last) this.advanceTo(stop)
  }
}
