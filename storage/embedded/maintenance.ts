import type Database from 'better-sqlite3'
import type { RetentionConfig } from '../config.ts'
import { ceilTo, floorTo, MINUTE_MS, QUARTER_HOUR_MS, retentionCutoffs } from '../retention.ts'
import { prepareRollupStatements, STATE, type RollupStatements } from './rollup-sql.ts'

/** A minute is rolled up this long after its end: ingest's batches and short edge delays land first. */
export const ROLLUP_SETTLE_MS = 60_000
/** Dirty minutes recomputed per step. */
const DIRTY_PER_STEP = 200
/** Slice lengths a step may take, ms: they adapt so that one step lasts about TARGET_STEP_MS. */
const MIN_SLICE_MS = MINUTE_MS
const MAX_SLICE_MS = 7 * 86_400_000
const TARGET_STEP_MS = 10

/** What one step did: 'idle' when there was nothing to do. */
export type StepKind = 'dirty' | 'rollup' | 'expire-raw' | 'expire-minutes' | 'expire-quarters' | 'idle'
/** The kinds of work, in the order a round visits them. */
const WORK = ['dirty', 'rollup', 'expire-raw', 'expire-minutes', 'expire-quarters'] as const

export interface MaintenanceStats {
  steps: number
  minutesRolled: number
  rawDeleted: number
  lastStepMs: number
  /** The longest step so far, ms: how long it held the write lock at most. */
  longestStepMs: number
  /** The last failure of a step (e.g. disk full), cleared by the next successful step. */
  lastError?: { message: string; code?: string; at: number }
}

/**
 * Continuous roll-ups and retention of the embedded store, in small steps: each step is one short
 * transaction (a slice of time whose length adapts to take about 10 ms), so ingest writing on the same
 * connection or another process waits at most that long. Order: minutes written behind the roll-up
 * (dirty), closed minutes, then expiry of raw points, minutes and quarters. Raw points are deleted
 * only below what is rolled up; every step is idempotent, so two processes maintaining one file only
 * repeat work.
 */
export class EmbeddedMaintenance {
  private readonly st: RollupStatements
  private readonly expiring = new Set<number>()
  private seriesSeen = -1
  private sliceMs = { rollup: 15 * MINUTE_MS, raw: 15 * MINUTE_MS, minutes: 6 * 3_600_000, quarters: 86_400_000 }
  readonly stats: MaintenanceStats = { steps: 0, minutesRolled: 0, rawDeleted: 0, lastStepMs: 0, longestStepMs: 0 }

  constructor(
    private readonly db: Database.Database,
    private readonly retention: Readonly<RetentionConfig>,
    private readonly clock: () => number,
    statements?: RollupStatements,
  ) {
    this.st = statements ?? prepareRollupStatements(db)
  }

  /**
   * Runs rounds of steps until `budgetMs` is spent or nothing is left; each round gives every kind of
   * work one step, so expiry keeps up with a roll-up that always has work (a backfill at full rate).
   * Returns the number of steps that worked.
   */
  run(budgetMs: number): number {
    const until = performance.now() + budgetMs
    let worked = 0
    for (;;) {
      let round = 0
      for (const kind of WORK) {
        if (performance.now() >= until) return worked + round
        if (this.step(kind) !== 'idle') round++
      }
      worked += round
      if (round === 0) return worked
    }
  }

  /** One step of one kind of work (the first that has work when none is named), in its own transaction. */
  step(kind?: Exclude<StepKind, 'idle'>): StepKind {
    const t0 = performance.now()
    try {
      const done = this.db
        .transaction(() => {
          this.refreshSeries()
          if (kind) return this.stepOf(kind) ? kind : 'idle'
          return WORK.find((k) => this.stepOf(k)) ?? 'idle'
        })
        .immediate()
      this.stats.steps++
      this.stats.lastStepMs = performance.now() - t0
      this.stats.longestStepMs = Math.max(this.stats.longestStepMs, this.stats.lastStepMs)
      delete this.stats.lastError
      return done
    } catch (err) {
      const code = (err as { code?: unknown }).code
      this.stats.lastError = { message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}), at: Date.now() }
      throw err
    }
  }

  private stepOf(kind: Exclude<StepKind, 'idle'>): boolean {
    const now = this.clock()
    const rolled = this.stateOf(STATE.rolledTo)
    const cut = retentionCutoffs(this.retention, now)
    // Raw points are deleted only where they are rolled up, and never under a minute still to recompute
    // (dirty minutes are minute starts).
    const firstDirty = this.st.firstDirty.get()?.ts ?? Number.POSITIVE_INFINITY
    const quarterRolled = floorTo(Math.min(rolled, firstDirty), QUARTER_HOUR_MS)
    switch (kind) {
      case 'dirty':
        return this.rollDirty()
      case 'rollup':
        return this.rollClosed(rolled, floorTo(now - ROLLUP_SETTLE_MS, MINUTE_MS))
      case 'expire-raw':
        return this.expire('raw', STATE.rawFrom, Math.min(floorTo(cut.raw, MINUTE_MS), rolled, firstDirty), this.st.deleteRawOfSeries)
      case 'expire-minutes':
        return this.expire('minutes', STATE.minuteFrom, Math.min(floorTo(cut.minute, QUARTER_HOUR_MS), quarterRolled), this.st.deleteMinutesOfSeries)
      case 'expire-quarters':
        return this.expire('quarters', STATE.quarterFrom, Math.min(floorTo(cut.quarterHour, QUARTER_HOUR_MS), quarterRolled), this.st.deleteQuartersOfSeries)
    }
  }

  private stateOf(key: string): number {
    return this.st.stateOf.get(key)?.value ?? 0
  }

  private refreshSeries(): void {
    const rows = this.st.seriesOf.all()
    if (rows.length === this.seriesSeen) return
    this.seriesSeen = rows.length
    this.expiring.clear()
    for (const r of rows) if (this.retention.measurements.includes(r.measurement)) this.expiring.add(r.id)
  }

  /** Minutes written after they were rolled up: recomputed from raw, or merged where raw has expired. */
  private rollDirty(): boolean {
    const dirty = this.st.dirty.all(DIRTY_PER_STEP)
    if (dirty.length === 0) return false
    const rawFrom = this.stateOf(STATE.rawFrom)
    const minuteFrom = this.stateOf(STATE.minuteFrom)
    const quarters = new Set<string>()
    for (const d of dirty) {
      const m = { s: d.series_id, a: d.ts, b: d.ts + MINUTE_MS }
      if (this.expiring.has(d.series_id) && d.ts < rawFrom) {
        // Raw of this minute is gone: the late points are added to what the roll-ups hold, then expire.
        if (d.ts >= minuteFrom) this.st.mergeMinute.run(m)
        this.st.mergeQuarter.run(m)
        this.st.deleteRawOfSeries.run(m)
      } else {
        this.st.minutesOfSeries.run(m)
        quarters.add(`${d.series_id}:${floorTo(d.ts, QUARTER_HOUR_MS)}`)
      }
      this.st.deleteDirty.run(d.ts, d.series_id)
      this.stats.minutesRolled++
    }
    for (const key of quarters) {
      const [s, q] = key.split(':').map(Number) as [number, number]
      this.st.quartersOfSeries.run({ s, a: q, b: q + QUARTER_HOUR_MS })
    }
    return true
  }

  /** Rolls up the next slice of closed minutes from `rolledTo`, skipping ahead over time without data. */
  private rollClosed(rolledTo: number, target: number): boolean {
    if (rolledTo >= target) return false
    let a = rolledTo
    const next = this.st.nextRawTs.get({ a })?.t ?? null
    if (next === null || next >= target) {
      this.st.setState.run(STATE.rolledTo, target)
      return true
    }
    a = Math.max(a, floorTo(next, MINUTE_MS))
    const t0 = performance.now()
    const b = Math.min(target, a + this.sliceMs.rollup)
    this.st.minutesOfRange.run({ a, b })
    this.st.quartersOfRange.run({ a: floorTo(a, QUARTER_HOUR_MS), b: ceilTo(b, QUARTER_HOUR_MS) })
    this.st.setState.run(STATE.rolledTo, b)
    this.stats.minutesRolled += (b - a) / MINUTE_MS
    this.adapt('rollup', performance.now() - t0, MINUTE_MS)
    return true
  }

  /** Deletes the next slice below `cutoff` of one resolution, for the expiring measurements' series. */
  private expire(which: 'raw' | 'minutes' | 'quarters', key: string, cutoff: number, del: RollupStatements['deleteRawOfSeries']): boolean {
    const from = this.stateOf(key)
    if (from >= cutoff) return false
    let next: number | null = null
    for (const s of this.expiring) {
      const t = this.st.nextOfSeries[which].get({ s, a: from })?.t ?? null
      if (t !== null && (next === null || t < next)) next = t
    }
    if (next === null || next >= cutoff) {
      // Nothing (of any series) left below the cut-off: the horizon moves there at once.
      this.st.setState.run(key, cutoff)
      return true
    }
    const res = which === 'raw' ? MINUTE_MS : QUARTER_HOUR_MS
    const a = Math.max(from, floorTo(next, res))
    const b = Math.min(cutoff, a + this.sliceMs[which])
    const t0 = performance.now()
    let deleted = 0
    for (const s of this.expiring) deleted += del.run({ s, a, b }).changes
    // Series of kept measurements below the horizon are not deleted; the horizon is for the expiring ones.
    this.st.setState.run(key, b)
    if (which === 'raw') this.stats.rawDeleted += deleted
    this.adapt(which, performance.now() - t0, res)
    return true
  }

  private adapt(which: keyof EmbeddedMaintenance['sliceMs'], tookMs: number, res: number): void {
    const cur = this.sliceMs[which]
    const next = tookMs < TARGET_STEP_MS / 2 ? cur * 2 : tookMs > TARGET_STEP_MS * 2 ? cur / 2 : cur
    this.sliceMs[which] = Math.max(res, MIN_SLICE_MS, Math.min(MAX_SLICE_MS, floorTo(next, res) || res))
  }
}

/**
 * Runs maintenance every `intervalMs` once the store has written (a store that only reads never
 * maintains the file), for at most `budgetMs` each time. A failing run (disk full) is counted in the
 * stats and tried again at the next interval.
 */
export class MaintenanceScheduler {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly maintenance: EmbeddedMaintenance | undefined,
    private readonly intervalMs: number,
    private readonly budgetMs: number,
  ) {}

  wrote(): void {
    if (this.timer || !this.maintenance || this.intervalMs <= 0) return
    const maintenance = this.maintenance
    this.timer = setInterval(() => {
      try {
        maintenance.run(this.budgetMs)
      } catch {
        // Recorded in maintenance.stats.lastError; the next interval tries again.
      }
    }, this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
