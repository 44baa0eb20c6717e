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
 * scanPayloadLines writes what scanPayload returns straight as InfluxDB line protocol into a byte
 * buffer, so that ingest keeps no per-line strings alive until the batch is written.
 */
import { PlantWattError } from './errors.ts'
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_TS, MIN_TS } from './payload.ts'
import { QUANTITIES } from './quantities.ts'

export interface ScannedPayload {
  seq: number
  /** Sample timestamps, epoch ms, in payload order. */
  ts: number[]
  /** Per sample: its values as a line-protocol field set, `name=number` joined by ",", in payload order; '' when values is {}. Numbers are copied as written in the JSON. */
  fields: string[]
}

/** Filled by scanPayloadLines on success. Reuse one object. */
export interface LinesResult {
  /** Offset in `out` just past the last "\n". */
  end: number
  /** Lines written: one per sample. */
  samples: number
}

const MAX_SAMPLES = 10_000

// Quantity table: names as bytes grouped by length, ranges, interned `name=` prefixes.
const QUANTITY_ENTRIES = Object.entries(QUANTITIES)
const NAME_BYTES: Uint8Array[] = QUANTITY_ENTRIES.map(([name]) => Buffer.from(name, 'latin1'))
const NAME_EQ: string[] = QUANTITY_ENTRIES.map(([name]) => `${name}=`)
const NAME_EQ_BYTES: Uint8Array[] = NAME_EQ.map((s) => Buffer.from(s, 'latin1'))
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
const SEQ_EQ = Buffer.from('seq=')
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
const SPACE = 0x20
const NEWLINE = 0x0a

// The scan functions take and return input byte positions (-1 = undecided) rather than sharing a
// module-level cursor: V8 keeps locals in registers, and nothing is allocated per call. What a scan
// builds depends on `mode`; the outputs live in module state, set by the entry point for one call.
const CHECK = 0
const STRINGS = 1
const LINES = 2
type Mode = typeof CHECK | typeof STRINGS | typeof LINES

const NO_BYTES: Uint8Array = new Uint8Array(0)
const NO_NUMBERS: number[] = []
const NO_STRINGS: string[] = []

/** Positions of the seq digits, set by every scan that reads seq. */
let seqFrom = -1
let seqTo = -1

// STRINGS: the payload as latin1 text, the outputs, and the field set of the values object just read.
let text = ''
let outTs = NO_NUMBERS
let outFields = NO_STRINGS
let lastFields = ''

// LINES: the output buffer and position, the line prefix, lines written, and why a scan stopped.
let lineOut = NO_BYTES
let outPos = 0
let linePrefix = NO_BYTES
let lineCount = 0
/** `out` had no room for the next write. */
let overflow = false
/** samples came before seq: the lines cannot be written in this pass. */
let needSeq = false

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

/** At '{' of a `values` object: its end (past '}'), or -1. Sets lastFields (STRINGS) or writes the field set (LINES). */
function valuesEnd(b: Uint8Array, i: number, n: number, mode: Mode): number {
  if (b[i] !== LBRACE) return -1
  let stamp = (seenStamp[STAMP] as number) + 1
  if (stamp === 0x7fffffff) {
    seenStamp.fill(0)
    stamp = 1
  }
  seenStamp[STAMP] = stamp
  let fields = ''
  i = skipWs(b, i + 1, n)
  if (b[i] === RBRACE) {
    if (mode === STRINGS) lastFields = fields
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
    if (mode === STRINGS) {
      const part = (NAME_EQ[q] as string) + text.substring(i, numEnd)
      fields = fields === '' ? part : `${fields},${part}`
    } else if (mode === LINES) {
      // [","] name "=" number, the number's bytes as written in the JSON.
      const name = NAME_EQ_BYTES[q] as Uint8Array
      const o = lineOut
      let p = outPos
      if (p + (j === 0 ? 0 : 1) + name.length + (numEnd - i) > o.length) {
        overflow = true
        return -1
      }
      if (j !== 0) o[p++] = COMMA
      // set() is a memcpy; a loop over a short name costs more (no subarray for b: it allocates).
      o.set(name, p)
      p += name.length
      for (let k = i; k < numEnd; k++) o[p++] = b[k] as number
      outPos = p
    }
    i = skipWs(b, numEnd, n)
    const c = b[i]
    if (c === RBRACE) {
      if (mode === STRINGS) lastFields = fields
      return i + 1
    }
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
}

/**
 * At '{' of a sample (exactly `ts` and `values`, in either order): its end, or -1. Appends to
 * outTs/outFields (STRINGS) or writes its line (LINES): the prefix and " " first, the fields while
 * values is read, the rest once ts is known too.
 */
function sampleEnd(b: Uint8Array, i: number, n: number, mode: Mode): number {
  if (b[i] !== LBRACE) return -1
  let ts = -1
  let tsFrom = 0
  let tsTo = 0
  let fields = ''
  let fieldsFrom = 0
  let haveValues = false
  if (mode === LINES) {
    const o = lineOut
    const prefix = linePrefix
    let p = outPos
    if (p + prefix.length + 1 > o.length) {
      overflow = true
      return -1
    }
    o.set(prefix, p)
    p += prefix.length
    o[p++] = SPACE
    outPos = fieldsFrom = p
  }
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
      tsFrom = i
      i = tsTo = tsEnd
    } else {
      const valEnd = haveValues ? -1 : valuesEnd(b, i, n, mode)
      if (valEnd < 0) return -1
      haveValues = true
      if (mode === STRINGS) fields = lastFields
      i = valEnd
    }
    i = skipWs(b, i, n)
    const c = b[i]
    if (c === RBRACE) break
    if (c !== COMMA) return -1
    i = skipWs(b, i + 1, n)
  }
  if (ts < 0 || !haveValues) return -1
  if (mode === STRINGS) {
    outTs.push(ts)
    outFields.push(fields)
  } else if (mode === LINES) {
    // [","] "seq=" seq " " ts "\n": both numbers are JSON integers without sign or leading zeros,
    // so their bytes are what String() writes.
    const o = lineOut
    let p = outPos
    const comma = p === fieldsFrom ? 0 : 1
    if (p + comma + SEQ_EQ.length + (seqTo - seqFrom) + 1 + (tsTo - tsFrom) + 1 > o.length) {
      overflow = true
      return -1
    }
    if (comma !== 0) o[p++] = COMMA
    for (let k = 0; k < SEQ_EQ.length; k++) o[p++] = SEQ_EQ[k] as number
    for (let k = seqFrom; k < seqTo; k++) o[p++] = b[k] as number
    o[p++] = SPACE
    for (let k = tsFrom; k < tsTo; k++) o[p++] = b[k] as number
    o[p++] = NEWLINE
    outPos = p
    lineCount++
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
      seqFrom = i
      i = seqTo = seqEnd
    } else {
      // Every line ends in seq: when samples come first, a checking pass has to find it.
      if (mode === LINES && seqFrom < 0) {
        needSeq = true
        return -1
      }
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

function latin1(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return buf.toString('latin1')
}

/** Full scan: undefined when the fast path cannot decide (caller falls back to decodePayload). */
export function scanPayload(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): ScannedPayload | undefined {
  if (bytes.length > maxBytes) return undefined
  const ts: number[] = []
  const fields: string[] = []
  text = latin1(bytes)
  outTs = ts
  outFields = fields
  const seq = scan(bytes, STRINGS)
  text = lastFields = ''
  outTs = NO_NUMBERS
  outFields = NO_STRINGS
  return seq < 0 ? undefined : { seq, ts, fields }
}

/** Validation only, builds no strings/arrays: true ⇒ decodePayload(bytes) would succeed. false ⇒ undecided (not necessarily invalid). */
export function isValidPayloadFast(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): boolean {
  return bytes.length <= maxBytes && scan(bytes, CHECK) >= 0
}

/**
 * Writes the payload's samples as InfluxDB line protocol into `out` from `offset`, one line per
 * sample, each ending in "\n":  <prefix> <fields>,seq=<seq> <ts>\n  (<prefix> seq=<seq> <ts>\n when
 * values is {}). <fields> is scanPayload's fields[i]; <seq> and <ts> are the digits as String()
 * writes them. `prefix` is the measurement and tag set, already escaped, as bytes.
 * Returns 1 on success (result.end = offset after the last "\n", result.samples = lines written);
 * 0 when undecided, exactly when scanPayload returns undefined (out after offset may have been
 * written to); -1 when out has too little room from offset (grow it and retry; never when
 * out.length - offset ≥ maxLinesBytes(bytes.length, prefix.length)). Allocates nothing.
 * Payloads with samples before seq take one extra, checking pass.
 */
export function scanPayloadLines(bytes: Uint8Array, prefix: Uint8Array, out: Uint8Array, offset: number, result: LinesResult, maxBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): 1 | 0 | -1 {
  if (!(offset >= 0 && offset <= out.length) || !Number.isInteger(offset)) {
    throw new PlantWattError('CORE_ERR_LINES_OFFSET', `offset ${offset} is outside the output buffer (0…${out.length})`)
  }
  if (bytes.length > maxBytes) return 0
  lineOut = out
  linePrefix = prefix
  outPos = offset
  lineCount = 0
  overflow = needSeq = false
  seqFrom = -1
  let seq = scan(bytes, LINES)
  if (needSeq && scan(bytes, CHECK) >= 0) {
    // The checking pass accepted the payload and left seqFrom/seqTo at its seq.
    outPos = offset
    lineCount = 0
    seq = scan(bytes, LINES)
  }
  const end = outPos
  const full = overflow
  lineOut = linePrefix = NO_BYTES
  if (seq >= 0) {
    result.end = end
    result.samples = lineCount
    return 1
  }
  return full ? -1 : 0
}

/**
 * An upper bound of the bytes scanPayloadLines writes (or tries to write) for a payload of
 * `payloadBytes` bytes and a prefix of `prefixBytes` bytes. Per line it writes prefixBytes + 7 +
 * seq digits (≤ 16) + ts digits + fields, where the fields and the "," before seq are no longer
 * than the inside of the values object they come from (`"name":` becomes `name=`), and the sample
 * has 19 bytes besides ts digits and that inside: a line is at most prefixBytes + 4 longer than its
 * sample (an unfinished line, at most prefixBytes). Lines are at most one per MIN_SAMPLE_BYTES of
 * payload plus the unfinished one, and at most MAX_SAMPLES.
 */
export function maxLinesBytes(payloadBytes: number, prefixBytes: number): number {
  const lines = Math.min(MAX_SAMPLES, Math.floor(payloadBytes / MIN_SAMPLE_BYTES) + 1)
  return payloadBytes + lines * (prefixBytes + 4)
}
