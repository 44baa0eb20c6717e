import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { PlantWattError } from '../core/errors.ts'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey, type Outbox, type OutboxBatch } from './outbox.ts'

/*
 * Why SQLite (better-sqlite3, WAL) rather than hand-written segment files: the Outbox contract is
 * synchronous and better-sqlite3 is too, so a sample is committed before anything can take it for
 * publishing (group commit: the samples pushed in one event-loop turn — typically the polls of
 * several devices — go to the file in one transaction at the end of that turn); a commit is atomic, so "delete the acked samples and advance seq" can never be half done by a kill -9;
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
   * `normal` (default): each sample is committed to the WAL by the end of the event-loop turn that
   * pushed it, and before it is published, and survives a crash of the process; `full`: also fsynced, surviving power loss, at a fraction of the rate.
   */
  sync?: DiskOutboxSync
}

interface InFlight {
  batch: OutboxBatch
  /** Highest sample id in the batch: the batch is every pending id of its key up to this one. */
  lastId: number
  count: number
}

/**
 * One pending sample as the process knows it: its row id once committed (0 before), its JSON
 * until committed, and the sample itself while the device's queue is short, so that live samples
 * are published without reading them back from the file.
 */
interface Entry {
  id: number
  body: string | undefined
  sample: Sample | undefined
}

interface DeviceState {
  address: DeviceAddress
  seq: number
  dropped: number
  /** Pending and in-flight samples, oldest first, from `head`; the in-flight batch is the first `inFlight.count`. */
  queue: Entry[]
  head: number
  inFlight: InFlight | undefined
}

interface Row {
  id: number
  body: string
}

/** Samples per device kept in memory besides the file (beyond it, a take reads the file). */
const CACHE_PER_DEVICE = 2000

class DiskOutbox implements Outbox {
  private readonly db: Database.Database
  private readonly devices = new Map<string, DeviceState>()
  private held = 0
  private closed = false
  /** Pushed in this event-loop turn, not yet committed: written by one transaction (group commit). */
  private uncommitted: [string, Entry][] = []
  /** Acks not yet committed, by device: the last delivered sample id and the seq after it. */
  private acks = new Map<string, { lastId: number; seq: number }>()
  private flushScheduled = false
  private readonly stmt: {
    insert: Database.Statement<[string, string]>
    upsertDevice: Database.Statement<[string, string, number]>
    range: Database.Statement<[string, number, number], Row>
    deleteUpTo: Database.Statement<[string, number]>
    deleteOne: Database.Statement<[number]>
    setSeq: Database.Statement<[number, string]>
    setDropped: Database.Statement<[number, string]>
  }
  private readonly dropTx: (id: number, key: string, dropped: number) => void
  private readonly commitTx: (rows: [string, Entry][], acks: Map<string, { lastId: number; seq: number }>) => void

  constructor(private readonly options: DiskOutboxOptions) {
    if (!(Number.isInteger(options.maxSamples) && options.maxSamples >= 1))
      throw new RangeError(`maxSamples must be a positive integer, got ${options.maxSamples}`)
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
      throw new PlantWattError(
        busy ? 'EDGE_ERR_BUFFER_LOCKED' : 'EDGE_ERR_BUFFER',
        `outbox ${file}: ${busy ? 'in use by another agent' : (cause as Error).message}`,
        { cause },
      )
    }
    const db = this.db
    this.stmt = {
      insert: db.prepare('INSERT INTO samples (key, body) VALUES (?, ?)'),
      upsertDevice: db.prepare('INSERT INTO devices (key, address, seq, dropped) VALUES (?, ?, ?, 0) ON CONFLICT (key) DO NOTHING'),
      range: db.prepare<[string, number, number], Row>('SELECT id, body FROM samples WHERE key = ? AND id >= ? ORDER BY id LIMIT ?'),
      deleteUpTo: db.prepare('DELETE FROM samples WHERE key = ? AND id <= ?'),
      deleteOne: db.prepare('DELETE FROM samples WHERE id = ?'),
      setSeq: db.prepare('UPDATE devices SET seq = ? WHERE key = ?'),
      setDropped: db.prepare('UPDATE devices SET dropped = ? WHERE key = ?'),
    }
    this.dropTx = db.transaction((id: number, key: string, dropped: number) => {
      this.stmt.deleteOne.run(id)
      this.stmt.setDropped.run(dropped, key)
    })
    // One transaction per event-loop turn: the samples pushed and the batches acked in it. A
    // delivered batch's rows and its device's seq change together, so a crash can never reuse a
    // seq for other data; a crash before the commit only makes the agent send that batch again
    // with the same seq after the restart (at least once).
    this.commitTx = db.transaction((rows: [string, Entry][], acks: Map<string, { lastId: number; seq: number }>) => {
      for (const [key, e] of rows) {
        e.id = Number(this.stmt.insert.run(key, e.body as string).lastInsertRowid)
        e.body = undefined
      }
      for (const [key, a] of acks) {
        this.stmt.deleteUpTo.run(key, a.lastId)
        this.stmt.setSeq.run(a.seq, key)
      }
    })
    const ids = db.prepare<[string], { id: number }>('SELECT id FROM samples WHERE key = ? ORDER BY id')
    for (const d of db.prepare<[], { key: string; address: string; seq: number; dropped: number }>('SELECT key, address, seq, dropped FROM devices').all()) {
      const queue: Entry[] = ids.all(d.key).map((r) => ({ id: r.id, body: undefined, sample: undefined }))
      this.devices.set(d.key, { address: JSON.parse(d.address) as DeviceAddress, seq: d.seq, dropped: d.dropped, queue, head: 0, inFlight: undefined })
      this.held += queue.length
    }
  }

  push(address: DeviceAddress, sample: Sample): void {
    this.assertOpen()
    const key = deviceKey(address)
    let d = this.devices.get(key)
    if (!d) {
      const copy = { enterprise: address.enterprise, site: address.site, line: address.line, device: address.device }
      this.stmt.upsertDevice.run(key, JSON.stringify(copy), 0)
      d = { address: copy, seq: 0, dropped: 0, queue: [], head: 0, inFlight: undefined }
      this.devices.set(key, d)
    }
    if (this.held >= this.options.maxSamples && !this.dropOldestPending()) {
      // Everything held is in flight: the new sample is the one that cannot be kept.
      d.dropped++
      this.stmt.setDropped.run(d.dropped, key)
      return
    }
    const cached = d.queue.length - d.head < CACHE_PER_DEVICE
    const entry: Entry = { id: 0, body: JSON.stringify(sample), sample: cached ? sample : undefined }
    d.queue.push(entry)
    this.held++
    this.uncommitted.push([key, entry])
    // Group commit: every sample pushed in this turn of the event loop goes to the file in one
    // transaction at the end of the turn, and always before any of them can be taken (published).
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      if (!this.closed) this.flush()
    })
  }

  /** Commits what was pushed and acked since the last commit (one transaction). */
  flush(): void {
    if (this.uncommitted.length === 0 && this.acks.size === 0) return
    const rows = this.uncommitted
    const acks = this.acks
    this.uncommitted = []
    this.acks = new Map()
    this.commitTx(rows, acks)
  }

  take(max: number, min = 1): OutboxBatch | undefined {
    this.assertOpen()
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`take(max): max must be a positive integer, got ${max}`)
    this.flush()
    // The device without a batch in flight (and with at least `min` pending) whose oldest pending sample is the oldest.
    let best: [string, DeviceState] | undefined
    let bestId = Infinity
    for (const entry of this.devices) {
      const d = entry[1]
      if (d.inFlight || d.queue.length - d.head < Math.max(1, min)) continue
      const id = (d.queue[d.head] as Entry).id
      if (id < bestId) {
        bestId = id
        best = entry
      }
    }
    if (!best) return undefined
    const [key, d] = best
    const end = Math.min(d.queue.length, d.head + max)
    let samples: Sample[] = []
    for (let i = d.head; i < end; i++) {
      const s = (d.queue[i] as Entry).sample
      if (!s) {
        // Not in memory (recovered from the file, or a long queue): read the rows back.
        samples = this.stmt.range.all(key, bestId, end - d.head).map((r) => JSON.parse(r.body) as Sample)
        break
      }
      samples.push(s)
    }
    const batch: OutboxBatch = Object.freeze({ key, address: d.address, seq: d.seq, samples: Object.freeze(samples) })
    d.inFlight = { batch, lastId: (d.queue[end - 1] as Entry).id, count: end - d.head }
    return batch
  }

  ack(batch: OutboxBatch): void {
    const [d, flight] = this.inFlight(batch)
    d.seq++
    this.acks.set(batch.key, { lastId: flight.lastId, seq: d.seq })
    this.scheduleFlush()
    d.head += flight.count
    this.held -= flight.count
    d.inFlight = undefined
    // Keep the queue array from growing: drop the delivered prefix now and then.
    if (d.head >= 1024 && d.head * 2 >= d.queue.length) {
      d.queue = d.queue.slice(d.head)
      d.head = 0
    }
  }

  release(batch: OutboxBatch): void {
    const [d] = this.inFlight(batch)
    // The rows never left the table, so they are the head of the queue again.
    d.inFlight = undefined
  }

  depth(key?: string): number {
    if (key === undefined) return this.held
    const d = this.devices.get(key)
    return d ? d.queue.length - d.head : 0
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
    this.flush()
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

  /** Drops the oldest sample that is not in flight, across devices; false when every sample is in flight. */
  private dropOldestPending(): boolean {
    this.flush()
    let best: [string, DeviceState, number] | undefined
    for (const [key, d] of this.devices) {
      const i = d.head + (d.inFlight?.count ?? 0)
      const e = d.queue[i]
      if (e && (!best || e.id < (best[1].queue[best[2]] as Entry).id)) best = [key, d, i]
    }
    if (!best) return false
    const [key, d, i] = best
    const e = d.queue[i] as Entry
    d.dropped++
    this.dropTx(e.id, key, d.dropped)
    if (i === d.head) d.head++
    else d.queue.splice(i, 1)
    this.held--
    return true
  }
}

/**
 * A bounded outbox in a SQLite file (WAL): every sample is committed at the end of the event-loop
 * turn that pushed it (one transaction for all samples of the turn) and always before it can be
 * taken for publishing; it leaves
 * only when acked, and survives a kill of the agent; each device's `seq` and drop count persist
 * with it, so numbering continues after a restart. A batch in flight at a crash is not acked, so
 * it is sent again with the same `seq` (at least once). Throws EDGE_ERR_BUFFER_LOCKED when another
 * agent holds the file, EDGE_ERR_BUFFER when it cannot be opened.
 */
export function createDiskOutbox(options: DiskOutboxOptions): Outbox {
  return new DiskOutbox(options)
}
