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
