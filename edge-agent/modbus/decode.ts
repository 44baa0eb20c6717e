import { PlantWattError } from '../../core/errors.ts'
import { widthOf, type DataType, type WordOrder } from './types.ts'

/** How one point turns register words (or a bit) into a number in its canonical unit. */
export interface ValueSpec {
  type: DataType
  wordOrder: WordOrder
  /** value = raw × scale + offset */
  scale: number
  offset: number
  /** `string` only: text → published number. */
  map?: Readonly<Record<string, number>>
}

export type DecodeResult = { ok: true; value: number } | { ok: false; message: string }

/** Checks one register word (a reply is parsed from 16-bit fields, so anything else is a bug or garbage). */
function checkWord(word: number): number {
  if (!Number.isInteger(word) || word < 0 || word > 0xffff) {
    throw new PlantWattError('EDGE_ERR_DECODE', `register word ${word} is not an unsigned 16-bit integer`)
  }
  return word
}

/** Writes `words` into `buf` as big-endian ABCD bytes, undoing `wordOrder`. */
function writeBigEndian(buf: Buffer, words: readonly number[], wordOrder: WordOrder): Buffer {
  const reverse = wordOrder === 'CDAB' || wordOrder === 'DCBA'
  const swapBytes = wordOrder === 'BADC' || wordOrder === 'DCBA'
  const n = words.length
  for (let i = 0; i < n; i++) {
    const word = checkWord(words[reverse ? n - 1 - i : i] as number)
    buf.writeUInt16BE(swapBytes ? ((word & 0xff) << 8) | (word >> 8) : word, i * 2)
  }
  return buf
}

function toBigEndianBytes(words: readonly number[], wordOrder: WordOrder): Buffer {
  return writeBigEndian(Buffer.alloc(words.length * 2), words, wordOrder)
}

/** Scratch for numeric decoding (≤ 4 words): decoding runs for every point of every poll. */
const SCRATCH = Buffer.alloc(8)

/**
 * Decodes the raw value of `type` from exactly `widthOf(type)` register words as they came off the
 * wire (each word big-endian per MB §4.2), combining them in `wordOrder`. Returns NaN or ±Infinity
 * when the registers hold them (floats); 64-bit integers beyond 2^53 lose precision.
 */
export function decodeWords(words: readonly number[], type: Exclude<DataType, 'bit' | 'string'>, wordOrder: WordOrder): number {
  const width = widthOf(type)
  if (words.length !== width) {
    throw new PlantWattError('EDGE_ERR_DECODE', `${type} needs ${width} register(s), got ${words.length}`)
  }
  const buf = writeBigEndian(SCRATCH, words, wordOrder)
  switch (type) {
    case 'uint16':
      return buf.readUInt16BE(0)
    case 'int16':
      return buf.readInt16BE(0)
    case 'uint32':
      return buf.readUInt32BE(0)
    case 'int32':
      return buf.readInt32BE(0)
    case 'float32':
      return buf.readFloatBE(0)
    case 'uint64':
      return Number(buf.readBigUInt64BE(0))
    case 'int64':
      return Number(buf.readBigInt64BE(0))
    case 'float64':
      return buf.readDoubleBE(0)
  }
}

/**
 * Decodes the text held in `words`: two bytes per register, the first character in the high byte
 * (MB §4.2 big-endian); `BADC`/`DCBA` read byte-swapped strings, `CDAB`/`DCBA` reversed word order.
 * Trailing NULs and spaces (the usual padding) are removed.
 */
export function decodeString(words: readonly number[], wordOrder: WordOrder): string {
  const buf = toBigEndianBytes(words, wordOrder)
  return buf.toString('latin1').replace(/[\0 ]+$/, '')
}

/**
 * Decodes one point and applies scale and offset. Anything that is not a finite number (a float
 * register holding NaN/Infinity, e.g. a meter's "no value" marker or garbage) is a failure, so the
 * point is reported bad instead of being published.
 */
export function decodeValue(raw: readonly number[] | readonly boolean[], spec: ValueSpec): DecodeResult {
  let value: number
  try {
    if (spec.type === 'bit') {
      if (raw.length !== 1 || typeof raw[0] !== 'boolean') return { ok: false, message: `bit needs exactly one boolean, got ${JSON.stringify(raw)}` }
      value = raw[0] ? 1 : 0
    } else if (spec.type === 'string') {
      if (!raw.every((w): w is number => typeof w === 'number')) return { ok: false, message: 'string needs register words, got bits' }
      const text = decodeString(raw as readonly number[], spec.wordOrder)
      const mapped = spec.map && Object.hasOwn(spec.map, text) ? spec.map[text] : undefined
      if (mapped === undefined) return { ok: false, message: `string ${JSON.stringify(text)} is not in the point's map` }
      value = mapped
    } else {
      if (!raw.every((w): w is number => typeof w === 'number')) return { ok: false, message: `${spec.type} needs register words, got bits` }
      value = decodeWords(raw as readonly number[], spec.type, spec.wordOrder)
    }
  } catch (err) {
    return { ok: false, message: (err as Error).message }
  }
  if (!Number.isFinite(value)) return { ok: false, message: `${spec.type} registers hold ${value}` }
  const scaled = value * spec.scale + spec.offset
  if (!Number.isFinite(scaled)) return { ok: false, message: `${value} × ${spec.scale} + ${spec.offset} is not finite` }
  return { ok: true, value: scaled }
}
