import type Database from 'better-sqlite3'
import { PlantWattError } from '../../core/errors.ts'

/**
 * Versioned schema of the embedded store. `PRAGMA user_version` holds the number of the last step
 * applied; opening a file applies the steps above it in order, each in its own transaction, so a
 * file from any earlier release is brought up to date and a crash mid-way leaves it at a whole step.
 * A step is never edited once released: a change of schema is a new step at the end.
 */
export interface Migration {
  /** user_version after the step. */
  version: number
  /** What it changes, for the log and the README. */
  what: string
  sql: string
}

/** Release 1 (the first file format): series and raw points. */
const V1_SCHEMA = `
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

/** One roll-up table: per series and bucket start, what answers mean/min/max/sum/count/first/last/spread exactly. */
const rollupTable = (name: string): string => `
CREATE TABLE ${name} (
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  count INTEGER NOT NULL,
  sum REAL NOT NULL,
  min REAL NOT NULL,
  max REAL NOT NULL,
  first REAL NOT NULL,
  first_ts INTEGER NOT NULL,
  last REAL NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;`

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, what: 'series and raw points', sql: V1_SCHEMA },
  {
    version: 2,
    what: 'continuous roll-ups (1 min, 15 min), minutes written behind the roll-up, maintenance state',
    sql: `${rollupTable('rollup_1m')}
${rollupTable('rollup_15m')}
CREATE TABLE rollup_dirty (
  ts INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  PRIMARY KEY (ts, series_id)
) WITHOUT ROWID;
CREATE TABLE storage_state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;`,
  },
]

/** The schema version this PlantWatt writes. */
export const SCHEMA_VERSION = (MIGRATIONS[MIGRATIONS.length - 1] as Migration).version

/**
 * Brings the file to SCHEMA_VERSION: STORAGE_ERR_SCHEMA for a file from a newer PlantWatt (it is
 * left untouched). Returns the versions applied.
 */
export function migrate(db: Database.Database, path: string, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const current = db.pragma('user_version', { simple: true }) as number
  const latest = (migrations[migrations.length - 1] as Migration).version
  if (current > latest) {
    throw new PlantWattError(
      'STORAGE_ERR_SCHEMA',
      `${path}: schema version ${current} is newer than this PlantWatt knows (${latest}); use the newer release or restore a backup`,
    )
  }
  const applied: number[] = []
  for (const m of migrations) {
    if (m.version <= current) continue
    // user_version is part of the transaction: the step and its number commit together.
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version}`)
    }).immediate()
    applied.push(m.version)
  }
  return applied
}
