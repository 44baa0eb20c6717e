import type { Readable as ReadableType } from 'node:stream'
import { Readable } from 'node:stream'
import aedesPersistence from 'aedes-persistence'

/**
 * Aedes' in-memory persistence (aedes-persistence 11) with the outgoing QoS 1 queues indexed.
 *
 * aedes-persistence keeps each persistent session's outgoing queue in an array: `outgoingUpdate`
 * (once per PUBLISH sent to the session) scans it from the oldest entry for the packet just sent —
 * the newest — and `outgoingClearMessageId` (once per PUBACK) scans and splices. With ingest's
 * thousands of messages in flight that is thousands of comparisons per message. Here the same
 * queue is a Map in queue order plus two indexes (by brokerId + brokerCounter, and by messageId),
 * so each operation is O(1) in the usual case, with the array version's results in every case:
 * the same entry is updated, replaced or removed (the first match in queue order), the same errors
 * are thrown and `outgoingStream` yields the same packets in the same order (`persistence.test.ts`
 * runs random sequences of operations against both and compares).
 *
 * Everything else (subscriptions, retained messages, wills, QoS 2 incoming) is aedes-persistence's
 * own memory persistence, delegated to unchanged. The Redis-backed cluster persistence is not
 * affected (broker/cluster.ts).
 */

/** The fields of an Aedes packet the outgoing queue looks at (aedes-packet's Packet). */
export interface QueuedPacket {
  brokerId?: string
  brokerCounter?: number
  messageId?: number
  [key: string]: unknown
}

interface Entry {
  /** Position in the queue: entries are yielded by increasing seq. */
  seq: number
  packet: QueuedPacket
  /** packetBytes(packet), counted once. */
  bytes: number
}

/** Entries sharing one key, first in queue order first. */
class Bucket {
  entries = new Map<number, Entry>()
  private lastSeq = -1

  add(entry: Entry): void {
    if (this.entries.size === 0 || entry.seq > this.lastSeq) {
      this.entries.set(entry.seq, entry)
      this.lastSeq = entry.seq
      return
    }
    // An older entry joins (its messageId was set after newer ones got the same id): re-sort. Rare,
    // and buckets by messageId hold one entry unless ids wrapped around while packets were queued.
    const sorted = [...this.entries.values(), entry].sort((a, b) => a.seq - b.seq)
    this.entries = new Map(sorted.map((e) => [e.seq, e]))
    this.lastSeq = (sorted.at(-1) as Entry).seq
  }

  delete(entry: Entry): void {
    this.entries.delete(entry.seq)
  }

  first(): Entry | undefined {
    for (const entry of this.entries.values()) return entry
    return undefined
  }
}

/** Bytes a queued packet holds for the limits: topic and payload (the copy's fixed overhead aside). */
export function packetBytes(packet: QueuedPacket): number {
  const payload = packet['payload'] as { length?: number } | string | undefined
  const topic = packet['topic']
  return (typeof topic === 'string' ? topic.length : 0) + (typeof payload === 'string' ? Buffer.byteLength(payload) : (payload?.length ?? 0))
}

/** One client's outgoing queue. */
export class OutgoingQueue {
  private nextSeq = 0
  /** Topic and payload bytes of the queued packets (packetBytes). */
  bytes = 0
  private readonly order = new Map<number, Entry>()
  private readonly byIdentity = new Map<string | undefined, Map<number | undefined, Bucket>>()
  private readonly byMessageId = new Map<number | undefined, Bucket>()

  get size(): number {
    return this.order.size
  }

  /** Appends a packet (already copied by the caller); `bytes` is its packetBytes when known. */
  push(packet: QueuedPacket, bytes = packetBytes(packet)): void {
    const entry: Entry = { seq: this.nextSeq++, packet, bytes }
    this.order.set(entry.seq, entry)
    this.bytes += bytes
    this.index(entry)
  }

  /**
   * What aedes-persistence's array scan does: the first entry (in queue order) that is either the
   * same packet (brokerId and brokerCounter) — its messageId is set — or a packet of another broker
   * with the same messageId — replaced by `packet`. False when there is none.
   */
  update(packet: QueuedPacket): boolean {
    const same = this.byIdentity.get(packet.brokerId)?.get(packet.brokerCounter)?.first()
    let other: Entry | undefined
    const withId = this.byMessageId.get(packet.messageId)
    if (withId) {
      for (const entry of withId.entries.values()) {
        if (same && entry.seq > same.seq) break
        if (entry.packet.brokerId !== packet.brokerId) {
          other = entry
          break
        }
      }
    }
    if (other && (!same || other.seq < same.seq)) {
      this.unindex(other)
      const bytes = packetBytes(packet)
      this.bytes += bytes - other.bytes
      other.bytes = bytes
      other.packet = packet
      this.index(other)
      return true
    }
    if (!same) return false
    this.unindexMessageId(same)
    same.packet.messageId = packet.messageId
    this.indexMessageId(same)
    return true
  }

  /** Removes and returns the first entry (in queue order) with this messageId. */
  clear(messageId: number | undefined): QueuedPacket | undefined {
    const entry = this.byMessageId.get(messageId)?.first()
    if (!entry) return undefined
    this.order.delete(entry.seq)
    this.bytes -= entry.bytes
    this.unindex(entry)
    return entry.packet
  }

  /** The packets in queue order (a snapshot). */
  packets(): QueuedPacket[] {
    const out = new Array<QueuedPacket>(this.order.size)
    let i = 0
    for (const entry of this.order.values()) out[i++] = entry.packet
    return out
  }

  private index(entry: Entry): void {
    const { brokerId, brokerCounter } = entry.packet
    let counters = this.byIdentity.get(brokerId)
    if (!counters) {
      counters = new Map()
      this.byIdentity.set(brokerId, counters)
    }
    let bucket = counters.get(brokerCounter)
    if (!bucket) {
      bucket = new Bucket()
      counters.set(brokerCounter, bucket)
    }
    bucket.add(entry)
    this.indexMessageId(entry)
  }

  private unindex(entry: Entry): void {
    const { brokerId, brokerCounter } = entry.packet
    const counters = this.byIdentity.get(brokerId)
    const bucket = counters?.get(brokerCounter)
    if (counters && bucket) {
      bucket.delete(entry)
      if (bucket.entries.size === 0) {
        counters.delete(brokerCounter)
        if (counters.size === 0) this.byIdentity.delete(brokerId)
      }
    }
    this.unindexMessageId(entry)
  }

  private indexMessageId(entry: Entry): void {
    const id = entry.packet.messageId
    let bucket = this.byMessageId.get(id)
    if (!bucket) {
      bucket = new Bucket()
      this.byMessageId.set(id, bucket)
    }
    bucket.add(entry)
  }

  private unindexMessageId(entry: Entry): void {
    const id = entry.packet.messageId
    const bucket = this.byMessageId.get(id)
    if (!bucket) return
    bucket.delete(entry)
    if (bucket.entries.size === 0) this.byMessageId.delete(id)
  }
}

/** Topics whose matching subscriptions are kept (cleared whole beyond). */
const MATCH_CACHE_SIZE = 100_000

interface ClientRef {
  id: string
}

/** The promise API of aedes-persistence's memory persistence, as Aedes 1.2 calls it. */
interface PromisePersistence {
  setup(broker: unknown): Promise<unknown>
  [method: string]: unknown
}

type PacketCopy = new (original: object) => QueuedPacket
/**
 * aedes-persistence is CommonJS: its module.exports (what a default import gets at run time) is the
 * memory factory, with aedes-packet's Packet — the copy its queue stores — attached; its types
 * describe an ESM default export instead.
 */
const memoryPersistence = aedesPersistence as unknown as (() => unknown) & { Packet: PacketCopy }
const Packet = memoryPersistence.Packet

/** Methods passed through to aedes-persistence's memory persistence unchanged. */
const DELEGATED = [
  'storeRetained',
  'createRetainedStream',
  'createRetainedStreamCombi',
  'subscriptionsByClient',
  'countOffline',
  'incomingStorePacket',
  'incomingGetPacket',
  'incomingDelPacket',
  'cleanIncoming',
  'putWill',
  'getWill',
  'delWill',
  'streamWill',
  'getClientList',
  'destroy',
] as const

/** An Aedes persistence: pass as `persistence` in Aedes' options. */
export interface IndexedMemoryPersistence {
  setup(broker: unknown): Promise<void>
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: object): Promise<void>
  outgoingUpdate(client: ClientRef, packet: QueuedPacket): Promise<void>
  outgoingClearMessageId(client: ClientRef, packet: { messageId?: number }): Promise<QueuedPacket | undefined>
  outgoingStream(client: ClientRef): ReadableType
  /** Persistent (QoS > 0) subscriptions matching a topic; cached per topic until subscriptions change. */
  subscriptionsByTopic(topic: string): Promise<unknown[]>
  addSubscriptions(client: ClientRef, subs: readonly object[]): Promise<void>
  removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void>
  cleanSubscriptions(client: ClientRef): Promise<void>
  /** Packets queued for a client (for tests and stats). */
  outgoingSize(clientId: string): number
  /** Topic and payload bytes queued for a client. */
  outgoingBytes(clientId: string): number
  /** Ends a session: its queue and its subscriptions are removed (session expiry). */
  dropSession(clientId: string): Promise<{ messages: number; bytes: number }>
}

/** How much one session's outgoing queue may hold. */
export interface QueueLimit {
  maxMessages: number
  maxBytes: number
}

export interface IndexedMemoryPersistenceOptions {
  /** The limit of a client's queue (asked at every enqueue: keep it cheap). Default: none. */
  limitOf?: (clientId: string) => QueueLimit
  /** A packet was not queued for `clientId` because its queue was full. */
  onDrop?: (clientId: string, bytes: number) => void
}

/** Aedes' default in-memory persistence, with indexed outgoing queues (see the top of this file). */
export function createIndexedMemoryPersistence(options: IndexedMemoryPersistenceOptions = {}): IndexedMemoryPersistence {
  const inner = memoryPersistence() as unknown as PromisePersistence
  const queues = new Map<string, OutgoingQueue>()
  const { limitOf, onDrop } = options
  /**
   * Queues a copy unless the client's queue is full: the newest message is the one dropped (and
   * counted), so what a session already holds is delivered in order when it comes back.
   */
  const enqueue = (clientId: string, packet: object, bytes: number): void => {
    const queue = queueOf(clientId)
    if (limitOf) {
      const limit = limitOf(clientId)
      if (queue.size >= limit.maxMessages || queue.bytes + bytes > limit.maxBytes) {
        onDrop?.(clientId, bytes)
        return
      }
    }
    queue.push(new Packet(packet), bytes)
  }
  const queueOf = (clientId: string): OutgoingQueue => {
    let queue = queues.get(clientId)
    if (!queue) {
      queue = new OutgoingQueue()
      queues.set(clientId, queue)
    }
    return queue
  }
  /**
   * Aedes asks for the persistent subscriptions matching every QoS 1 publish's topic (a trie walk),
   * and a device publishes to the same topic all day: answers are kept per topic, and all of them
   * dropped whenever a subscription changes. An answer computed before a change is not kept.
   */
  const matches = new Map<string, unknown[]>()
  let generation = 0
  const subscriptionsChanged = <T>(change: Promise<T>): Promise<T> => {
    generation++
    matches.clear()
    return change.finally(() => {
      generation++
      matches.clear()
    })
  }
  const call = (name: string, ...args: unknown[]): Promise<never> => (inner[name] as (...a: unknown[]) => Promise<never>).apply(inner, args)
  const persistence: IndexedMemoryPersistence & Record<string, unknown> = {
    // Aedes checks that setup is an async function.
    async setup(broker: unknown): Promise<void> {
      await inner.setup(broker)
    },
    async outgoingEnqueue(sub, packet) {
      enqueue(sub.clientId, packet, packetBytes(packet as QueuedPacket))
    },
    async outgoingEnqueueCombi(subs, packet) {
      const bytes = packetBytes(packet as QueuedPacket)
      for (const sub of subs) enqueue(sub.clientId, packet, bytes)
    },
    async outgoingUpdate(client, packet) {
      if (!queues.get(client.id)?.update(packet)) throw new Error('no such packet')
    },
    async outgoingClearMessageId(client, packet) {
      const queue = queues.get(client.id)
      if (!queue) return undefined
      const removed = queue.clear(packet.messageId)
      if (queue.size === 0) queues.delete(client.id)
      return removed
    },
    outgoingStream(client) {
      return Readable.from(queues.get(client.id)?.packets() ?? [])
    },
    subscriptionsByTopic(topic) {
      const known = matches.get(topic)
      if (known) return Promise.resolve(known)
      const asked = generation
      return (call('subscriptionsByTopic', topic) as Promise<unknown[]>).then((subs) => {
        if (asked === generation) {
          if (matches.size >= MATCH_CACHE_SIZE) matches.clear()
          matches.set(topic, subs)
        }
        return subs
      })
    },
    addSubscriptions(client, subs) {
      return subscriptionsChanged(call('addSubscriptions', client, subs))
    },
    removeSubscriptions(client, topics) {
      return subscriptionsChanged(call('removeSubscriptions', client, topics))
    },
    cleanSubscriptions(client) {
      return subscriptionsChanged(call('cleanSubscriptions', client))
    },
    outgoingSize(clientId) {
      return queues.get(clientId)?.size ?? 0
    },
    outgoingBytes(clientId) {
      return queues.get(clientId)?.bytes ?? 0
    },
    async dropSession(clientId) {
      const queue = queues.get(clientId)
      queues.delete(clientId)
      await subscriptionsChanged(call('cleanSubscriptions', { id: clientId }))
      return { messages: queue?.size ?? 0, bytes: queue?.bytes ?? 0 }
    },
  }
  for (const name of DELEGATED) {
    const method = inner[name]
    if (typeof method === 'function') persistence[name] = (method as (...args: unknown[]) => unknown).bind(inner)
  }
  return persistence
}
