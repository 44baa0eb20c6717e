/**
 * Unexpected starts: a line that has been at rest (below its running regime) for `restFor` and
 * comes up to running level in a slot of the calendar week where the history shows such a start on
 * fewer than `minStartShare` of the days the line was at rest there.
 *
 * Why: the regime bands judge a window by the levels its slot has shown. A slot where some days ran
 * late (a worked evening, a Saturday shift) has running as a plausible level, so a burst of running
 * load on a line that stopped an hour ago looks normal there. What the history rarely shows is the
 * line *starting* at that time: late evenings continue a day's run, they do not restart after a
 * stop. Conditioning on the line's own last windows (at rest or running) separates the two.
 *
 * Learned per calendar slot s from the history's windows in time order:
 *   atRest[s] = windows of slot s preceded by `restWindows` consecutive windows below running
 *   starts[s] = those of them at running level
 *   startShare[s] = Σ starts over slots s − tol … s + tol of the same day / atRest[s]
 * (a start that comes up to `tol` windows earlier or later than usual is still a usual start).
 * NaN when the slot has fewer than MIN_REST_DAYS at-rest windows: no judgement there.
 */

/** Fewer at-rest windows than this in a slot: its start share is unknown (no judgement). */
export const MIN_REST_DAYS = 3

export interface StartFitOptions {
  /** Window length, ms (the slots are as long). */
  windowMs: number
  /** Windows of the calendar's days (slots per day). */
  slotsPerDay: number
  slotCount: number
  /** The running regime's lower edge, kW. */
  runningEdgeKw: number
  /** Consecutive windows below running that make the line "at rest". */
  restWindows: number
  /** A start up to this many windows from the slot counts for it. */
  toleranceWindows: number
}

/** Per slot, the share of at-rest days on which the line started there (NaN: too few at-rest days). */
export function fitStartShares(starts: readonly number[], slotOf: readonly number[], powerKw: readonly number[], o: StartFitOptions): number[] {
  const atRest = new Array<number>(o.slotCount).fill(0)
  const started = new Array<number>(o.slotCount).fill(0)
  let restRun = 0
  for (let i = 0; i < powerKw.length; i++) {
    // A gap in the history breaks the run: unknown is not at rest.
    if (i > 0 && (starts[i] as number) - (starts[i - 1] as number) !== o.windowMs) restRun = 0
    const s = slotOf[i] as number
    const p = powerKw[i] as number
    if (restRun >= o.restWindows) {
      atRest[s] = (atRest[s] as number) + 1
      if (p >= o.runningEdgeKw) started[s] = (started[s] as number) + 1
    }
    restRun = p < o.runningEdgeKw ? restRun + 1 : 0
  }
  return atRest.map((n, s) => {
    if (n < MIN_REST_DAYS) return Number.NaN
    const day = Math.floor(s / o.slotsPerDay)
    const q = s % o.slotsPerDay
    let near = 0
    for (let d = -o.toleranceWindows; d <= o.toleranceWindows; d++) {
      const qq = q + d
      if (qq >= 0 && qq < o.slotsPerDay) near += started[day * o.slotsPerDay + qq] as number
    }
    return near / n
  })
}

/**
 * True when the window is an unexpected start: the `restWindows` windows before it (consecutive,
 * oldest first in `recentKw`) were all below running, this one is at running level, and the slot's
 * start share is known and below `minStartShare`.
 */
export function isUnexpectedStart(
  startShare: number | undefined,
  recentKw: readonly number[] | undefined,
  powerKw: number,
  o: { runningEdgeKw: number; restWindows: number; minStartShare: number },
): boolean {
  if (!(o.minStartShare > 0) || startShare === undefined || Number.isNaN(startShare) || startShare >= o.minStartShare) return false
  if (!recentKw || recentKw.length < o.restWindows || !(powerKw >= o.runningEdgeKw)) return false
  return recentKw.slice(recentKw.length - o.restWindows).every((p) => p < o.runningEdgeKw)
}

/** The last window means of one device and rule, for the start check: consecutive windows only. */
export class RecentWindows {
  private readonly list: { start: number; kw: number }[] = []

  constructor(
    private readonly windowMs: number,
    private readonly keep: number,
  ) {}

  /** The means of the windows right before `start`, oldest first, as far as they are consecutive. */
  before(start: number): number[] {
    const out: number[] = []
    let expect = start - this.windowMs
    for (let i = this.list.length - 1; i >= 0; i--) {
      const w = this.list[i] as { start: number; kw: number }
      if (w.start !== expect) break
      out.unshift(w.kw)
      expect -= this.windowMs
    }
    return out
  }

  push(start: number, kw: number): void {
    this.list.push({ start, kw })
    if (this.list.length > this.keep) this.list.shift()
  }
}
