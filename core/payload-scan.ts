/**
 * A byte-level fast path for `data` payloads, run before decodePayload: it walks the bytes once,
 * builds no JSON tree and (in isValidPayloadFast) allocates nothing. It answers "valid" only when
 * decodePayload would accept the bytes; anything unusual is "undecided" and the caller falls back
 * to decodePayload, which names the rejection reason.
 *
 * Accepted shape (strict JSON grammar, whitespace wherever JSON allows it, keys in any order):
 *   {"seq": <int 0…MAX_SAFE_INTEGER>, "samples": [ {"ts": <int MIN_TS…MAX_TS>, "values": {<quantity>: <number>, …}}, … ]}
 * with 1…10 000 samples and every value inside its quantity's [min, max] (checked exactly up to 15
 * significant digits, with a 1e-12 relative margin beyond).
 * Declined (undecided): string escapes, non-ASCII keys, duplicate keys (which decodePayload then
 * rejects: CORE_ERR_PAYLOAD_DUPLICATE_KEY), `quality`, exponents,
 * -0, more than 20 significant or 22 fraction digits, a fraction or exponent in seq/ts, any other
 * member or type.
 *
 * scanSamples records where each accepted sample's parts are in the payload (its ts, and the byte
 * range of its `values` object) in a Float64Array: a neutral, already-validated structure that a
 * store encodes in its own format (storage/store.ts SampleBlock), with no per-sample strings.
 */
import { PlantWattError } from './errors.ts'
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_TS, MIN_TS } from './payload.ts'
import { QUANTITIES } from './quantities.ts'

export interface ScannedPayload {
  seq: number
  /** Sample timestamps, epoch ms, in payload order. */
  ts: number[]
  /** Per sample: its values as `name=number` joined by ",", in payload order; '' when values is {}. Numbers are copied as written in the JSON. */
  fields: string[]
}

/** Filled by scanSamples on success. Reuse one object. */
export interface SamplesResult {
  /** The payload's seq. */
  seq: number
  /** Offset in `out` just past the last sample's slots. */
  end: number
  /** Samples recorded. */
  samples: number
}

/**
 * Numbers scanSamples records per sample, in this order: ts (epoch ms), the start and the end (just
 * past its '}') of the sample's `values` object in the payload bytes, and a 32-bit fingerprint of
 * the values (each quantity and number as written, in order; whitespace aside, the same text gives
 * the same fingerprint, and different texts almost always differ).
 */
export const SAMPLE_SLOTS = 4

const MAX_SAMPLES = 10_000

// Quantity table: names as bytes grouped by length, and ranges.
const QUANTITY_ENTRIES = Object.entries(QUANTITIES)
const NAME_BYTES: Uint8Array[] = QUANTITY_ENTRIES.map(([name]) => Buffer.from(name, 'latin1'))
const RANGE_MIN = Float64Array.from(QUANTITY_ENTRIES.map(([, info]) => info.min))
const RANGE_MAX = Float64Array.from(QUANTITY_ENTRIES.map(([, info]) => info.max))
const MAX_NAME_LEN = Math.max(...NAME_BYTES.map((b) => b.length))
/** BY_LENGTH[len] = indices of the names of that length. */
const BY_LENGTH: Int32Array[] = Array.from({ length: MAX_NAME_LEN + 1 }, (_, len) =>
  Int32Array.from(NAME_BYTES.flatMap((b, i) => (b.length === len ? [i] : []))),
)
// Duplicate names inside one `values` object: the stamp of the object that last saw each name;
// the last slot holds the current stamp.
const seenStamp = new Int32Array(NAME_BYTES.length + 1)
const STAMP = NAME_BYTES.length
/**
 * The quantity names of the last values object, in order: a device sends the same names in the
 * same order sample after sample, so the key at position j is first checked against this guess.
 */
const predicted = new Int32Array(NAME_BYTES.length + 1).fill(-1)

const KEY_SEQ = Buffer.from('seq')
const KEY_SAMPLES = Buffer.from('samples')
const KEY_TS = Buffer.from('ts')
const KEY_VALUES = Buffer.from('values')
/** The fewest bytes of a complete sample in an accepted payload: ts has at least as many digits as MIN_TS. */
const MIN_SAMPLE_BYTES = `{"ts":${MIN_TS},"values":{}}`.length

/** 10^0 … 10^22: exactly representable doubles (Clinger's fast path). */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => Number(`1e${k}`))
/** Decimal mantissas with at most this many significant digits are exact doubles (< 2^53). */
const EXACT_DIGITS = 15
/**
 * Longer mantissas (JSON.stringify writes up to 17 digits: 1000 + 3 * 0.03 = 1000.0900000000001)
 * are accumulated in doubles with a relative error below 41 × 2^-53 ≈ 5e-15 (at most 20 digits:
 * 2 roundings each, plus the division). When even this much wider margin keeps the value inside
 * [min, max], the exact decimal is inside; min and max are doubles and rounding is monotonic, so the
 * double JSON.parse makes of it is inside too. Values closer to a limit are declined.
 */
const MARGIN = 1e-12
/** ECMAScript lets Number()/JSON.parse approximate beyond 20 significant digits: never accept those. */
const MAX_SIG_DIGITS = 20

const QUOTE = 0x22
const COMMA = 0x2c
const MINUS = 0x2d
const DOT = 0x2e
const COLON = 0x3a
const ZERO = 0x30
const NINE = 0x39
const LBRACKET = 0x5b
const BACKSLASH = 0x5c
const RBRACKET = 0x5d
const LBRACE = 0x7b
const RBRACE = 0x7d

// The scan functions take and return input byte positions (-1 = undecided) rather than sharing a
// module-level cursor: V8 keeps locals in registers, and nothing is allocated per call. What a scan
// records depends on `mode`; the output lives in module state, set by the entry point for one call.
const CHECK = 0
const SAMPLES = 1
type Mode = typeof CHECK | typeof SAMPLES

const NO_SLOTS: Float64Array = new Float64Array(0)

// SAMPLES: the output array and position, samples recorded, and whether a scan stopped for room.
let slotsOut = NO_SLOTS
let outPos = 0
let sampleCount = 0
/** `out` had no room for the next sample. */
let overflow = false
/** Set by valueEnd on success: the number's decimal mantissa, fraction digits and sign. */
let valueMantissa = 0
let valueFraction = 0
let valueNegative = 0
/** Set by valuesEnd (SAMPLES): the fingerprint of the values object just read. */
let valuesPrint = 0

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function skipWs(b: Uint8Array, i: number, n: number): number {
  while (i < n && isWs(b[i])) i++
  return i
}

/** At the opening '"' of a key: the position of its closing '"', or -1 (escape, no end, not a string). */
function keyEnd(b: Uint8Array, i: number, n: number): number {
  if (b[i] !== QUOTE) return -1
  for (i++; i < n; i++) {
    const c = b[i]
    if (c === QUOTE) return i
    if (c === BACKSLASH) return -1
  }
  return -1
}

function keyIs(b: Uint8Array, start: number, len: number, name: Uint8Array): boolean {
  if (len !== name.length) return false
  for (let i = 0; i < len; i++) if (b[start + i] !== name[i]) return false
  return true
}

/**
 * At the opening '"' of a key: its closing '"' when the key is exactly quantity `idx`, else -1.
 * One pass instead of keyEnd + quantityIndex, for the common case of a predicted name.
 */
function keyEndIf(b: Uint8Array, i: number, n: number, idx: number): number {
  const name = NAME_BYTES[idx] as Uint8Array
  const len = name.length
  if (i + len + 1 >= n || b[i] !== QUOTE || b[i + len + 1] !== QUOTE) return -1
  for (let k = 0; k < len; k++) if (b[i + 1 + k] !== name[k]) return -1
  return i + len + 1
}

/** Index of the quantity named by the key bytes, -1 when none (bytes ≥ 0x80 never match). */
function quantityIndex(b: Uint8Array, start: number, len: number): number {
  if (len > MAX_NAME_LEN) return -1
  const candidates = BY_LENGTH[len] as Int32Array
  const first = b[start]
  for (let c = 0; c < candidates.length; c++) {
    const idx = candidates[c] as number
    const name = NAME_BYTES[idx] as Uint8Array
    if (name[0] !== first) continue
    let k = 1
    while (k < len && b[start + k] === name[k]) k++
    if (k === len) return idx
  }
  return -1
}

/**
 * A JSON integer without sign, fraction or exponent, at most `maxDigits` digits: its end, or -1.
 * What may follow ('.', 'e', …) is left to the caller, which declines anything but whitespace,
 * ',' or '}' after a value.
 */
function uintEnd(b: Uint8Array, i: number, n: number, maxDigits: number): number {
  const start = i
  let c = b[i]
  if (c === ZERO) i++
  else {
    if (c === undefined || c < 0x31 || c > NINE) return -1
    while (i < n && (c = b[i] as number) >= ZERO && c <= NINE) i++
    if (i - start > maxDigits) return -1
  }
  // A digit right after a leading 0 is not JSON.
  c = b[i]
  return c !== undefined && c >= ZERO && c <= NINE ? -1 : i
}

/** The value of the digits start…end (at most 16: exact, or ≥ 2^53 when the true value is). */
function uintValue(b: Uint8Array, start: number, end: number): number {
  let v = 0
  for (let i = start; i < end; i++) v = v * 10 + ((b[i] as number) - ZERO)
  return v
}

/**
 * A value number for quantity `q`: its end when it is a plain `-?int(.frac)?` whose value (as
 * JSON.parse converts it) is certainly inside [min, max], else -1.
 */
function valueEnd(b: Uint8Array, i: number, n: number, q: number): number {
  let negative = false
  if (b[i] === MINUS) {
    negative = true
    i++
  }
  let c = b[i]
  let m = 0
  let sig = 0
  if (c === ZERO) {
    i++
    c = b[i]
    if (c !== undefined && c >= ZERO && c <= NINE) return -1
  } else {
    if (c === undefined || c < 0x31 || c > NINE) return -1
    while (i < n && (c = b[i] as number) >= ZERO && c <= NINE) {
      m = m * 10 + (c - ZERO)
      sig++
      i++
    }
  }
  let frac = 0
  if (i < n && b[i] === DOT) {
    i++
    const fracStart = i
    while (i < n && (c = b[i] as number) >= ZERO && c <= NINE) {
      if (sig > 0 || c !== ZERO) sig++
      m = m * 10 + (c - ZERO)
      i++
    }
    frac = i - fracStart
    if (frac === 0) return -1
  }
  if (sig > MAX_SIG_DIGITS || frac > 22) return -1
  // -0 (any all-zero negative number) parses to -0: rare, and declined rather than reasoned about.
  if (negative && m === 0) return -1
  valueMantissa = m
  valueFraction = frac
  valueNegative = negative ? 1 : 0
  let v = frac === 0 ? m : m / (POW10[frac] as number)
  if (negative) v = -v
  const min = RANGE_MIN[q] as number
  const max = RANGE_MAX[q] as number
  if (sig <= EXACT_DIGITS) {
    // Exact mantissa and power of ten: one correctly rounded division, the very double JSON.parse gives.
    return v >= min && v <= max ? i : -1
  }
  const slack = MARGIN * Math.abs(v)
  return v - slack >= min && v + slack <= max ? i : -1
}

/** FNV-1a step over one 32-bit word. */
const mix = (h: number, word: number): number => Math.imul(h ^ word, 0x01000193)

/** At '{' of a `values` object: its end (past '}'), or -1. Sets valuesPrint (SAMPLES). */
function valuesEnd(b: Uint8Array, i: number, n: number, mode: Mode): number {
  if (b[i] !== LBRACE) return -1
  let stamp = (seenStamp[STAMP] as number) + 1
  if (stamp === 0x7fffffff) {
    seenStamp.fill(0)
    stamp = 1
  }
  seenStamp[STAMP] = stamp
  let print = 0x811c9dc5 | 0
  i = skipWs(b, i + 1, n)
  if (b[i] === RBRACE) {
    valuesPrint = print
    return i + 1
  }
  for (let j = 0; ; j++) {
    // At most one entry per quantity (a repeat is declined below), so j ≤ the number of quantities.
    const guess = predicted[j] as number
    let end = guess >= 0 ? keyEndIf(b, i, n, guess) : -1
    let q = guess
    if (end < 0) {
      end = keyEnd(b, i, n)
      if (end < 0) return -1
      q = quantityIndex(b, i + 1, end - i - 1)
      if (q < 0) return -1
      predicted[j] = q
    }
    if (seenStamp[q] === stamp) return -1
    seenStamp[q] = stamp
    i = skipWs(b, end + 1, n)
    if (b[i] !== COLON) return -1
    i = skipWs(b, i + 1, n)
    const numEnd = valueEnd(b, i, n, q)
    if (numEnd < 0) return -1
    if (mode === SAMPLES) {
      const m = valueMantissa
      print = mix(mix(mix(print, q | (valueFraction << 8) | (valueNegative << 16)), m | 0), (m / 4294967296) | 0)
    }
    i = skipWs(b, numEnd, n)
    const c = b[i]
    if (c === RBRACE) {
      valuesPrint = print
      return i + 1
    }
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
}

/** At '{' of a sample (exactly `ts` and `values`, in either order): its end, or -1. Records it (SAMPLES). */
function sampleEnd(b: Uint8Array, i: number, n: number, mode: Mode): number {
  if (b[i] !== LBRACE) return -1
  let ts = -1
  let valuesFrom = -1
  let valuesTo = -1
  let print = 0
  i = skipWs(b, i + 1, n)
  for (;;) {
    const end = keyEnd(b, i, n)
    if (end < 0) return -1
    const isTs = keyIs(b, i + 1, end - i - 1, KEY_TS)
    if (!isTs && !keyIs(b, i + 1, end - i - 1, KEY_VALUES)) return -1
    i = skipWs(b, end + 1, n)
    if (b[i] !== COLON) return -1
    i = skipWs(b, i + 1, n)
    if (isTs) {
      // MAX_TS has 13 digits: exact in a double.
      const tsEnd = ts >= 0 ? -1 : uintEnd(b, i, n, 13)
      if (tsEnd < 0) return -1
      ts = uintValue(b, i, tsEnd)
      if (ts < MIN_TS || ts > MAX_TS) return -1
      i = tsEnd
    } else {
      const valEnd = valuesFrom >= 0 ? -1 : valuesEnd(b, i, n, mode)
      if (valEnd < 0) return -1
      valuesFrom = i
      print = valuesPrint
      i = valuesTo = valEnd
    }
    i = skipWs(b, i, n)
    const c = b[i]
    if (c === RBRACE) break
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
  if (ts < 0 || valuesFrom < 0) return -1
  if (mode === SAMPLES) {
    const o = slotsOut
    const p = outPos
    if (p + SAMPLE_SLOTS > o.length) {
      overflow = true
      return -1
    }
    o[p] = ts
    o[p + 1] = valuesFrom
    o[p + 2] = valuesTo
    o[p + 3] = print
    outPos = p + SAMPLE_SLOTS
    sampleCount++
  }
  return i + 1
}

/** At '[' of `samples`: its end (past ']'), or -1. */
function samplesEnd(b: Uint8Array, i: number, n: number, mode: Mode): number {
  if (b[i] !== LBRACKET) return -1
  i = skipWs(b, i + 1, n)
  for (let count = 1; ; count++) {
    if (count > MAX_SAMPLES) return -1
    i = sampleEnd(b, i, n, mode)
    if (i < 0) return -1
    i = skipWs(b, i, n)
    const c = b[i]
    if (c === RBRACKET) return i + 1
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
}

/** The whole payload: seq, or -1 when undecided. */
function scan(b: Uint8Array, mode: Mode): number {
  const n = b.length
  let i = skipWs(b, 0, n)
  if (b[i] !== LBRACE) return -1
  let seq = -1
  let haveSamples = false
  i = skipWs(b, i + 1, n)
  for (;;) {
    const end = keyEnd(b, i, n)
    if (end < 0) return -1
    const isSeq = keyIs(b, i + 1, end - i - 1, KEY_SEQ)
    if (!isSeq && !keyIs(b, i + 1, end - i - 1, KEY_SAMPLES)) return -1
    i = skipWs(b, end + 1, n)
    if (b[i] !== COLON) return -1
    i = skipWs(b, i + 1, n)
    if (isSeq) {
      // 16 digits: a value above MAX_SAFE_INTEGER cannot come out at or below it, so the check is exact.
      const seqEnd = seq >= 0 ? -1 : uintEnd(b, i, n, 16)
      if (seqEnd < 0) return -1
      seq = uintValue(b, i, seqEnd)
      if (seq > Number.MAX_SAFE_INTEGER) return -1
      i = seqEnd
    } else {
      const end = haveSamples ? -1 : samplesEnd(b, i, n, mode)
      if (end < 0) return -1
      haveSamples = true
      i = end
    }
    i = skipWs(b, i, n)
    const c = b[i]
    if (c === RBRACE) break
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
  i = skipWs(b, i + 1, n)
  if (i !== n || seq < 0 || !haveSamples) return -1
  return seq
}

/** A values object's members as `name=number` pairs joined by ','; the object is one scanSamples accepted. */
function valuesText(b: Uint8Array, from: number, to: number): string {
  let out = ''
  for (let i = from; i < to; i++) {
    const c = b[i] as number
    if (c === COLON) out += '='
    else if (c !== QUOTE && c !== LBRACE && c !== RBRACE && !isWs(c)) out += String.fromCharCode(c)
  }
  return out
}

/** Full scan: undefined when the fast path cannot decide (caller falls back to decodePayload). */
export function scanPayload(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): ScannedPayload | undefined {
  const out = new Float64Array(maxSampleSlots(bytes.length))
  const result: SamplesResult = { seq: 0, end: 0, samples: 0 }
  if (scanSamples(bytes, out, 0, result, maxBytes) !== 1) return undefined
  const ts: number[] = []
  const fields: string[] = []
  for (let p = 0; p < result.end; p += SAMPLE_SLOTS) {
    ts.push(out[p] as number)
    fields.push(valuesText(bytes, out[p + 1] as number, out[p + 2] as number))
  }
  return { seq: result.seq, ts, fields }
}

/** Validation only, builds no strings/arrays: true ⇒ decodePayload(bytes) would succeed. false ⇒ undecided (not necessarily invalid). */
export function isValidPayloadFast(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): boolean {
  return bytes.length <= maxBytes && scan(bytes, CHECK) >= 0
}

/**
 * Validates the payload as isValidPayloadFast does and records its samples in `out` from `offset`,
 * SAMPLE_SLOTS numbers each, in payload order: ts, the start and end of the sample's `values`
 * object in `bytes`, and the values' fingerprint. Such an object holds only members `"<quantity>": <number>` — a quantity name
 * of core/quantities.ts (no escapes, each at most once) and a plain decimal `-?int(.frac)?` inside
 * the quantity's range — with JSON whitespace between tokens, or no member at all.
 * Returns 1 on success (result.seq, result.end = offset past the last sample, result.samples);
 * 0 when undecided, exactly when scanPayload returns undefined (out after offset may have been
 * written to); -1 when out has too little room from offset (never when out.length - offset ≥
 * maxSampleSlots(bytes.length)). Allocates nothing.
 */
export function scanSamples(
  bytes: Uint8Array,
  out: Float64Array,
  offset: number,
  result: SamplesResult,
  maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES,
): 1 | 0 | -1 {
  if (!(offset >= 0 && offset <= out.length) || !Number.isInteger(offset)) {
    throw new PlantWattError('CORE_ERR_SAMPLES_OFFSET', `offset ${offset} is outside the output array (0…${out.length})`)
  }
  if (bytes.length > maxBytes) return 0
  slotsOut = out
  outPos = offset
  sampleCount = 0
  overflow = false
  const seq = scan(bytes, SAMPLES)
  const end = outPos
  const full = overflow
  slotsOut = NO_SLOTS
  if (seq >= 0) {
    result.seq = seq
    result.end = end
    result.samples = sampleCount
    return 1
  }
  return full ? -1 : 0
}

/**
 * An upper bound of the slots scanSamples records for a payload of `payloadBytes` bytes: samples
 * are at most one per MIN_SAMPLE_BYTES of payload, and at most MAX_SAMPLES.
 */
export function maxSampleSlots(payloadBytes: number): number {
  return SAMPLE_SLOTS * Math.min(MAX_SAMPLES, Math.floor(payloadBytes / MIN_SAMPLE_BYTES))
}
