import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey } from '../core/plant.ts'

/** `enterprise/site/line/device` (core/plant.ts): one outbox queue and one `seq` counter per key. */
export { deviceKey }

/** Samples of one device taken for one message. Returned to the outbox by `ack` or `release`. */
export interface OutboxBatch {
  readonly key: string
  readonly address: DeviceAddress
  /** The message's sequence number: the device's next `seq`, fixed until the batch is acked. */
  readonly seq: number
  readonly samples: readonly Sample[]
}

/**
 * Store-and-forward buffer between the pollers and the MQTT publisher. Samples leave it only when
 * acked (after the broker's PUBACK), so nothing is lost while the broker is away; when full, the
 * oldest pending samples are dropped and counted. The outbox also owns each device's `seq`, so
 * that a durable implementation keeps numbering across restarts.
 *
 * Implementations: in memory (`createMemoryOutbox`); a durable disk outbox later, run through the
 * same contract suite (`outbox.contract.ts`).
 */
export interface Outbox {
  push(address: DeviceAddress, sample: Sample): void
  /**
   * Up to `max` of the oldest pending samples of one device that has no batch in flight — the
   * device whose oldest pending sample is oldest — or undefined when there is none. One batch per
   * device at a time keeps each device's messages in order. Devices with fewer than `min` (default 1)
   * pending samples are passed over: the publisher's batching window sends only full batches between
   * its ticks.
   */
  take(max: number, min?: number): OutboxBatch | undefined
  /** The batch was delivered: forget its samples and advance the device's seq by one. */
  ack(batch: OutboxBatch): void
  /** The batch was not delivered: its samples go back to the head of the queue, seq unchanged. */
  release(batch: OutboxBatch): void
  /** Samples held (pending and in flight), for one device or all. */
  depth(key?: string): number
  /** Samples dropped because the outbox was full, since start, for one device or all. */
  dropped(key?: string): number
  /** The `seq` the device's next message will carry (0 for a device never seen). */
  nextSeq(key: string): number
  close(): Promise<void>
}

interface Entry {
  /** Global push order, to find the oldest pending sample across devices. */
  order: number
  sample: Sample
}

interface DeviceQueue {
  address: DeviceAddress
  pending: Entry[]
  head: number
  inFlight: { batch: OutboxBatch; entries: Entry[] } | undefined
  seq: number
  dropped: number
}

export interface MemoryOutboxOptions {
  /** Samples held across devices before the oldest are dropped. */
  maxSamples: number
  /** First seq per device. Default 0. */
  firstSeq?: number
}

class MemoryOutbox implements Outbox {
  private readonly queues = new Map<string, DeviceQueue>()
  private order = 0
  private held = 0

  constructor(private readonly options: MemoryOutboxOptions) {
    if (!(Number.isInteger(options.maxSamples) && options.maxSamples >= 1))
      throw new RangeError(`maxSamples must be a positive integer, got ${options.maxSamples}`)
  }

  push(address: DeviceAddress, sample: Sample): void {
    const key = deviceKey(address)
    let q = this.queues.get(key)
    if (!q) {
      q = { address: { ...address }, pending: [], head: 0, inFlight: undefined, seq: this.options.firstSeq ?? 0, dropped: 0 }
      this.queues.set(key, q)
    }
    if (this.held >= this.options.maxSamples && !this.dropOldestPending()) {
      // Everything held is in flight: the new sample is the one that cannot be kept.
      q.dropped++
      return
    }
    q.pending.push({ order: this.order++, sample })
    this.held++
  }

  take(max: number, min = 1): OutboxBatch | undefined {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`take(max): max must be a positive integer, got ${max}`)
    let best: [string, DeviceQueue] | undefined
    for (const entry of this.queues) {
      const q = entry[1]
      if (q.inFlight || q.pending.length - q.head < Math.max(1, min)) continue
      if (!best || (q.pending[q.head] as Entry).order < (best[1].pending[best[1].head] as Entry).order) best = entry
    }
    if (!best) return undefined
    const [key, q] = best
    const entries = q.pending.slice(q.head, q.head + max)
    q.head += entries.length
    this.compact(q)
    const batch: OutboxBatch = Object.freeze({ key, address: q.address, seq: q.seq, samples: Object.freeze(entries.map((e) => e.sample)) })
    q.inFlight = { batch, entries }
    return batch
  }

  ack(batch: OutboxBatch): void {
    const [q, entries] = this.inFlight(batch)
    this.held -= entries.length
    q.inFlight = undefined
    q.seq++
  }

  release(batch: OutboxBatch): void {
    const [q, entries] = this.inFlight(batch)
    q.inFlight = undefined
    q.pending = [...entries, ...q.pending.slice(q.head)]
    q.head = 0
  }

  depth(key?: string): number {
    if (key === undefined) return this.held
    const q = this.queues.get(key)
    return q ? q.pending.length - q.head + (q.inFlight?.entries.length ?? 0) : 0
  }

  dropped(key?: string): number {
    if (key !== undefined) return this.queues.get(key)?.dropped ?? 0
    let n = 0
    for (const q of this.queues.values()) n += q.dropped
    return n
  }

  nextSeq(key: string): number {
    return this.queues.get(key)?.seq ?? this.options.firstSeq ?? 0
  }

  async close(): Promise<void> {}

  private inFlight(batch: OutboxBatch): [DeviceQueue, Entry[]] {
    const q = this.queues.get(batch.key)
    if (!q?.inFlight || q.inFlight.batch !== batch) throw new Error(`outbox: batch seq ${batch.seq} of ${batch.key} is not in flight`)
    return [q, q.inFlight.entries]
  }

  private dropOldestPending(): boolean {
    let oldest: DeviceQueue | undefined
    for (const q of this.queues.values()) {
      if (q.head >= q.pending.length) continue
      if (!oldest || (q.pending[q.head] as Entry).order < (oldest.pending[oldest.head] as Entry).order) oldest = q
    }
    if (!oldest) return false
    oldest.head++
    oldest.dropped++
    this.held--
    this.compact(oldest)
    return true
  }

  /** Drops consumed entries once they are the larger part, so the queue stays O(1) amortised. */
  private compact(q: DeviceQueue): void {
    if (q.head > 1024 && q.head * 2 > q.pending.length) {
      q.pending = q.pending.slice(q.head)
      q.head = 0
    }
  }
}

/** A bounded in-memory outbox: survives broker outages, not agent restarts. */
export function createMemoryOutbox(options: MemoryOutboxOptions): Outbox {
  return new MemoryOutbox(options)
}
