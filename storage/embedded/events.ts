import type Database from 'better-sqlite3'
import { openSqlite, sqliteError } from './sqlite.ts'
import { PlantWattError } from '../../core/errors.ts'
import { canonicalTags } from '../query.ts'
import { selectEvents, validateEvents, type EventLog, type EventQuery, type StoredEvent } from '../events.ts'
import type { EmbeddedStoreOptions } from './index.ts'

/**
 * The event log of the embedded backend: a table `events` in the same SQLite file as the telemetry
 * (one backup holds both), opened on its own connection in WAL mode so the alert service, the API
 * and ingest can share the file.
 *
 * Key (kind, tags, ts): appending the same event again replaces it. A query reads the rows of its
 * kind and time range by that index; tag and field filters run on the decoded rows.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  kind TEXT NOT NULL,
  tags TEXT NOT NULL,
  ts INTEGER NOT NULL,
  fields TEXT NOT NULL,
  PRIMARY KEY (kind, tags, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts);
`

export function createEmbeddedEventLog(options: Pick<EmbeddedStoreOptions, 'path' | 'synchronous' | 'busyTimeoutMs'>): EventLog {
  const { path } = options
  let db: Database.Database
  try {
    db = openSqlite(options)
    db.exec(SCHEMA)
  } catch (cause) {
    throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `cannot open event log in ${path}: ${(cause as Error).message}`, { cause })
  }
  const upsert = db.prepare<[string, string, number, string]>(
    'INSERT INTO events (kind, tags, ts, fields) VALUES (?, ?, ?, ?) ON CONFLICT (kind, tags, ts) DO UPDATE SET fields = excluded.fields',
  )
  const selectRange = db.prepare<[string, number, number], { tags: string; ts: number; fields: string }>(
    'SELECT tags, ts, fields FROM events WHERE kind = ? AND ts >= ? AND ts < ? ORDER BY ts',
  )
  const appendAll = db.transaction((events: readonly StoredEvent[]) => {
    for (const e of events) upsert.run(e.kind, canonicalTags(e.tags), e.ts, JSON.stringify(e.fields))
  })
  let closed = false
  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `event log ${path} is closed`)
  }

  return {
    backend: 'embedded',

    async append(events: readonly StoredEvent[]): Promise<void> {
      assertOpen()
      if (events.length === 0) return
      validateEvents(events)
      try {
        appendAll.immediate(events)
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_WRITE', `append of ${events.length} event(s) to ${path}`, cause)
      }
    },

    async query(q: EventQuery): Promise<StoredEvent[]> {
      assertOpen()
      let rows: { tags: string; ts: number; fields: string }[]
      try {
        rows = selectRange.all(q.kind, q.start ?? Number.MIN_SAFE_INTEGER, q.stop ?? Number.MAX_SAFE_INTEGER)
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_QUERY', `query of ${q.kind} events in ${path}`, cause)
      }
      const decoded = rows.map((r) => ({
        kind: q.kind,
        ts: r.ts,
        tags: JSON.parse(r.tags) as Record<string, string>,
        fields: JSON.parse(r.fields) as Record<string, string | number | boolean>,
      }))
      return selectEvents(decoded, q)
    },

    async close(): Promise<void> {
      if (closed) return
      closed = true
      db.close()
    },
  }
}
