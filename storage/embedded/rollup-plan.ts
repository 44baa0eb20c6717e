import type { WindowRun } from '../../core/windows.ts'
import { ceilTo, floorTo, MINUTE_MS, QUARTER_HOUR_MS } from '../retention.ts'
import type { AggregateFn } from '../store.ts'
import type { RollupHorizons } from './rollup-sql.ts'

/** Where a piece of an aggregate is read: raw points or a roll-up table. */
export type Source = 'points' | 'rollup_1m' | 'rollup_15m'

/** A piece [from, to) of one run of windows and the table that answers it. */
export interface Segment {
  source: Source
  from: number
  to: number
}

interface Level {
  source: Source
  res: number
  /** Rows exist and are complete for [lo, hi). */
  lo: number
  hi: number
}

/** The roll-up levels, coarsest first, with the ranges where they answer exactly. */
export function levelsOf(h: RollupHorizons): Level[] {
  return [
    { source: 'rollup_15m', res: QUARTER_HOUR_MS, lo: Math.max(0, h.quarterFrom), hi: floorTo(h.rolledTo, QUARTER_HOUR_MS) },
    { source: 'rollup_1m', res: MINUTE_MS, lo: Math.max(0, h.minuteFrom), hi: h.rolledTo },
  ]
}

/** A bucket of `res` never straddles two windows of the run. */
function alignedFor(run: WindowRun, res: number): boolean {
  if (run.count === 1) return true
  return floorTo(run.origin, res) === run.origin && run.lengthMs % res === 0
}

/**
 * Splits a run into pieces, each read from the coarsest level that answers it exactly: whole buckets of
 * a roll-up inside its complete range, and raw points for the rest (a start or stop inside a bucket,
 * the minutes not rolled up yet). Adjacent pieces of one source are kept apart; the caller merges.
 */
export function coverRun(run: WindowRun, levels: readonly Level[]): Segment[] {
  const usable = levels.filter((l) => alignedFor(run, l.res))
  const out: Segment[] = []
  const cover = (from: number, to: number, i: number): void => {
    if (from >= to) return
    const level = usable[i]
    if (!level) {
      out.push({ source: 'points', from, to })
      return
    }
    const lo = ceilTo(Math.max(from, level.lo), level.res)
    const hi = floorTo(Math.min(to, level.hi), level.res)
    if (lo >= hi) {
      cover(from, to, i + 1)
      return
    }
    cover(from, lo, i + 1)
    out.push({ source: level.source, from: lo, to: hi })
    cover(hi, to, i + 1)
  }
  cover(run.from, run.to, 0)
  return out
}

/** What a piece contributes, by function: count and sum, min and max, or a value with its ts. */
export type StateKind = 'cs' | 'mm' | 'first' | 'last'

export function stateKindOf(fn: AggregateFn): StateKind {
  if (fn === 'mean' || fn === 'sum' || fn === 'count') return 'cs'
  if (fn === 'min' || fn === 'max' || fn === 'spread') return 'mm'
  return fn
}

/** SELECT list of a piece's state per source (p is the table's alias). */
export function stateSql(source: Source, kind: StateKind): string {
  const raw = source === 'points'
  switch (kind) {
    case 'cs':
      return raw ? 'count(*) AS c, sum(p.value) AS s' : 'sum(p.count) AS c, sum(p.sum) AS s'
    case 'mm':
      return raw ? 'min(p.value) AS mn, max(p.value) AS mx' : 'min(p.min) AS mn, max(p.max) AS mx'
    // SQLite: with a single min()/max() aggregate, bare columns come from the row holding it.
    case 'first':
      return raw ? 'p.value AS v, min(p.ts) AS t' : 'p.first AS v, min(p.first_ts) AS t'
    case 'last':
      return raw ? 'p.value AS v, max(p.ts) AS t' : 'p.last AS v, max(p.last_ts) AS t'
  }
}

/**
 * SELECT list of one roll-up row's state, unaggregated: when a window is exactly one bucket of the
 * roll-up (same length, aligned), each row is its window's state and no GROUP BY (sort) is needed.
 */
export function bucketStateSql(kind: StateKind): string {
  switch (kind) {
    case 'cs':
      return 'p.count AS c, p.sum AS s'
    case 'mm':
      return 'p.min AS mn, p.max AS mx'
    case 'first':
      return 'p.first AS v, p.first_ts AS t'
    case 'last':
      return 'p.last AS v, p.last_ts AS t'
  }
}

/** True when every window of the run is exactly one bucket of the roll-up `source` (same length, aligned). */
export function bucketsAreWindows(run: WindowRun, source: Source): source is Exclude<Source, 'points'> {
  if (source === 'points') return false
  const res = source === 'rollup_15m' ? QUARTER_HOUR_MS : MINUTE_MS
  return run.lengthMs === res && run.origin % res === 0
}

/** A function's value from one roll-up row (p), for windows that are one bucket each. */
export function bucketValueSql(fn: AggregateFn): string {
  switch (fn) {
    case 'mean':
      return 'p.sum / p.count'
    case 'sum':
      return 'p.sum'
    case 'count':
      return 'p.count'
    case 'min':
      return 'p.min'
    case 'max':
      return 'p.max'
    case 'spread':
      return 'p.max - p.min'
    case 'first':
      return 'p.first'
    case 'last':
      return 'p.last'
  }
}

/** One piece's answer for a (group, window). */
export interface StateRow {
  grp: number
  ws: number
  c?: number
  s?: number
  mn?: number
  mx?: number
  v?: number
  t?: number
}

/** Folds `b` into `a` (same group and window). */
export function mergeState(a: StateRow, b: StateRow, kind: StateKind): void {
  if (kind === 'cs') {
    a.c = (a.c ?? 0) + (b.c ?? 0)
    a.s = (a.s ?? 0) + (b.s ?? 0)
  } else if (kind === 'mm') {
    a.mn = Math.min(a.mn as number, b.mn as number)
    a.mx = Math.max(a.mx as number, b.mx as number)
  } else if (kind === 'first' ? (b.t as number) < (a.t as number) : (b.t as number) > (a.t as number)) {
    a.v = b.v as number
    a.t = b.t as number
  }
}

export function finalState(r: StateRow, fn: AggregateFn): number {
  switch (fn) {
    case 'mean':
      return (r.s as number) / (r.c as number)
    case 'sum':
      return r.s as number
    case 'count':
      return r.c as number
    case 'min':
      return r.mn as number
    case 'max':
      return r.mx as number
    case 'spread':
      return (r.mx as number) - (r.mn as number)
    default:
      return r.v as number
  }
}
