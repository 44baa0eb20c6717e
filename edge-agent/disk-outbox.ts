import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { PlantWattError } from '../core/errors.ts'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey, type Outbox, type OutboxBatch } from './outbox.ts'

/*
 * Why SQLite (better-sqlite3, WAL) rather than hand-written segment files: the Outbox contract is
 * synchronous and better-sqlite3 is too, so a sample is committed before `push` returns; a commit
 * is atomic, so "delete the acked samples and advance seq" can never be half done by a kill -9;
 * and crash recovery, compaction of acked space and the ordering index come with the engine
 * instead of being ours to get right. In WAL mode with synchronous=NORMAL a commit is a write into
 * the WAL without fsync: it survives the death of the process (the data is in the kernel), and only
 * a power loss or kernel crash can lose the last commits; `sync: 'full'` fsyncs every commit.
 */

export type DiskOutboxSync = 'normal' | 'full'

export interface DiskOutboxOptions {
  /** Folder of the buffer file; created if missing. */
  dir: string
  /** File name inside `dir`. Default `outbox.sqlite`. One agent per file (locked while open). */
  file?: string
  /** Samples held across devices before the oldest pending are dropped (and counted). */
  maxSamples: number
  /**
   * `normal` (default): each sample is committed to the WAL before push returns and survives a
   * crash of the process; `full`: also fsynced, surviving power loss, at a fraction of the rate.
   */
  sync?: DiskOutboxSync
}

interface InFlight {
  batch: OutboxBatch
  /** Highest sample id in the batch: the batch is every pending id of its key up to this one. */
  lastId: number
  count: number
}

interface DeviceState {
  address: DeviceAddress
  seq: number
  dropped: number
  depth: number
  inFlight: InFlight | undefined
}

interface Row {
  id: number
  body: string
}

class DiskOutbox implements Outbox {
  private readonly db: Database.Database
  private readonly devices = new Map<string, DeviceState>()
  private held = 0
  private closed = false
  private readonly stmt: {
    insert: Database.Statement<[string, string]>
    upsertDevice: Database.Statement<[string, string, number]>
    head: Database.Statement<[string, number, number], Row>
    firstAfter: Database.Statement<[string, number], { id: number }>
    deleteUpTo: Database.Statement<[string, number]>
    deleteOne: Database.Statement<[number]>
    setSeq: Database.Statement<[number, string]>
    setDropped: Database.Statement<[number, string]>
  }
  private readonly ackTx: (key: string, lastId: number, seq: number) => void
  private readonly dropTx: (id: number, key: string, dropped: number) => void

  constructor(private readonly options: DiskOutboxOptions) {
    if (!(Number.isInteger(options.maxSamples) && options.maxSamples >= 1)) throw new RangeError(`maxSamples must be a positive integer, got ${options.maxSamples}`)
    const file = join(options.dir, options.file ?? 'outbox.sqlite')
    try {
      mkdirSync(options.dir, { recursive: true })
      // A short busy timeout: a locked buffer is a configuration mistake, not contention to wait out.
      this.db = new Database(file, { timeout: 200 })
      // Exclusive locking: a second agent pointed at the same buffer fails at start instead of
      // sending the first one's samples; with WAL it also means no shared-memory file.
      this.db.pragma('locking_mode = EXCLUSIVE')
      this.db.pragma('journal_mode = WAL')
      this.db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`)
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS samples_key_id ON samples (key, id);
        CREATE TABLE IF NOT EXISTS devices (key TEXT PRIMARY KEY, address TEXT NOT NULL, seq INTEGER NOT NULL, dropped INTEGER NOT NULL);
      `)
    } catch (cause) {
      const busy = (cause as { code?: string }).code === 'SQLITE_BUSY'
      throw new PlantWattError(busy ? 'EDGE_ERR_BUFFER_LOCKED' : 'EDGE_ERR_BUFFER', `outbox ${file}: ${busy ? 'in use by another agent' : (cause as Error).message}`, { cause })
    }
    const db = this.db
    this.stmt = {
      insert: db.prepare('INSERT INTO samples (key, body) VALUES (?, ?)'),
      upsertDevice: db.prepare('INSERT INTO devices (key, address, seq, dropped) VALUES (?, ?, ?, 0) ON CONFLICT (key) DO NOTHING'),
      head: db.prepare<[string, number, number], Row>('SELECT id, body FROM samples WHERE key = ? AND id > ? ORDER BY id LIMIT ?'),
      firstAfter: db.prepare<[string, number], { id: number }>('SELECT id FROM samples WHERE key = ? AND id > ? ORDER BY id LIMIT 1'),
      deleteUpTo: db.prepare('DELETE FROM samples WHERE key = ? AND id <= ?'),
      deleteOne: db.prepare('DELETE FROM samples WHERE id = ?'),
      setSeq: db.prepare('UPDATE devices SET seq = ? WHERE key = ?'),
      setDropped: db.prepare('UPDATE devices SET dropped = ? WHERE key = ?'),
    }
    // Samples and seq change together, so a crash between them cannot reuse a seq for other data.
    this.ackTx = db.transaction((key: string, lastId: number, seq: number) => {
      this.stmt.deleteUpTo.run(key, lastId)
      this.stmt.setSeq.run(seq, key)
    })
    this.dropTx = db.transaction((id: number, key: string, dropped: number) => {
      this.stmt.deleteOne.run(id)
      this.stmt.setDropped.run(dropped, key)
    })
    const depths = new Map(db.prepare<[], { key: string; n: number }>('SELECT key, COUNT(*) AS n FROM samples GROUP BY key').all().map((r) => [r.key, r.n]))
    for (const d of db.prepare<[], { key: string; address: string; seq: number; dropped: number }>('SELECT key, address, seq, dropped FROM devices').all()) {
      const depth = depths.get(d.key) ?? 0
      this.devices.set(d.key, { address: JSON.parse(d.address) as DeviceAddress, seq: d.seq, dropped: d.dropped, depth, inFlight: undefined })
      this.held += depth
    }
  }

  push(address: DeviceAddress, sample: Sample): void {
    this.assertOpen()
    const key = deviceKey(address)
    let d = this.devices.get(key)
    if (!d) {
      const copy = { enterprise: address.enterprise, site: address.site, line: address.line, device: address.device }
      this.stmt.upsertDevice.run(key, JSON.stringify(copy), 0)
      d = { address: copy, seq: 0, dropped: 0, depth: 0, inFlight: undefined }
      this.devices.set(key, d)
    }
    if (this.held >= this.options.maxSamples && !this.dropOldestPending()) {
      // Everything held is in flight: the new sample is the one that cannot be kept.
      d.dropped++
      this.stmt.setDropped.run(d.dropped, key)
      return
    }
    this.stmt.insert.run(key, JSON.stringify(sample))
    d.depth++
    this.held++
  }

  take(max: number): OutboxBatch | undefined {
    this.assertOpen()
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`take(max): max must be a positive integer, got ${max}`)
    const head = this.oldestPending()
    if (!head) return undefined
    const [key, d] = head
    const rows = this.stmt.head.all(key, 0, max)
    const last = rows.at(-1)
    if (!last) return undefined
    const batch: OutboxBatch = Object.freeze({
      key,
      address: d.address,
      seq: d.seq,
      samples: Object.freeze(rows.map((r) => JSON.parse(r.body) as Sample)),
    })
    d.inFlight = { batch, lastId: last.id, count: rows.length }
    return batch
  }

  ack(batch: OutboxBatch): void {
    const [d, flight] = this.inFlight(batch)
    this.ackTx(batch.key, flight.lastId, d.seq + 1)
    d.seq++
    d.depth -= flight.count
    this.held -= flight.count
    d.inFlight = undefined
  }

  release(batch: OutboxBatch): void {
    const [d] = this.inFlight(batch)
    // The rows never left the table, so they are the head of the queue again by their ids.
    d.inFlight = undefined
  }

  depth(key?: string): number {
    if (key === undefined) return this.held
    return this.devices.get(key)?.depth ?? 0
  }

  dropped(key?: string): number {
    if (key !== undefined) return this.devices.get(key)?.dropped ?? 0
    let n = 0
    for (const d of this.devices.values()) n += d.dropped
    return n
  }

  nextSeq(key: string): number {
    return this.devices.get(key)?.seq ?? 0
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new PlantWattError('EDGE_ERR_BUFFER', 'outbox is closed')
  }

  private inFlight(batch: OutboxBatch): [DeviceState, InFlight] {
    this.assertOpen()
    const d = this.devices.get(batch.key)
    if (!d?.inFlight || d.inFlight.batch !== batch) throw new Error(`outbox: batch seq ${batch.seq} of ${batch.key} is not in flight`)
    return [d, d.inFlight]
  }

  /** The device without a batch in flight whose oldest pending sample is the oldest, and that sample's id. */
  private oldestPending(excludeInFlight = true): [string, DeviceState, number] | undefined {
    let best: [string, DeviceState, number] | undefined
    for (const [key, d] of this.devices) {
      if (d.depth === 0) continue
      if (d.inFlight && excludeInFlight) continue
      const row = this.stmt.firstAfter.get(key, d.inFlight?.lastId ?? 0)
      if (row && (!best || row.id < best[2])) best = [key, d, row.id]
    }
    return best
  }

  private dropOldestPending(): boolean {
    const oldest = this.oldestPending(false)
    if (!oldest) return false
    const [key, d, id] = oldest
    d.dropped++
    this.dropTx(id, key, d.dropped)
    d.depth--
    this.held--
    return true
  }
}

/**
 * A bounded outbox in a SQLite file (WAL): every sample is committed before `push` returns, leaves
 * only when acked, and survives a kill of the agent; each device's `seq` and drop count persist
 * with it, so numbering continues after a restart. A batch in flight at a crash is not acked, so
 * it is sent again with the same `seq` (at least once). Throws EDGE_ERR_BUFFER_LOCKED when another
 * agent holds the file, EDGE_ERR_BUFFER when it cannot be opened.
 */
export function createDiskOutbox(options: DiskOutboxOptions): Outbox {
  return new DiskOutbox(options)
}
