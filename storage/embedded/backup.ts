import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { PlantWattError } from '../../core/errors.ts'
import { SCHEMA_VERSION } from './migrations.ts'

/** A file set beside the store that a backup carries (the edge agent's disk buffer: one SQLite file per agent). */
export interface BackupExtra {
  /** Name inside the backup, also the restored path under the target folder (e.g. `edge-buffer/edge-1.sqlite`). */
  name: string
  path: string
}

export interface BackupReport {
  /** The backup file. */
  file: string
  bytes: number
  /** Schema version of the store copied. */
  schemaVersion: number
  /** Extra files carried, by name. */
  included: string[]
  /** Extra files not carried, with why (a running edge agent holds its buffer locked). */
  skipped: { name: string; reason: string }[]
  tookMs: number
}

/** Tables a backup file adds beside the store's own; restore removes them. */
const META_TABLE = 'plantwatt_backup'
const FILES_TABLE = 'plantwatt_backup_files'

/**
 * Backs up the embedded store (telemetry, roll-ups and the event log: one SQLite file) while other
 * processes write to it, with SQLite's online backup API: the copy is the database as of one
 * moment. It runs in two steps (a first page, then all the rest under one read transaction) because
 * SQLite restarts a backup whose source another connection changes between steps; in WAL mode that
 * read transaction does not hold up the writers. The edge agents' disk buffers are carried inside
 * the same file when they can be read; an agent that runs holds its buffer exclusively (its samples
 * then wait in it for the broker, not in the backup) and is listed as skipped.
 */
export async function backupEmbedded(path: string, to: string, extras: readonly BackupExtra[] = []): Promise<BackupReport> {
  const t0 = performance.now()
  if (!existsSync(path)) throw new PlantWattError('STORAGE_ERR_BACKUP', `no embedded store at ${path}`)
  if (existsSync(to)) throw new PlantWattError('STORAGE_ERR_BACKUP', `${to} exists: a backup never overwrites a file`)
  mkdirSync(dirname(to), { recursive: true })
  const source = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 })
  let schemaVersion: number
  try {
    schemaVersion = source.pragma('user_version', { simple: true }) as number
    await source.backup(to, { progress: () => 0x7fffffff })
  } catch (cause) {
    rmSync(to, { force: true })
    throw new PlantWattError('STORAGE_ERR_BACKUP', `backup of ${path} to ${to} failed: ${(cause as Error).message}`, { cause })
  } finally {
    source.close()
  }
  const included: string[] = []
  const skipped: { name: string; reason: string }[] = []
  const out = new Database(to)
  try {
    out.pragma('journal_mode = DELETE')
    out.exec(
      `CREATE TABLE ${META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE ${FILES_TABLE} (name TEXT PRIMARY KEY, content BLOB NOT NULL);`,
    )
    const meta = out.prepare(`INSERT INTO ${META_TABLE} (key, value) VALUES (?, ?)`)
    meta.run('created', new Date().toISOString())
    meta.run('source', path)
    meta.run('schemaVersion', String(schemaVersion))
    const file = out.prepare(`INSERT INTO ${FILES_TABLE} (name, content) VALUES (?, ?)`)
    for (const extra of extras) {
      const content = await snapshotSqlite(extra.path)
      if (typeof content === 'string') skipped.push({ name: extra.name, reason: content })
      else {
        file.run(extra.name, content)
        included.push(extra.name)
      }
    }
  } finally {
    out.close()
  }
  return { file: to, bytes: statSync(to).size, schemaVersion, included, skipped, tookMs: performance.now() - t0 }
}

/** A consistent copy of a SQLite file as bytes, or why there is none. */
async function snapshotSqlite(path: string): Promise<Buffer | string> {
  const tmp = join(tmpdir(), `pw-backup-${process.pid}-${Math.random().toString(16).slice(2)}.sqlite`)
  let db: Database.Database | undefined
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 200 })
    // Reading the schema takes the lock a running agent holds exclusively: SQLITE_BUSY now, not mid-backup.
    db.prepare('SELECT count(*) FROM sqlite_schema').get()
    await db.backup(tmp, { progress: () => 0x7fffffff })
    return readFileSync(tmp)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return code === 'SQLITE_BUSY' ? 'locked by a running edge agent (its samples wait there for the broker)' : (err as Error).message
  } finally {
    db?.close()
    rmSync(tmp, { force: true })
  }
}

/** The disk buffers of edge agents in `dir` (`<agentId>.sqlite`), named `edge-buffer/<file>` in a backup. */
export function edgeBufferExtras(dir: string): BackupExtra[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sqlite'))
    .sort()
    .map((f) => ({ name: `edge-buffer/${f}`, path: join(dir, f) }))
}

export interface RestoreReport {
  /** The restored store file. */
  store: string
  /** Extra files written, by path. */
  files: string[]
  schemaVersion: number
  created: string
}

/**
 * Restores a backup into `dir` (which must not hold a store yet): `dir/plantwatt.db` (telemetry,
 * roll-ups, event log) and each carried file under its name (`dir/edge-buffer/<agent>.sqlite`).
 * Point `storage.path` (and `edge.bufferDir`) there and start PlantWatt; a store from an older
 * release is migrated when it opens.
 */
export function restoreEmbedded(from: string, dir: string, storeFile = 'plantwatt.db'): RestoreReport {
  if (!existsSync(from)) throw new PlantWattError('STORAGE_ERR_RESTORE', `no backup at ${from}`)
  const store = join(dir, storeFile)
  if (existsSync(store)) throw new PlantWattError('STORAGE_ERR_RESTORE', `${store} exists: restore into a new folder`)
  mkdirSync(dir, { recursive: true })
  let meta: Map<string, string>
  const files: string[] = []
  const backup = new Database(from, { readonly: true, fileMustExist: true })
  try {
    meta = new Map((backup.prepare(`SELECT key, value FROM ${META_TABLE}`).all() as { key: string; value: string }[]).map((r) => [r.key, r.value]))
    for (const row of backup.prepare(`SELECT name, content FROM ${FILES_TABLE} ORDER BY name`).iterate() as Iterable<{ name: string; content: Buffer }>) {
      if (row.name.split('/').some((part) => part === '..' || part === '') || row.name.startsWith('/')) {
        throw new PlantWattError('STORAGE_ERR_RESTORE', `${from}: file name ${JSON.stringify(row.name)} leaves the target folder`)
      }
      const target = join(dir, row.name)
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, row.content)
      files.push(target)
    }
  } catch (cause) {
    if (cause instanceof PlantWattError) throw cause
    throw new PlantWattError('STORAGE_ERR_RESTORE', `${from} is not a PlantWatt backup: ${(cause as Error).message}`, { cause })
  } finally {
    backup.close()
  }
  const schemaVersion = Number(meta.get('schemaVersion'))
  if (schemaVersion > SCHEMA_VERSION) {
    throw new PlantWattError('STORAGE_ERR_SCHEMA', `${from}: schema version ${schemaVersion} is newer than this PlantWatt knows (${SCHEMA_VERSION})`)
  }
  copyFileSync(from, store)
  const db = new Database(store)
  try {
    // The freed pages are reused by the store (no VACUUM: it would rewrite a large file).
    db.exec(`DROP TABLE ${FILES_TABLE}; DROP TABLE ${META_TABLE};`)
    db.pragma('journal_mode = WAL')
  } finally {
    db.close()
  }
  return { store, files, schemaVersion, created: meta.get('created') ?? '' }
}
