/**
 * The recent-window conflict check for stores that cannot tell on their own (InfluxDB: a line always
 * replaces the field, and knowing the stored value needs a read). For the newest `capacity` samples
 * it remembers (device, ts) → a fingerprint of the sample's values (the JSON text of its `values`
 * object, without seq) and the text itself, so that a later sample for the same device and ts is
 * compared:
 *
 * - same text (fingerprint equal): a re-delivery, written again (idempotent);
 * - different text: compared field by field as numbers (412.5 and 412.50 are one value). A field
 *   whose value differs is a conflict: the first value is kept, the sample's other, new fields are
 *   still written, and the caller sets the sample aside. Only new fields, or only equal ones: no conflict.
 *
 * Older samples are forgotten (first in, first out): a conflicting sample arriving after `capacity`
 * newer samples overwrites the stored value unseen.
 *
 * Layout, all in typed arrays allocated once: entries in a ring of `capacity` (insertion order, for
 * eviction), an open-addressing hash table (linear probing, at most half full, backward-shift
 * deletion) whose slots hold the key (ts halves, device) next to the entry, so that a probe reads one
 * cache line, and a byte ring holding each entry's text, read only when fingerprints differ. The
 * caller brings the fingerprint (the scanner's, or fieldsHash of the text). Nothing is allocated per
 * sample on the common path.
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
  /** The sample as it came: its values by name. */
  values: Record<string, number>
  fields: FieldConflict[]
  /** The sample's fields the first one lacked: still to be written. */
  added: Record<string, number>
  /** Number of keys in `added`. */
  addedCount: number
}

/** Average bytes of values text budgeted per remembered sample. */
const BYTES_PER_SAMPLE = 128
/** Device numbers remembered before the table of them starts again (numbers are never reused). */
const DEVICE_NUMBERS = 100_000

/** FNV-1a over bytes[start, end). */
export function fieldsHash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
  return h
}

/** The hash of (device, ts) with ts as its two 32-bit halves (ts is a safe integer). */
function keyHash(device: number, tsLo: number, tsHi: number): number {
  let h = Math.imul(tsLo, 0x85ebca6b) ^ Math.imul(tsHi, 0xc2b2ae35) ^ Math.imul(device, 0x27d4eb2f)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h
}

const high = (ts: number): number => (ts / 4294967296) | 0

/** Int32s per hash-table slot: ts low half, ts high half, device, entry index + 1 (0: free). */
const SLOT = 4

export class RecentSamples {
  readonly capacity: number
  /** Set by check() when it returns CONFLICT. */
  conflict: ConflictDetail = { values: {}, fields: [], added: {}, addedCount: 0 }
  private readonly deviceNumbers = new Map<string, number>()
  private nextDevice = 1
  // Entries: a ring, oldest at head - count. device 0 marks an entry replaced by a merged one.
  private readonly entDevice: Int32Array
  private readonly entTs: Float64Array
  private readonly entPrint: Int32Array
  /** Absolute position of the entry's text in the byte ring (entries are in text order). */
  private readonly entPos: Float64Array
  private readonly entLen: Int32Array
  private head = 0
  private count = 0
  /** Hash table, SLOT int32s a slot. */
  private readonly slots: Int32Array
  /** Slots - 1 (a power of two). */
  private readonly mask: number
  private readonly text: Buffer
  private textHead = 0

  /** @param capacity samples remembered (≥ 1). */
  constructor(capacity: number) {
    this.capacity = capacity
    this.entDevice = new Int32Array(capacity)
    this.entTs = new Float64Array(capacity)
    this.entPrint = new Int32Array(capacity)
    this.entPos = new Float64Array(capacity)
    this.entLen = new Int32Array(capacity)
    let size = 2
    while (size < 2 * capacity) size *= 2
    this.slots = new Int32Array(size * SLOT)
    this.mask = size - 1
    this.text = Buffer.alloc(capacity * BYTES_PER_SAMPLE)
  }

  /** The number that stands for a device in check(); look it up once per message. */
  device(key: string): number {
    let n = this.deviceNumbers.get(key)
    if (n === undefined) {
      if (this.deviceNumbers.size >= DEVICE_NUMBERS) this.deviceNumbers.clear()
      n = this.nextDevice++
      if (this.nextDevice > 0x7fffffff) this.nextDevice = 1
      this.deviceNumbers.set(key, n)
    }
    return n
  }

  /** Samples remembered now. */
  get size(): number {
    let n = 0
    for (let s = 3; s < this.slots.length; s += SLOT) if (this.slots[s] !== 0) n++
    return n
  }

  /**
   * Checks the sample (device, ts) whose values object is the JSON text bytes[start, end), with
   * fingerprint `print` (equal texts, equal prints), against the window, and remembers it.
   * NEW_OR_SAME: write it as it is. CONFLICT: see `conflict`.
   */
  check(device: number, ts: number, print: number, bytes: Uint8Array, start: number, end: number): number {
    const e = this.find(device, ts)
    if (e < 0) {
      this.insert(device, ts, print, bytes, start, end)
      return NEW_OR_SAME
    }
    if ((this.entPrint[e] as number) === print) return NEW_OR_SAME
    return this.compare(e, device, ts, bytes, start, end)
  }

  /** Rare: the fingerprints differ, so compare field by field. */
  private compare(e: number, device: number, ts: number, bytes: Uint8Array, start: number, end: number): number {
    const pos = (this.entPos[e] as number) % this.text.length
    const stored = JSON.parse(this.text.toString('latin1', pos, pos + (this.entLen[e] as number))) as Record<string, number>
    const values = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1')) as Record<string, number>
    const fields: FieldConflict[] = []
    const added: Record<string, number> = {}
    let addedCount = 0
    for (const name of Object.keys(values)) {
      const value = values[name] as number
      const old = stored[name]
      if (old === undefined) {
        added[name] = value
        addedCount++
      } else if (old !== value) fields.push({ field: name, stored: old, refused: value })
    }
    if (addedCount > 0) {
      // The first sample and what this one added are what the store holds now.
      const merged = Buffer.from(JSON.stringify({ ...stored, ...added }), 'latin1')
      this.remove(e)
      this.entDevice[e] = 0
      this.insert(device, ts, fieldsHash(merged, 0, merged.length), merged, 0, merged.length)
    }
    if (fields.length === 0) return NEW_OR_SAME
    this.conflict = { values, fields, added, addedCount }
    return CONFLICT
  }

  /** The entry of (device, ts), or -1. */
  private find(device: number, ts: number): number {
    const slots = this.slots
    const mask = this.mask
    const lo = ts | 0
    const hi = high(ts)
    for (let s = keyHash(device, lo, hi) & mask; ; s = (s + 1) & mask) {
      const at = s * SLOT
      const entry = slots[at + 3] as number
      if (entry === 0) return -1
      if (slots[at] === lo && slots[at + 1] === hi && slots[at + 2] === device) return entry - 1
    }
  }

  private insert(device: number, ts: number, print: number, bytes: Uint8Array, start: number, end: number): void {
    const text = this.text
    const len = end - start
    // Longer than the whole text ring (never with real payloads): not remembered.
    if (len > text.length) return
    // A text never wraps: one that would not fit before the end starts at the ring's beginning.
    let at = this.textHead
    const room = text.length - (at % text.length)
    if (len > room) at += room
    // Make room: at most capacity entries, and the oldest text must not be overwritten.
    while (this.count > 0 && (this.count === this.capacity || at + len - (this.entPos[this.oldest()] as number) > text.length)) this.evict()
    const e = this.head
    this.entDevice[e] = device
    this.entTs[e] = ts
    this.entPrint[e] = print
    this.entPos[e] = at
    this.entLen[e] = len
    // A view and a native copy: three times faster than a byte loop for a typical 80-byte text.
    text.set(bytes.subarray(start, end), at % text.length)
    this.textHead = at + len
    this.head = e + 1 === this.capacity ? 0 : e + 1
    this.count++
    const slots = this.slots
    const mask = this.mask
    const lo = ts | 0
    const hi = high(ts)
    let s = keyHash(device, lo, hi) & mask
    while (slots[s * SLOT + 3] !== 0) s = (s + 1) & mask
    const slot = s * SLOT
    slots[slot] = lo
    slots[slot + 1] = hi
    slots[slot + 2] = device
    slots[slot + 3] = e + 1
  }

  private oldest(): number {
    return (this.head - this.count + this.capacity) % this.capacity
  }

  private evict(): void {
    const e = this.oldest()
    if (this.entDevice[e] !== 0) this.remove(e)
    this.count--
  }

  /** Takes entry e out of the hash table (backward-shift deletion keeps every probe chain whole). */
  private remove(e: number): void {
    const slots = this.slots
    const mask = this.mask
    const ts = this.entTs[e] as number
    let s = keyHash(this.entDevice[e] as number, ts | 0, high(ts)) & mask
    while (slots[s * SLOT + 3] !== e + 1) s = (s + 1) & mask
    for (let j = (s + 1) & mask; slots[j * SLOT + 3] !== 0; j = (j + 1) & mask) {
      const at = j * SLOT
      const home = keyHash(slots[at + 2] as number, slots[at] as number, slots[at + 1] as number) & mask
      // The entry at j may move to the hole at s when its home is not in (s, j], cyclically.
      if (s <= j ? home <= s || home > j : home <= s && home > j) {
        const to = s * SLOT
        slots[to] = slots[at] as number
        slots[to + 1] = slots[at + 1] as number
        slots[to + 2] = slots[at + 2] as number
        slots[to + 3] = slots[at + 3] as number
        s = j
      }
    }
    slots[s * SLOT + 3] = 0
  }
}
