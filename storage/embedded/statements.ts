import type Database from 'better-sqlite3'
import { PlantWattError } from '../../core/errors.ts'
import type { AggregateFn } from '../store.ts'
import { migrate } from './migrations.ts'
import { bucketStateSql, bucketValueSql, stateSql, type Source, type StateKind } from './rollup-plan.ts'
import { faultCodeOf, openSqlite } from './sqlite.ts'

// better-sqlite3 binds every JS number as REAL: cast where integer division must happen.
const BUCKET = 'CAST(@origin AS INTEGER) + ((p.ts - CAST(@origin AS INTEGER)) / CAST(@length AS INTEGER)) * CAST(@length AS INTEGER)'

const AGG_SQL: Record<AggregateFn, string> = {
  mean: 'avg(p.value) AS v',
  min: 'min(p.value) AS v',
  max: 'max(p.value) AS v',
  sum: 'sum(p.value) AS v',
  count: 'count(*) AS v',
  spread: 'max(p.value) - min(p.value) AS v',
  // SQLite: with a single min()/max() aggregate, bare columns come from the row holding it.
  first: 'p.value AS v, min(p.ts) AS edge',
  last: 'p.value AS v, max(p.ts) AS edge',
}

/** Opens the file and brings its schema up to this version; STORAGE_ERR_SCHEMA for a newer one, STORAGE_ERR_UNAVAILABLE when it cannot be opened. */
export function openTelemetryDb(options: { path: string; synchronous?: 'normal' | 'full' | undefined; busyTimeoutMs?: number | undefined }): Database.Database {
  const { path } = options
  try {
    const db = openSqlite(options)
    try {
      migrate(db, path)
    } catch (err) {
      db.close()
      throw err
    }
    return db
  } catch (cause) {
    if (cause instanceof PlantWattError) throw cause
    const sqliteCode = (cause as { code?: unknown }).code
    const code = (typeof sqliteCode === 'string' ? faultCodeOf(sqliteCode) : undefined) ?? 'STORAGE_ERR_UNAVAILABLE'
    throw new PlantWattError(code, `cannot open embedded store ${path}: ${(cause as Error).message}`, { cause })
  }
}

/** The prepared statements of the telemetry store. */
export type TelemetryStatements = ReturnType<typeof prepareStatements>

export function prepareStatements(db: Database.Database) {
  const selectNewSeries = db.prepare<[number], { id: number; measurement: string; tags: string; field: string }>(
    'SELECT id, measurement, tags, field FROM series WHERE id > ? ORDER BY id',
  )
  const upsertSeries = db.prepare<[string, string, string], { id: number }>(
    'INSERT INTO series (measurement, tags, field) VALUES (?, ?, ?) ON CONFLICT (measurement, tags, field) DO UPDATE SET field = excluded.field RETURNING id',
  )
  const upsertPoint = db.prepare<[number, number, number]>(
    'INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?) ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value',
  )
  // Keep-first: the insert leaves an existing row alone (changes = 0), and only then is it read.
  const insertPoint = db.prepare<[number, number, number]>('INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?) ON CONFLICT (series_id, ts) DO NOTHING')
  const valueAt = db.prepare<[number, number], { value: number }>('SELECT value FROM points WHERE series_id = ? AND ts = ?')
  const latestOf = db.prepare<[number, number], { ts: number; value: number }>(
    'SELECT ts, value FROM points WHERE series_id = ? AND ts >= ? ORDER BY ts DESC LIMIT 1',
  )
  const rawOf = db
    .prepare<[number, number, number, number], [number, number]>('SELECT ts, value FROM points WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?')
    .raw(true)
  const aggregateStatements = new Map<AggregateFn, Database.Statement>()
  const aggregateStatement = (fn: AggregateFn): Database.Statement => {
    let s = aggregateStatements.get(fn)
    if (!s) {
      // CROSS JOIN keeps the selected series as the outer loop: one (series_id, ts) range seek each.
      s = db.prepare(`
        WITH sel (series_id, grp) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp AS grp, ${BUCKET} AS ws, ${AGG_SQL[fn]}
        FROM sel CROSS JOIN points AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to
        GROUP BY sel.grp, ws`)
      aggregateStatements.set(fn, s)
    }
    return s
  }

  const stateStatements = new Map<string, Database.Statement>()
  /** A piece of an aggregate as its state (rollup-plan.ts), from raw points or a roll-up table. */
  const stateStatement = (source: Source, kind: StateKind): Database.Statement => {
    const key = `${source}:${kind}`
    let s = stateStatements.get(key)
    if (!s) {
      s = db.prepare(`
        WITH sel (series_id, grp) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp AS grp, ${BUCKET} AS ws, ${stateSql(source, kind)}
        FROM sel CROSS JOIN ${source} AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to
        GROUP BY sel.grp, ws`)
      stateStatements.set(key, s)
    }
    return s
  }

  const bucketStatements = new Map<string, Database.Statement>()
  /**
   * A roll-up piece whose windows are its buckets (rollup-plan.ts bucketStateSql): one row per series
   * and bucket at the bucket's start, no GROUP BY; series of one group are merged by the caller.
   */
  const bucketStatement = (source: Exclude<Source, 'points'>, kind: StateKind): Database.Statement => {
    const key = `${source}:${kind}`
    let s = bucketStatements.get(key)
    if (!s) {
      s = db.prepare(`
        WITH sel (series_id, grp) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp AS grp, p.ts AS ws, ${bucketStateSql(kind)}
        FROM sel CROSS JOIN ${source} AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to`)
      bucketStatements.set(key, s)
    }
    return s
  }

  const bucketValueStatements = new Map<string, Database.Statement>()
  /** A run whose windows are the roll-up's buckets, one series per group: [grp, ws, value] rows, the value computed in SQL. */
  const bucketValueStatement = (source: Exclude<Source, 'points'>, fn: AggregateFn): Database.Statement => {
    const key = `${source}:${fn}`
    let s = bucketValueStatements.get(key)
    if (!s) {
      s = db
        .prepare(`
        WITH sel (series_id, grp) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp, p.ts, ${bucketValueSql(fn)}
        FROM sel CROSS JOIN ${source} AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to`)
        .raw(true)
      bucketValueStatements.set(key, s)
    }
    return s
  }

  // The continuous roll-up (maintenance.ts): a point written below its watermark marks its minute for a recompute.
  const rolledTo = db.prepare<[], { value: number }>("SELECT value FROM storage_state WHERE key = 'rollup_to'")
  const markDirty = db.prepare<[number, number]>('INSERT OR IGNORE INTO rollup_dirty (ts, series_id) VALUES (?, ?)')

  return {
    selectNewSeries,
    upsertSeries,
    upsertPoint,
    insertPoint,
    valueAt,
    latestOf,
    rawOf,
    aggregateStatement,
    stateStatement,
    bucketStatement,
    bucketValueStatement,
    rolledTo,
    markDirty,
  }
}
