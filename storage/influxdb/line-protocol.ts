/**
 * InfluxDB line protocol, the one place PlantWatt writes it: `measurement,tag=value,… field=value,… ts`
 * (precision ms). Escaping as @influxdata/influxdb-client's Point does it (keys sorted, empty tag
 * values left out), so the text is the same, without the client. Telemetry fields are floats (a
 * field never changes type); event fields are floats, booleans (T/F) or quoted strings.
 */
import { SAMPLE_SLOTS } from '../../core/payload-scan.ts'
import { validatePoints } from '../query.ts'
import type { SampleBlock, TelemetryPoint } from '../store.ts'

const MEASUREMENT_SPECIAL = /[, \n\r\t]/
const KEY_SPECIAL = /[, =\n\r\t]/
const ESCAPES: Record<string, string> = { ',': '\\,', ' ': '\\ ', '=': '\\=', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
const escapeMeasurement = (s: string): string => (MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \n\r\t]/g, (c) => ESCAPES[c] as string) : s)
const escapeKey = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[, =\n\r\t]/g, (c) => ESCAPES[c] as string) : s)
const quoted = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`

/** Escaped field keys with their "=": the same few names come in every point. */
const fieldKeys = new Map<string, string>()
const FIELD_KEY_CACHE = 10_000

function fieldKey(k: string): string {
  let key = fieldKeys.get(k)
  if (key === undefined) {
    if (fieldKeys.size >= FIELD_KEY_CACHE) fieldKeys.clear()
    key = `${escapeKey(k)}=`
    fieldKeys.set(k, key)
  }
  return key
}

/**
 * "measurement,tag=value,…" (tags sorted, empty values left out, as Point does): the start of a
 * line, before the fields. Throws STORAGE_ERR_INVALID_POINT for a name the store would refuse.
 */
export function linePrefix(measurement: string, tags: Readonly<Record<string, string>>): string {
  validatePoints([{ measurement, tags, fields: { seq: 0 }, ts: 0 }])
  return buildPrefix(measurement, tags)
}

function buildPrefix(measurement: string, tags: Readonly<Record<string, string>>): string {
  let prefix = escapeMeasurement(measurement)
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k]
    if (k && v) prefix += `,${escapeKey(k)}=${escapeKey(v)}`
  }
  return prefix
}

/**
 * One line per point, all fields as floats. Ingest gives the points of one message one shared tags
 * object, so the prefix is built once per tags object within the call (not across calls: a caller
 * may change its object between writes).
 */
export function toLines(points: readonly TelemetryPoint[]): string[] {
  const prefixes = new Map<object, { measurement: string; prefix: string }>()
  let lastTags: object | undefined
  let lastMeasurement = ''
  let lastPrefix = ''
  const lines = new Array<string>(points.length)
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TelemetryPoint
    if (p.tags !== lastTags || p.measurement !== lastMeasurement) {
      let cached = prefixes.get(p.tags)
      if (cached === undefined || cached.measurement !== p.measurement) {
        cached = { measurement: p.measurement, prefix: buildPrefix(p.measurement, p.tags) }
        prefixes.set(p.tags, cached)
      }
      lastTags = p.tags
      lastMeasurement = p.measurement
      lastPrefix = cached.prefix
    }
    const keys = sortedKeys(p.fields)
    let line = lastPrefix
    let sep = ' '
    for (const k of keys) {
      if (!k) continue
      line += sep + fieldKey(k) + String(p.fields[k])
      sep = ','
    }
    lines[i] = `${line} ${p.ts}`
  }
  return lines
}

/** The object's keys, sorted (they usually come sorted: checked before sorting). */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o)
  for (let j = 1; j < keys.length; j++) {
    if ((keys[j - 1] as string) > (keys[j] as string)) return keys.sort()
  }
  return keys
}

/** An event as stored: measurement (its kind), tags, and fields of three types. */
export interface EventLineInput {
  kind: string
  ts: number
  tags: Readonly<Record<string, string>>
  fields: Readonly<Record<string, string | number | boolean>>
}

/** One line for an event: numbers as floats, booleans as T/F, text as quoted strings. */
export function eventLine(e: EventLineInput): string {
  let fields = ''
  for (const k of sortedKeys(e.fields)) {
    if (!k) continue
    const v = e.fields[k] as string | number | boolean
    const text = typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'T' : 'F') : quoted(v)
    fields += `${fields ? ',' : ''}${fieldKey(k)}${text}`
  }
  return `${buildPrefix(e.kind, e.tags)} ${fields} ${String(e.ts)}`
}

// ---- sample blocks ---------------------------------------------------------------------------

const QUOTE = 0x22
const COLON = 0x3a
const LBRACE = 0x7b
const RBRACE = 0x7d
const COMMA = 0x2c
const SPACE = 0x20
const NEWLINE = 0x0a
const EQUALS = 0x3d
const SEQ_EQ = Buffer.from('seq=')
/**
 * A validated values object's bytes as line protocol: ':' becomes '=', quotes, braces and JSON
 * whitespace (all ≤ 0x20) go (0), everything else (names, numbers, ',') is copied.
 */
const FIELD_BYTE = Uint8Array.from({ length: 256 }, (_, c) => (c === COLON ? EQUALS : c <= SPACE || c === QUOTE || c === LBRACE || c === RBRACE ? 0 : c))
/** Digits of the longest ts or seq written (safe integers: at most 16). */
const MAX_DIGITS = 16

/** Line prefixes as bytes, by the blocks' tags object (a device's blocks share one). */
const blockPrefixes = new WeakMap<object, { measurement: string; bytes: Buffer }>()

function blockPrefix(block: SampleBlock): Buffer {
  let cached = blockPrefixes.get(block.tags)
  if (cached === undefined || cached.measurement !== block.measurement) {
    cached = { measurement: block.measurement, bytes: Buffer.from(linePrefix(block.measurement, block.tags)) }
    blockPrefixes.set(block.tags, cached)
  }
  return cached.bytes
}

/** Writes the decimal digits of a non-negative safe integer at p; returns the end. */
function writeDigits(out: Uint8Array, p: number, v: number): number {
  // Two halves below 2^31, so that the digits come from integer arithmetic.
  const hi = Math.floor(v / 1e8)
  let lo = (v - hi * 1e8) | 0
  let end = p
  if (hi > 0) {
    end = writeInt(out, p, hi)
    for (let q = end + 7; q >= end; q--) {
      out[q] = 0x30 + (lo % 10)
      lo = (lo / 10) | 0
    }
    return end + 8
  }
  return writeInt(out, p, lo)
}

/** Digits of 0 ≤ v < 2^31. */
function writeInt(out: Uint8Array, p: number, v: number): number {
  let n = 1
  for (let x = v; x >= 10; x = (x / 10) | 0) n++
  let x = v
  for (let q = p + n - 1; q >= p; q--) {
    out[q] = 0x30 + (x % 10)
    x = (x / 10) | 0
  }
  return p + n
}

const NO_BYTES = Buffer.alloc(0)

/** An output buffer encodeBlocks writes into and grows; what it returns is a view of it, valid until the next call with it. */
export interface EncodeBuffer {
  bytes: Buffer
}

/** Samples in the blocks: what a request of WRITE_BATCH_LINES lines is counted in. */
export function blockLines(blocks: readonly SampleBlock[]): number {
  let n = 0
  for (const b of blocks) n += b.samples
  return n
}

/**
 * The blocks as line protocol, one line per sample: `<prefix> <fields>,seq=<seq> <ts>\n`, the
 * fields copied from the validated values object as written (`"name": 1.50` → `name=1.50`: the
 * names are quantity names, which need no escaping; the numbers are plain decimals, floats to
 * InfluxDB). Writes into `into` (grown as needed) and returns the view of what it wrote.
 */
export function encodeBlocks(blocks: readonly SampleBlock[], into: EncodeBuffer = { bytes: NO_BYTES }): Uint8Array {
  // The values objects lie apart inside their payload: together no longer than it.
  let bound = 0
  for (const b of blocks) bound += b.samples * (blockPrefix(b).length + 1 + SEQ_EQ.length + 2 * MAX_DIGITS + 3) + b.json.length
  // Fresh memory costs page faults (about a sixth of the encoding): reuse the caller's buffer.
  if (into.bytes.length < bound) into.bytes = Buffer.allocUnsafe(bound)
  const out = into.bytes
  let p = 0
  for (const b of blocks) {
    const prefix = blockPrefix(b)
    const json = b.json
    const slots = b.slots
    const seq = b.seq
    for (let k = 0, at = b.from; k < b.samples; k++, at += SAMPLE_SLOTS) {
      out.set(prefix, p)
      p += prefix.length
      out[p++] = SPACE
      const fieldsStart = p
      // Inside the braces only; positions as int32 (a payload is far below 2 GiB), the faster loop.
      const to = ((slots[at + 2] as number) | 0) - 1
      for (let i = ((slots[at + 1] as number) | 0) + 1; i < to; i++) {
        const c = FIELD_BYTE[json[i] as number] as number
        if (c !== 0) out[p++] = c
      }
      if (p !== fieldsStart) out[p++] = COMMA
      // "seq="
      out[p] = 0x73
      out[p + 1] = 0x65
      out[p + 2] = 0x71
      out[p + 3] = EQUALS
      p = writeDigits(out, p + 4, seq)
      out[p++] = SPACE
      p = writeDigits(out, p, slots[at] as number)
      out[p++] = NEWLINE
    }
  }
  return out.subarray(0, p)
}
