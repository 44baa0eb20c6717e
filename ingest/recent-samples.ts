/**
 * The recent-window conflict check for stores that cannot tell on their own (InfluxDB: a line always
 * replaces the field, and knowing the stored value needs a read). For the newest `capacity` samples
 * it remembers (device, ts) → the sample's fields as line-protocol text (`name=value,…`, without
 * seq), in an off-heap byte ring, so that a later sample for the same device and ts is compared:
 *
 * - same text (hash equal): a re-delivery, written again (idempotent);
 * - different text: compared field by field as numbers (412.5 and 412.50 are one value). A field
 *   whose value differs is a conflict: the first value is kept, the sample's other, new fields are
 *   still written, and the caller sets the sample aside. Only new fields, or only equal ones: no conflict.
 *
 * Older samples are forgotten (first in, first out): a conflicting sample arriving after `capacity`
 * newer samples overwrites the stored value unseen. No allocation per sample on the common path
 * beyond the Map entry.
 */

/** What check() found. */
export const NEW_OR_SAME = 0
export const CONFLICT = 1

export interface FieldConflict {
  field: string
  stored: number
  refused: number
}

/** Filled by check() when it returns CONFLICT. */
export interface ConflictDetail {
  fields: FieldConflict[]
  /** The sample's fields the first one lacked, as `name=value,…` ('' when none): still to be written. */
  added: string
}

/** Average bytes of fields text budgeted per remembered sample. */
const BYTES_PER_SAMPLE = 128

/** FNV-1a over bytes[start, end). */
export function fieldsHash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
  return h
}

function parseFields(text: string): Map<string, string> {
  const out = new Map<string, string>()
  if (text === '') return out
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=')
    out.set(pair.slice(0, eq), pair.slice(eq + 1))
  }
  return out
}

export class RecentSamples {
  readonly capacity: number
  /** Set by check() when it returns CONFLICT. */
  conflict: ConflictDetail = { fields: [], added: '' }
  private readonly devices = new Map<string, Map<number, number>>()
  // The ring of entries, oldest at head - count. An entry's device map is undefined once it is dead.
  private readonly ringDevice: (Map<number, number> | undefined)[]
  private readonly ringTs: Float64Array
  private readonly ringHash: Int32Array
  /** Absolute position of the entry's text in the log (entries are in log order). */
  private readonly ringPos: Float64Array
  private readonly ringLen: Int32Array
  private head = 0
  private count = 0
  private readonly log: Buffer
  private logHead = 0

  /** @param capacity samples remembered (≥ 1). */
  constructor(capacity: number) {
    this.capacity = capacity
    this.ringDevice = new Array<Map<number, number> | undefined>(capacity).fill(undefined)
    this.ringTs = new Float64Array(capacity)
    this.ringHash = new Int32Array(capacity)
    this.ringPos = new Float64Array(capacity)
    this.ringLen = new Int32Array(capacity)
    this.log = Buffer.alloc(capacity * BYTES_PER_SAMPLE)
  }

  /** The per-device table to pass to check(); look it up once per message. */
  device(key: string): Map<number, number> {
    let m = this.devices.get(key)
    if (m === undefined) {
      m = new Map()
      this.devices.set(key, m)
    }
    return m
  }

  /** Samples remembered now. */
  get size(): number {
    let n = 0
    for (const m of this.devices.values()) n += m.size
    return n
  }

  /**
   * Checks the sample (device, ts) whose fields text is bytes[start, end) against the window, and
   * remembers it. NEW_OR_SAME: write it as it is. CONFLICT: see `conflict`.
   */
  check(device: Map<number, number>, ts: number, bytes: Uint8Array, start: number, end: number): number {
    const hash = fieldsHash(bytes, start, end)
    const at = device.get(ts)
    if (at === undefined) {
      this.insert(device, ts, hash, bytes, start, end)
      return NEW_OR_SAME
    }
    if ((this.ringHash[at] as number) === hash) return NEW_OR_SAME
    // Rare: compare field by field.
    const stored = parseFields(this.text(at))
    const incoming = parseFields(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'))
    const fields: FieldConflict[] = []
    let added = ''
    for (const [name, value] of incoming) {
      const old = stored.get(name)
      if (old === undefined) added += `${added ? ',' : ''}${name}=${value}`
      else if (Number(old) !== Number(value)) fields.push({ field: name, stored: Number(old), refused: Number(value) })
    }
    if (added !== '') {
      // The first sample and what this one added are what the store holds now.
      let merged = ''
      for (const [name, value] of stored) merged += `${merged ? ',' : ''}${name}=${value}`
      merged += `${merged ? ',' : ''}${added}`
      const m = Buffer.from(merged, 'latin1')
      this.ringDevice[at] = undefined
      this.insert(device, ts, fieldsHash(m, 0, m.length), m, 0, m.length)
    }
    if (fields.length === 0) return NEW_OR_SAME
    this.conflict = { fields, added }
    return CONFLICT
  }

  private insert(device: Map<number, number>, ts: number, hash: number, bytes: Uint8Array, start: number, end: number): void {
    const len = Math.min(end - start, this.log.length)
    // Make room: at most capacity entries, and the oldest text must not be overwritten.
    while (this.count > 0 && (this.count === this.capacity || this.logHead + len - (this.ringPos[this.oldest()] as number) > this.log.length)) this.evict()
    const i = this.head
    this.ringDevice[i] = device
    this.ringTs[i] = ts
    this.ringHash[i] = hash
    this.ringPos[i] = this.logHead
    this.ringLen[i] = len
    const log = this.log
    let p = this.logHead % log.length
    for (let k = start; k < start + len; k++) {
      log[p] = bytes[k] as number
      if (++p === log.length) p = 0
    }
    this.logHead += len
    this.head = (i + 1) % this.capacity
    this.count++
    device.set(ts, i)
  }

  private oldest(): number {
    return (this.head - this.count + this.capacity) % this.capacity
  }

  private evict(): void {
    const i = this.oldest()
    const device = this.ringDevice[i]
    const ts = this.ringTs[i] as number
    if (device !== undefined && device.get(ts) === i) device.delete(ts)
    this.ringDevice[i] = undefined
    this.count--
  }

  private text(i: number): string {
    const log = this.log
    const from = (this.ringPos[i] as number) % log.length
    const len = this.ringLen[i] as number
    if (from + len <= log.length) return log.toString('latin1', from, from + len)
    return log.toString('latin1', from) + log.toString('latin1', 0, from + len - log.length)
  }
}
