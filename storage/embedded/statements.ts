import type Database from 'better-sqlite3'
import { PlantWattError } from '../../core/errors.ts'
import type { AggregateFn } from '../store.ts'
import { openSqlite } from './sqlite.ts'

const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  measurement TEXT NOT NULL,
  tags TEXT NOT NULL,
  field TEXT NOT NULL,
  UNIQUE (measurement, tags, field)
);
CREATE TABLE IF NOT EXISTS points (
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
`

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
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new PlantWattError('STORAGE_ERR_SCHEMA', `${path}: schema version ${version} is newer than this PlantWatt (${SCHEMA_VERSION})`)
    }
    db.exec(SCHEMA)
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`)
    return db
  } catch (cause) {
    if (cause instanceof PlantWattError) throw cause
    throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `cannot open embedded store ${path}: ${(cause as Error).message}`, { cause })
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
        WITH sel (series_id, grp) AS (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp AS grp, ${BUCKET} AS ws, ${AGG_SQL[fn]}
        FROM sel CROSS JOIN points AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to
        GROUP BY sel.grp, ws`)
      aggregateStatements.set(fn, s)
    }
    return s
  }

  return { selectNewSeries, upsertSeries, upsertPoint, insertPoint, valueAt, latestOf, rawOf, aggregateStatement }
}
