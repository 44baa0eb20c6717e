/**
 * The durable outbox: every indicator waits here (SQLite, WAL, synchronous FULL) until the province
 * acknowledges it. A period whose figure changed is queued again as the next revision; an unchanged
 * one is not queued twice. Survives kill -9: a record is either in the file or was never enqueued.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { recordKey, type IndicatorRecord } from '../province/message.ts'
import type { Indicator } from './indicators.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, revision INTEGER NOT NULL, start INTEGER NOT NULL, content TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT, receipt TEXT,
  created_at INTEGER NOT NULL, acked_at INTEGER, UNIQUE (key, revision));
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at, start) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
`

export type OutboxState = 'pending' | 'acked' | 'rejected'

export interface OutboxEntry {
  id: number
  record: IndicatorRecord
  state: OutboxState
  attempts: number
  nextAt: number
  lastError: string | null
  receipt: string | null
  createdAt: number
  ackedAt: number | null
}

export interface EnqueueResult {
  queued: number
  revised: number
  unchanged: number
}

type Row = {
  id: number
  key: string
  revision: number
  content: string
  state: string
  attempts: number
  next_at: number
  last_error: string | null
  receipt: string | null
  created_at: number
  acked_at: number | null
}

export class Outbox {
  readonly #db: Database.Database
  readonly #stmts

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    this.#db = new Database(path)
    this.#db.pragma('journal_mode = WAL')
    // FULL: an enqueue that returned is on disk even if the machine loses power.
    this.#db.pragma('synchronous = FULL')
    this.#db.exec(SCHEMA)
    const db = this.#db
    this.#stmts = {
      latest: db.prepare('SELECT revision, content FROM outbox WHERE key = ? ORDER BY revision DESC LIMIT 1'),
      insert: db.prepare("INSERT INTO outbox (key, revision, start, content, state, next_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)"),
      due: db.prepare("SELECT * FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY start, revision LIMIT ?"),
      ack: db.prepare("UPDATE outbox SET state = 'acked', receipt = ?, acked_at = ?, last_error = NULL, attempts = attempts + 1 WHERE id = ?"),
      retry: db.prepare('UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?'),
      reject: db.prepare("UPDATE outbox SET state = 'rejected', attempts = attempts + 1, last_error = ? WHERE id = ?"),
      getMeta: db.prepare('SELECT v FROM meta WHERE k = ?'),
      setMeta: db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT DO UPDATE SET v = excluded.v'),
    }
  }

  /** Queues what is new or changed, in one transaction; revision 0 first, then one more per change. */
  enqueue(indicators: readonly Indicator[], now: number): EnqueueResult {
    const run = this.#db.transaction((): EnqueueResult => {
      const result = { queued: 0, revised: 0, unchanged: 0 }
      for (const ind of indicators) {
        const key = recordKey(ind)
        const content = JSON.stringify(ind)
        const held = this.#stmts.latest.get(key) as { revision: number; content: string } | undefined
        if (held && held.content === content) {
          result.unchanged++
          continue
        }
        this.#stmts.insert.run(key, held ? held.revision + 1 : 0, ind.start, content, now, now)
        if (held) result.revised++
        else result.queued++
      }
      return result
    })
    return run()
  }

  /** Pending entries whose time has come, oldest period first. */
  due(now: number, limit: number): OutboxEntry[] {
    return (this.#stmts.due.all(now, limit) as Row[]).map(toEntry)
  }

  acked(ids: readonly number[], receipt: string, now: number): void {
    this.#db.transaction(() => {
      for (const id of ids) this.#stmts.ack.run(receipt, now, id)
    })()
  }

  retryAt(ids: readonly number[], nextAt: number, error: string): void {
    this.#db.transaction(() => {
      for (const id of ids) this.#stmts.retry.run(nextAt, error, id)
    })()
  }

  rejected(id: number, reason: string): void {
    this.#stmts.reject.run(reason, id)
  }

  /** Newest entries of a state (the plant UI's lists). */
  list(state: OutboxState, limit: number): OutboxEntry[] {
    const order = state === 'acked' ? 'acked_at DESC' : 'start DESC, revision DESC'
    return (this.#db.prepare(`SELECT * FROM outbox WHERE state = ? ORDER BY ${order} LIMIT ?`).all(state, limit) as Row[]).map(toEntry)
  }

  counts(): Record<OutboxState, number> {
    const out: Record<OutboxState, number> = { pending: 0, acked: 0, rejected: 0 }
    for (const r of this.#db.prepare('SELECT state, count(*) AS n FROM outbox GROUP BY state').all() as { state: OutboxState; n: number }[]) out[r.state] = r.n
    return out
  }

  getMark(name: string): number | undefined {
    return (this.#stmts.getMeta.get(name) as { v: number } | undefined)?.v
  }

  setMark(name: string, value: number): void {
    this.#stmts.setMeta.run(name, value)
  }

  close(): void {
    this.#db.close()
  }
}

function toEntry(r: Row): OutboxEntry {
  const record = { ...(JSON.parse(r.content) as Indicator), revision: r.revision } as IndicatorRecord
  return {
    id: r.id,
    record,
    state: r.state as OutboxState,
    attempts: r.attempts,
    nextAt: r.next_at,
    lastError: r.last_error,
    receipt: r.receipt,
    createdAt: r.created_at,
    ackedAt: r.acked_at,
  }
}
