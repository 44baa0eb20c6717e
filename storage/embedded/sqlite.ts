import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { PlantWattError } from '../../core/errors.ts'

export interface SqliteOpenOptions {
  /** File, or ':memory:' / '' for a private in-memory database. */
  path: string
  synchronous?: 'normal' | 'full' | undefined
  busyTimeoutMs?: number | undefined
}

/**
 * Opens a SQLite database the way every embedded backend does (telemetry store, event log): its folder
 * created, WAL (readers never block the writer nor each other, across processes), synchronous=NORMAL
 * (a commit survives a process crash; a power loss may drop the last commits) or FULL, a busy timeout.
 * Throws what better-sqlite3 throws; callers wrap it in their own coded error.
 */
export function openSqlite(options: SqliteOpenOptions): Database.Database {
  const { path } = options
  const inMemory = path === ':memory:' || path === ''
  if (!inMemory && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
  } catch (err) {
    // A file on a read-only or full disk opens but cannot switch to WAL: do not keep it open.
    db.close()
    throw err
  }
  return db
}

/** A SQLite failure as a coded error; another process holding the write lock past busy_timeout is transient. */
export function sqliteError(code: string, what: string, cause: unknown): PlantWattError {
  if (cause instanceof PlantWattError) return cause
  const sqliteCode = (cause as { code?: unknown }).code
  if (sqliteCode === 'SQLITE_BUSY' || sqliteCode === 'SQLITE_LOCKED') {
    return new PlantWattError('STORAGE_ERR_UNAVAILABLE', `${what}: database is locked by another process`, { cause })
  }
  const fault = typeof sqliteCode === 'string' ? faultCodeOf(sqliteCode) : undefined
  if (fault) return new PlantWattError(fault, `${what}: ${(cause as Error).message ?? String(cause)} (${sqliteCode})`, { cause })
  return new PlantWattError(code, `${what}: ${(cause as Error).message ?? String(cause)}`, { cause })
}

/**
 * Storage faults by SQLite result code (https://sqlite.org/rescode.html), extended codes included:
 * the disk is full, the file or its folder is read-only, the file or its WAL is damaged, the OS
 * failed an I/O. Writes fail until the cause is fixed; ingest keeps the data unacknowledged meanwhile.
 */
export function faultCodeOf(sqliteCode: string): string | undefined {
  if (sqliteCode === 'SQLITE_FULL') return 'STORAGE_ERR_FULL'
  if (sqliteCode.startsWith('SQLITE_READONLY') || sqliteCode === 'SQLITE_PERM') return 'STORAGE_ERR_READONLY'
  if (sqliteCode.startsWith('SQLITE_CORRUPT') || sqliteCode === 'SQLITE_NOTADB') return 'STORAGE_ERR_CORRUPT'
  if (sqliteCode.startsWith('SQLITE_IOERR')) return 'STORAGE_ERR_IO'
  return undefined
}
