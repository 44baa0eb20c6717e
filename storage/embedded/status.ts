import { existsSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { DAY_MS } from '../../core/duration.ts'
import { PlantWattError } from '../../core/errors.ts'
import type { RetentionConfig } from '../config.ts'

/** One resolution of the store: its table, what it takes and what it spans. */
export interface ResolutionStatus {
  resolution: 'raw' | '1m' | '15m'
  table: string
  /** Pages of the table (its B-tree), bytes. */
  bytes: number
  rows: number
  /** Oldest and newest row, epoch ms (absent when empty). */
  oldest?: number
  newest?: number
  /** Days this resolution is kept (storage.retention). */
  keptDays: number
  /** bytes / rows. */
  bytesPerRow: number
  /**
   * Size after a year at the current rate: bytes per day of the span held (at least one hour) ×
   * min(365, keptDays). Absent when empty.
   */
  projectedYearBytes?: number
}

export interface EmbeddedStatus {
  path: string
  /** The database file plus its WAL, bytes. */
  fileBytes: number
  schemaVersion: number
  resolutions: ResolutionStatus[]
  /** Event log, series and everything else, bytes (not projected: grows with events, not samples). */
  otherBytes: number
  /** Every minute before this is rolled up (0: the roll-up has not run). */
  rolledTo: number
  /** Sum of the resolutions' projections plus otherBytes. */
  projectedYearBytes: number
}

const TABLES = [
  { resolution: 'raw', table: 'points', kept: 'rawDays' },
  { resolution: '1m', table: 'rollup_1m', kept: 'minuteDays' },
  { resolution: '15m', table: 'rollup_15m', kept: 'quarterHourDays' },
] as const

/** Size of the embedded store's file plus its WAL, bytes (0 for a file that does not exist): one stat each, cheap enough for every metrics scrape. */
export function embeddedFileBytes(path: string): number {
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0)
  return size(path) + size(`${path}-wal`)
}

/**
 * What the embedded store holds, per resolution (pages from SQLite's dbstat), and what it will take
 * after a year at the rate of the data it holds. Reads only (safe beside a running ingest); counting
 * rows scans each table once.
 */
export function embeddedStatus(path: string, retention: Readonly<RetentionConfig>): EmbeddedStatus {
  if (!existsSync(path)) throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `no embedded store at ${path}`)
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 })
  try {
    const schemaVersion = db.pragma('user_version', { simple: true }) as number
    if (schemaVersion < 2)
      throw new PlantWattError('STORAGE_ERR_SCHEMA', `${path}: schema version ${schemaVersion}; open it once with this PlantWatt to migrate it`)
    const pages = new Map(
      (db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]).map((r) => [r.name, r.bytes]),
    )
    const resolutions: ResolutionStatus[] = []
    for (const t of TABLES) {
      const bytes = pages.get(t.table) ?? 0
      const rows = (db.prepare(`SELECT count(*) AS n FROM ${t.table}`).get() as { n: number }).n
      const span = db
        .prepare(
          `SELECT min((SELECT min(ts) FROM ${t.table} WHERE series_id = x.id)) AS oldest, max((SELECT max(ts) FROM ${t.table} WHERE series_id = x.id)) AS newest FROM series AS x`,
        )
        .get() as { oldest: number | null; newest: number | null }
      const keptDays = retention[t.kept]
      const r: ResolutionStatus = { resolution: t.resolution, table: t.table, bytes, rows, keptDays, bytesPerRow: rows > 0 ? bytes / rows : 0 }
      if (span.oldest !== null && span.newest !== null) {
        r.oldest = span.oldest
        r.newest = span.newest
        const days = Math.max(span.newest - span.oldest, 3_600_000) / DAY_MS
        r.projectedYearBytes = Math.round((bytes / days) * Math.min(365, keptDays))
      }
      resolutions.push(r)
    }
    const total = [...pages.values()].reduce((a, b) => a + b, 0)
    const otherBytes = total - resolutions.reduce((a, r) => a + r.bytes, 0)
    const rolled = db.prepare("SELECT value FROM storage_state WHERE key = 'rollup_to'").get() as { value: number } | undefined
    return {
      path,
      fileBytes: embeddedFileBytes(path),
      schemaVersion,
      resolutions,
      otherBytes,
      rolledTo: rolled?.value ?? 0,
      projectedYearBytes: otherBytes + resolutions.reduce((a, r) => a + (r.projectedYearBytes ?? 0), 0),
    }
  } finally {
    db.close()
  }
}
