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

/** Default maximum payload size accepted by the broker and ingest (bytes). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024

export interface DecodeOptions {
  /** Reject larger payloads before parsing. Default 256 KiB. */
  maxBytes?: number
}

/**
 * Decodes and validates a `data` payload. Every rejection is a PlantWattError whose code is the
 * dead-letter reason: CORE_ERR_PAYLOAD_SIZE, CORE_ERR_PAYLOAD_JSON, CORE_ERR_PAYLOAD_SCHEMA,
 * CORE_ERR_QUANTITY_UNKNOWN, CORE_ERR_VALUE_RANGE.
 */
export function decodePayload(raw: Buffer | string, options: DecodeOptions = {}): Payload {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
  if (size > maxBytes) throw new PlantWattError('CORE_ERR_PAYLOAD_SIZE', `payload of ${size} bytes exceeds the limit of ${maxBytes}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'))
  } catch (cause) {
    throw new PlantWattError('CORE_ERR_PAYLOAD_JSON', `payload is not JSON: ${(cause as Error).message}`, { cause })
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
