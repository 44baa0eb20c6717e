import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { PlantWattError } from './errors.ts'
import { isQuantity, QUANTITIES } from './quantities.ts'

export const QUALITIES = ['good', 'uncertain', 'bad'] as const
export type Quality = (typeof QUALITIES)[number]

/** Earliest and latest accepted sample timestamps (epoch ms): 2000-01-01 … 2100-01-01. */
export const MIN_TS = 946_684_800_000
export const MAX_TS = 4_102_444_800_000

export const SampleSchema = Type.Object(
  {
    ts: Type.Integer({ minimum: MIN_TS, maximum: MAX_TS, description: 'epoch milliseconds at the edge' }),
    values: Type.Record(Type.String(), Type.Number(), { description: 'canonical quantity → value' }),
    quality: Type.Optional(Type.Record(Type.String(), Type.Enum(QUALITIES))),
  },
  { additionalProperties: false },
)

export const PayloadSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 0, description: 'increases by one per message per device' }),
    samples: Type.Array(SampleSchema, { minItems: 1, maxItems: 10_000 }),
  },
  { additionalProperties: false },
)

export type Sample = Type.Static<typeof SampleSchema>
export type Payload = Type.Static<typeof PayloadSchema>

const checkPayload = Compile(PayloadSchema)

/** Quantity → [min, max], for the fast check. */
const RANGES = new Map<string, readonly [number, number]>(Object.entries(QUANTITIES).map(([name, info]) => [name, [info.min, info.max]]))
const QUALITY_SET = new Set<unknown>(QUALITIES)

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * The whole check (schema, quantity names, physical ranges) written out by hand for the common
 * case, without the allocations of a generic schema walk: true only when decodePayload's full
 * check would pass. On false the full check runs and names the problem.
 */
function fastCheck(v: unknown): v is Payload {
  if (!isPlainObject(v)) return false
  let keys = 0
  for (const _ in v) keys++
  const seq = v.seq
  const samples = v.samples
  if (keys !== 2 || typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) return false
  if (!Array.isArray(samples) || samples.length < 1 || samples.length > 10_000) return false
  for (let i = 0; i < samples.length; i++) {
    const s: unknown = samples[i]
    if (!isPlainObject(s)) return false
    const ts = s.ts
    const values = s.values
    const quality = s.quality
    let sampleKeys = 0
    for (const _ in s) sampleKeys++
    if (sampleKeys !== (quality === undefined ? 2 : 3) || typeof ts !== 'number' || !Number.isInteger(ts) || ts < MIN_TS || ts > MAX_TS) return false
    if (!isPlainObject(values)) return false
    for (const name in values) {
      const value = values[name]
      const range = RANGES.get(name)
      if (range === undefined || typeof value !== 'number' || !(value >= range[0] && value <= range[1])) return false
    }
    if (quality !== undefined) {
      if (!isPlainObject(quality)) return false
      for (const name in quality) if (!RANGES.has(name) || !QUALITY_SET.has(quality[name])) return false
    }
  }
  return true
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
/** Above this many keys an object's keys are compared through a Set instead of pairwise. */
const PAIRWISE_KEYS = 8

/** One open object or array while walking JSON text; reused from call to call (FRAMES[depth]). */
interface Frame {
  isArray: boolean
  /** Object: start, end of each key read so far (inside the quotes). */
  keys: number[]
  set: Set<string> | undefined
  /** Object: the current key's start and end. Array: the current element's index in `index`. */
  keyStart: number
  keyEnd: number
  index: number
}
const FRAMES: Frame[] = []
/** Frames kept for the next call: a payload is 4 levels deep; a hostile one must not leave 100k frames behind. */
const KEPT_FRAMES = 16

function keyText(text: string, start: number, end: number): string {
  const raw = text.slice(start, end)
  // Escapes spell the same key more than one way ("a" and "\\u0061"): compare decoded keys.
  return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw
}

function sameKey(text: string, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  const len = aEnd - aStart
  if (len === bEnd - bStart) {
    let i = 0
    while (i < len && text.charCodeAt(aStart + i) === text.charCodeAt(bStart + i)) i++
    if (i === len) return true
  }
  // Different characters are still the same key when an escape spells one of them.
  let escaped = false
  for (let i = aStart; i < aEnd && !escaped; i++) escaped = text.charCodeAt(i) === BACKSLASH
  for (let i = bStart; i < bEnd && !escaped; i++) escaped = text.charCodeAt(i) === BACKSLASH
  return escaped && keyText(text, aStart, aEnd) === keyText(text, bStart, bEnd)
}

function pathOf(text: string, frames: readonly Frame[], depth: number, key: string): string {
  let path = ''
  for (let d = 0; d < depth; d++) {
    const f = frames[d] as Frame
    path += f.isArray ? `[${f.index}]` : `${path ? '.' : ''}${keyText(text, f.keyStart, f.keyEnd)}`
  }
  return `${path}${path ? '.' : ''}${key}`
}

/**
 * The path of the first key that appears twice in one object of `text` (e.g.
 * `samples[0].values.gas_m3`), or undefined. JSON.parse keeps the last of duplicate keys without a
 * word (RFC 8259 §4 leaves duplicates to the implementation), so a payload could say one thing to a
 * reader that keeps the first and another to us. `text` must be valid JSON (JSON.parse accepted it):
 * the walk only follows strings and brackets. One pass; objects of up to 8 keys compare in place.
 */
export function findDuplicateKey(text: string): string | undefined {
  let depth = 0
  let top: Frame | undefined
  let expectKey = false
  let frames = FRAMES
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i + 1
      for (i = start; i < n; i++) {
        const d = text.charCodeAt(i)
        if (d === BACKSLASH) i++
        else if (d === QUOTE) break
      }
      if (!expectKey || top === undefined) continue
      expectKey = false
      const keys = top.keys
      if (top.set === undefined && keys.length < 2 * PAIRWISE_KEYS) {
        for (let k = 0; k < keys.length; k += 2) {
          if (sameKey(text, keys[k] as number, keys[k + 1] as number, start, i)) return pathOf(text, frames, depth - 1, keyText(text, start, i))
        }
      } else {
        if (top.set === undefined) {
          top.set = new Set<string>()
          for (let k = 0; k < keys.length; k += 2) top.set.add(keyText(text, keys[k] as number, keys[k + 1] as number))
        }
        const name = keyText(text, start, i)
        if (top.set.has(name)) return pathOf(text, frames, depth - 1, name)
        top.set.add(name)
      }
      keys.push(start, i)
      top.keyStart = start
      top.keyEnd = i
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === KEPT_FRAMES && frames === FRAMES) frames = FRAMES.slice(0, KEPT_FRAMES)
      top = frames[depth]
      if (top === undefined) {
        top = { isArray: false, keys: [], set: undefined, keyStart: 0, keyEnd: 0, index: 0 }
        frames[depth] = top
      }
      depth++
      top.isArray = c === 0x5b
      top.keys.length = 0
      top.set = undefined
      top.index = 0
      expectKey = !top.isArray
    } else if (c === 0x2c) {
      if (top === undefined) continue
      if (top.isArray) top.index++
      else expectKey = true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
      top = depth > 0 ? frames[depth - 1] : undefined
      expectKey = false
    }
  }
  return undefined
}

/** Keys in a parsed JSON value, or -1 when it is nested deeper than `MAX_COUNT_DEPTH` (then ask findDuplicateKey). */
function countKeys(v: unknown, depth: number): number {
  if (typeof v !== 'object' || v === null) return 0
  if (depth > MAX_COUNT_DEPTH) return -1
  let n = 0
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const k = countKeys(v[i], depth + 1)
      if (k < 0) return -1
      n += k
    }
    return n
  }
  const o = v as Record<string, unknown>
  for (const key in o) {
    const k = countKeys(o[key], depth + 1)
    if (k < 0) return -1
    n += 1 + k
  }
  return n
}
const MAX_COUNT_DEPTH = 16

/** ':' characters in the text: every key is followed by one, and strings may hold more. */
function countColons(text: string): number {
  let n = 0
  for (let i = text.indexOf(':'); i >= 0; i = text.indexOf(':', i + 1)) n++
  return n
}

/**
 * Whether parsed JSON lost keys to duplicates, cheaply: JSON.parse keeps one key of duplicates, so
 * the parsed tree has fewer keys than the text has colons after keys. Equal counts prove there is
 * none (about a fifth of JSON.parse's time); otherwise (a duplicate, or a ':' inside a string) the
 * walk over the text decides and names the key.
 */
function duplicateKeyOf(text: string, parsed: unknown): string | undefined {
  return countKeys(parsed, 0) === countColons(text) ? undefined : findDuplicateKey(text)
}

/** Default maximum payload size accepted by the broker and ingest (bytes). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024

export interface DecodeOptions {
  /** Reject larger payloads before parsing. Default 256 KiB. */
  maxBytes?: number
}

/**
 * Decodes and validates a `data` payload. Every rejection is a PlantWattError whose code is the
 * dead-letter reason: CORE_ERR_PAYLOAD_SIZE, CORE_ERR_PAYLOAD_JSON, CORE_ERR_PAYLOAD_DUPLICATE_KEY
 * (details.path names the key), CORE_ERR_PAYLOAD_SCHEMA, CORE_ERR_QUANTITY_UNKNOWN, CORE_ERR_VALUE_RANGE.
 */
export function decodePayload(raw: Buffer | string, options: DecodeOptions = {}): Payload {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
  if (size > maxBytes) throw new PlantWattError('CORE_ERR_PAYLOAD_SIZE', `payload of ${size} bytes exceeds the limit of ${maxBytes}`)
  const text = typeof raw === 'string' ? raw : raw.toString('utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new PlantWattError('CORE_ERR_PAYLOAD_JSON', `payload is not JSON: ${(cause as Error).message}`, { cause })
  }
  const duplicate = duplicateKeyOf(text, parsed)
  if (duplicate !== undefined) {
    throw new PlantWattError('CORE_ERR_PAYLOAD_DUPLICATE_KEY', `payload has the key ${duplicate} more than once (JSON.parse would keep only the last)`, {
      details: { path: duplicate },
    })
  }
  if (fastCheck(parsed)) return parsed
  if (!checkPayload.Check(parsed)) {
    const problems = [...checkPayload.Errors(parsed)].slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`)
    throw new PlantWattError('CORE_ERR_PAYLOAD_SCHEMA', `payload does not match the schema: ${problems.join('; ')}`, { details: problems })
  }
  const payload = parsed as Payload
  for (const [i, sample] of payload.samples.entries()) {
    for (const [name, value] of Object.entries(sample.values)) {
      if (!isQuantity(name)) {
        throw new PlantWattError('CORE_ERR_QUANTITY_UNKNOWN', `samples[${i}].values: unknown quantity ${JSON.stringify(name)}`)
      }
      const info = QUANTITIES[name]
      if (!Number.isFinite(value) || value < info.min || value > info.max) {
        throw new PlantWattError('CORE_ERR_VALUE_RANGE', `samples[${i}].values.${name} = ${value} is outside ${info.min}…${info.max} ${info.unit}`)
      }
    }
    for (const name of Object.keys(sample.quality ?? {})) {
      if (!isQuantity(name)) throw new PlantWattError('CORE_ERR_QUANTITY_UNKNOWN', `samples[${i}].quality: unknown quantity ${JSON.stringify(name)}`)
    }
  }
  return payload
}

/** Encodes a payload (the edge agent's side); no validation beyond JSON. */
export function encodePayload(payload: Payload): Buffer {
  return Buffer.from(JSON.stringify(payload))
}
