import { DEFAULT_TIMEZONE, windowRuns, type WindowRun } from '../../core/windows.ts'
import { canonicalTags, filterMatchesNothing, groupTags, matchesFilter, sortAggregateRows, sortLatestRows, validateAggregateQuery } from '../query.ts'
import { appendRawPoints, compareRawSeries, validateRawQuery, type RawSeries } from '../raw.ts'
import type { AggregateFn, AggregateQuery, AggregateRow, LatestQuery, LatestRow, RawQuery, RawRow } from '../store.ts'
import { bucketsAreWindows, coverRun, finalState, levelsOf, mergeState, stateKindOf, type Segment, type StateRow } from './rollup-plan.ts'
import type { RollupHorizons } from './rollup-sql.ts'
import type { SeriesIndex } from './series-index.ts'
import { sqliteError } from './sqlite.ts'
import type { TelemetryStatements } from './statements.ts'

/** Rows a raw read fetches per SQLite call before yielding to the event loop. */
const RAW_CHUNK_ROWS = 50_000

/** What the reads need: the file's statements and series, and the store's state. */
export interface EmbeddedReader {
  path: string
  statements: TelemetryStatements
  index: SeriesIndex
  /** Where the roll-ups answer exactly (read per query: another process may maintain the file). */
  horizons(series?: string): RollupHorizons
  /** Throws STORAGE_ERR_CLOSED once the store is closed. */
  assertOpen(): void
}

/** Window aggregates: one statement per run of windows over the selected series, grouped in SQL. */
export async function aggregate(db: EmbeddedReader, q: AggregateQuery): Promise<AggregateRow[]> {
  db.assertOpen()
  validateAggregateQuery(q)
  const runs = coalesceRuns(windowRuns(q.start, q.stop, q.every, q.timezone ?? DEFAULT_TIMEZONE))
  if (runs.length === 0 || filterMatchesNothing(q.filter)) return []
  try {
    db.index.refresh(db.statements.selectNewSeries)
    const groupBy = q.groupBy ?? []
    const groups: { tags: Record<string, string>; field: string }[] = []
    const groupOf = new Map<string, number>()
    const selected: [number, number][] = []
    for (const s of db.index.of(q.measurement)) {
      if (!q.fields.includes(s.field) || !matchesFilter(s.tags, q.filter)) continue
      const tags = groupTags(s.tags, groupBy)
      const key = JSON.stringify([groupBy.map((k) => tags[k]), s.field])
      let g = groupOf.get(key)
      if (g === undefined) {
        g = groups.length
        groups.push({ tags, field: s.field })
        groupOf.set(key, g)
      }
      selected.push([s.id, g])
    }
    if (selected.length === 0) return []
    const series = JSON.stringify(selected)
    const oneSeriesPerGroup = selected.length === groups.length
    const levels = levelsOf(db.horizons(series))
    const rows: AggregateRow[] = []
    const push = (grp: number, ws: number, value: number): void => {
      const group = groups[grp] as { tags: Record<string, string>; field: string }
      rows.push({ tags: { ...group.tags }, field: group.field, windowStart: ws, value })
    }
    for (const run of runs) {
      const segments = coverRun(run, levels)
      const only = segments.length === 1 ? segments[0] : undefined
      if (only?.source === 'points') {
        const params = { series, origin: run.origin, length: run.lengthMs, from: run.from, to: run.to }
        for (const r of db.statements.aggregateStatement(q.fn).all(params) as { grp: number; ws: number; v: number }[]) push(r.grp, r.ws, r.v)
      } else if (only && oneSeriesPerGroup && bucketsAreWindows(run, only.source)) {
        // One roll-up row is one window's answer: its value straight from SQL, no state to merge.
        const params = { series, from: only.from, to: only.to }
        for (const [grp, ws, v] of db.statements.bucketValueStatement(only.source, q.fn).all(params) as [number, number, number][]) push(grp, ws, v)
      } else {
        for (const r of aggregateFromSegments(db, q.fn, series, run, segments, oneSeriesPerGroup)) push(r.grp, r.ws, finalState(r, q.fn))
      }
    }
    return sortAggregateRows(rows, q)
  } catch (cause) {
    throw sqliteError('STORAGE_ERR_QUERY', `aggregate ${q.fn} of ${q.measurement} in ${db.path}`, cause)
  }
}

/**
 * Joins runs that continue one grid (the days of 15-minute windows in a zone without DST that day):
 * one statement instead of one per day. Runs of another length (a DST day's rest) stay apart.
 */
export function coalesceRuns(runs: readonly WindowRun[]): WindowRun[] {
  const out: WindowRun[] = []
  for (const r of runs) {
    const last = out[out.length - 1]
    if (last && last.lengthMs === r.lengthMs && last.to === r.from && last.origin + last.count * last.lengthMs === r.origin) {
      out[out.length - 1] = { ...last, count: last.count + r.count, to: r.to }
    } else out.push({ ...r })
  }
  return out
}

/**
 * One run answered piece by piece (roll-ups and raw), the pieces' states merged per group and window.
 * A roll-up piece whose buckets are the run's windows is read row by row (no GROUP BY); states are
 * merged under a numeric key (group × windows + window index) and only where a window can have more
 * than one state: several pieces, or several series in one group.
 */
function aggregateFromSegments(
  db: EmbeddedReader,
  fn: AggregateFn,
  series: string,
  run: WindowRun,
  segments: readonly Segment[],
  oneSeriesPerGroup: boolean,
): StateRow[] {
  const kind = stateKindOf(fn)
  const pieces: { rows: StateRow[]; unique: boolean }[] = []
  for (const seg of segments) {
    const params = { series, origin: run.origin, length: run.lengthMs, from: seg.from, to: seg.to }
    if (bucketsAreWindows(run, seg.source)) {
      // One row per series and bucket: unique per (group, window) when every group is one series.
      pieces.push({ rows: db.statements.bucketStatement(seg.source, kind).all(params) as StateRow[], unique: oneSeriesPerGroup })
    } else pieces.push({ rows: db.statements.stateStatement(seg.source, kind).all(params) as StateRow[], unique: true })
  }
  // Pieces follow each other in time: a window holds states of two pieces only where a boundary between
  // them falls inside it.
  const shared = new Set<number>()
  for (let i = 1; i < segments.length; i++) {
    const offset = (segments[i] as Segment).from - run.origin
    if (offset % run.lengthMs !== 0) shared.add(Math.floor(offset / run.lengthMs))
  }
  const out: StateRow[] = []
  const merged = new Map<number, StateRow>()
  for (const { rows, unique } of pieces) {
    for (const r of rows) {
      // Window starts are origin + k × length (k < count): the key is exact.
      const k = (r.ws - run.origin) / run.lengthMs
      if (unique && !shared.has(k)) {
        out.push(r)
        continue
      }
      const key = r.grp * run.count + k
      const m = merged.get(key)
      if (m) mergeState(m, r, kind)
      else merged.set(key, r)
    }
  }
  for (const m of merged.values()) out.push(m)
  return out
}

/** Raw points in answer order, read in chunks with a yield between them. */
export async function raw(db: EmbeddedReader, q: RawQuery): Promise<RawRow[]> {
  db.assertOpen()
  validateRawQuery(q)
  if (q.start >= q.stop || filterMatchesNothing(q.filter)) return []
  try {
    db.index.refresh(db.statements.selectNewSeries)
    const selected: (RawSeries & { id: number })[] = []
    for (const s of db.index.of(q.measurement)) {
      if (q.fields.includes(s.field) && matchesFilter(s.tags, q.filter)) selected.push({ id: s.id, tags: s.tags, key: canonicalTags(s.tags), field: s.field })
    }
    selected.sort(compareRawSeries(q))
    const rows: RawRow[] = []
    // (series_id, ts) range seeks in answer order, each asking only for what the limit leaves, in
    // chunks with a yield between them: a long read does not stall the event loop for its whole length.
    for (const s of selected) {
      const series = { ...s, tags: { ...s.tags } }
      let from = q.start
      for (;;) {
        const want = Math.min(RAW_CHUNK_ROWS, q.limit - rows.length)
        const chunk = db.statements.rawOf.all(s.id, from, q.stop, want)
        appendRawPoints(rows, series, chunk, q.limit)
        if (rows.length >= q.limit || chunk.length < want) break
        from = (chunk[chunk.length - 1] as [number, number])[0] + 1
        await new Promise<void>((resolve) => setImmediate(resolve))
        db.assertOpen()
      }
      if (rows.length >= q.limit) break
    }
    return rows
  } catch (cause) {
    throw sqliteError('STORAGE_ERR_QUERY', `raw read of ${q.measurement} in ${db.path}`, cause)
  }
}

/** The newest point of each matching series. */
export async function latest(db: EmbeddedReader, q: LatestQuery): Promise<LatestRow[]> {
  db.assertOpen()
  if (filterMatchesNothing(q.filter)) return []
  try {
    db.index.refresh(db.statements.selectNewSeries)
    const since = q.since ?? Number.MIN_SAFE_INTEGER
    const rows: LatestRow[] = []
    for (const s of db.index.of(q.measurement)) {
      if ((q.fields && !q.fields.includes(s.field)) || !matchesFilter(s.tags, q.filter)) continue
      const p = db.statements.latestOf.get(s.id, since)
      if (p) rows.push({ tags: { ...s.tags }, field: s.field, ts: p.ts, value: p.value })
    }
    return sortLatestRows(rows)
  } catch (cause) {
    throw sqliteError('STORAGE_ERR_QUERY', `latest of ${q.measurement} in ${db.path}`, cause)
  }
}
