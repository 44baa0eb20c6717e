/**
 * The upload message, version 1: our own format (`plantwatt-indicators/1`), not a province's. A
 * province with its own specification plugs in an `UploadAdapter` that turns its message into this one
 * (and the uploader a `MessageEncoder` the other way); nothing past the adapter knows the wire shape.
 */
import Type, { type TUnsafe } from 'typebox'
import { Compile } from 'typebox/compile'
import { PlantWattError } from '../core/errors.ts'

export const MESSAGE_FORMAT = 'plantwatt-indicators/1'

/** Largest upload body the province accepts, bytes (a day of 15-minute indicators fits with room). */
export const MAX_UPLOAD_BYTES = 1_048_576
/** Most records in one upload. */
export const MAX_RECORDS = 5000

/** A string enum as JSON Schema `enum` (one schema, a literal union type). */
function StringEnum<const T extends string>(values: readonly T[], options: { description?: string } = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options })
}

const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'an id: [a-z0-9][a-z0-9_-]{0,63}' })

export const INDICATORS = ['energy', 'comprehensive_energy', 'output', 'unit_consumption', 'equipment_online', 'key_process_nc'] as const
export type IndicatorName = (typeof INDICATORS)[number]
export const PERIODS = ['15m', 'day', 'month'] as const
export type PeriodKind = (typeof PERIODS)[number]
export const GRADES = ['benchmark', 'compliant', 'below_baseline', 'ungraded'] as const

export const IndicatorRecordSchema = Type.Object(
  {
    indicator: StringEnum(INDICATORS, {
      description:
        'energy: amount of one carrier; comprehensive_energy: kgce over every carrier; output: product output; unit_consumption: energy per unit of product; equipment_online: share of the period a key device was online (0..1); key_process_nc: 1 when the key process is numerically / automatically controlled, else 0',
    }),
    subject: Type.String({
      pattern: '^(boundary|(process|product|device)/[a-z0-9][a-z0-9_-]{0,63})$',
      description: 'what the value is of: boundary (the enterprise boundary), process/<id> (a key process), product/<id>, device/<id> (a key device)',
    }),
    carrier: Type.Optional(Id),
    period: StringEnum(PERIODS, { description: 'length of the period: 15m, day or month (local calendar of the enterprise)' }),
    start: Type.Integer({ minimum: 0, description: 'period start, epoch ms' }),
    end: Type.Integer({ minimum: 0, description: 'period end (exclusive), epoch ms' }),
    revision: Type.Integer({ minimum: 0, maximum: 1_000_000, description: '0 first; a corrected period is re-sent with the next revision' }),
    value: Type.Number({ description: 'the figure, in `unit`' }),
    unit: Type.String({ minLength: 1, maxLength: 32, description: 'kWh, m3, kgce, t, pcs, kWh/t, kgce/t, share …' }),
    basis: Type.String({ minLength: 1, maxLength: 200, description: 'how it was computed: report, coefficient, standard' }),
    coverage: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'share of the period the source data covers' })),
    process: Type.Optional(Id),
    ncCapable: Type.Optional(Type.Boolean({ description: 'equipment_online: whether the key device is NC-capable' })),
    grade: Type.Optional(StringEnum(GRADES)),
  },
  { additionalProperties: false },
)
export type IndicatorRecord = Type.Static<typeof IndicatorRecordSchema>

export const UploadBodySchema = Type.Object(
  {
    format: Type.Literal(MESSAGE_FORMAT),
    enterprise: Id,
    records: Type.Array(IndicatorRecordSchema, { minItems: 1, maxItems: MAX_RECORDS }),
  },
  { additionalProperties: false, description: `upload message ${MESSAGE_FORMAT}` },
)
export type UploadBody = Type.Static<typeof UploadBodySchema>

export const ReceiptSchema = Type.Object({
  receipt: Type.String({ description: 'receipt id: sha256 of the stored request, hex' }),
  enterprise: Type.String(),
  receivedAt: Type.Integer({ description: 'epoch ms' }),
  stored: Type.Integer({ description: 'records new to the province' }),
  duplicates: Type.Integer({ description: 'records already held with the same revision and value (a retried upload)' }),
})
export type Receipt = Type.Static<typeof ReceiptSchema>

/** Turns a province's own message into ours; the default reads ours. */
export interface UploadAdapter {
  readonly format: string
  decode(json: unknown): unknown
}
export const ownFormat: UploadAdapter = { format: MESSAGE_FORMAT, decode: (json) => json }

const checkBody = Compile(UploadBodySchema)

/** The identity of a record: a new revision of it replaces the older ones in every figure. */
export function recordKey(r: Pick<IndicatorRecord, 'indicator' | 'subject' | 'carrier' | 'period' | 'start'>): string {
  return `${r.indicator}|${r.subject}|${r.carrier ?? ''}|${r.period}|${r.start}`
}

/**
 * Parses and validates an upload body; PROVINCE_ERR_MALFORMED for bytes that are not JSON,
 * PROVINCE_ERR_INVALID naming the first failing fields. Checks the schema cannot: end after start.
 */
export function parseUpload(raw: Buffer, adapter: UploadAdapter = ownFormat): UploadBody {
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  } catch (cause) {
    throw new PlantWattError('PROVINCE_ERR_MALFORMED', 'the body is not JSON', { cause })
  }
  const body = adapter.decode(json)
  if (!checkBody.Check(body)) {
    const problems = [...checkBody.Errors(body)].slice(0, 10).map((e) => ({ path: e.instancePath || '/', message: e.message }))
    throw new PlantWattError('PROVINCE_ERR_INVALID', `invalid upload: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, { details: problems })
  }
  body.records.forEach((r, i) => {
    if (r.end <= r.start)
      throw new PlantWattError('PROVINCE_ERR_INVALID', `invalid upload: /records/${i}/end must be after start`, {
        details: [{ path: `/records/${i}/end`, message: 'end ≤ start' }],
      })
    if (!Number.isFinite(r.value)) throw new PlantWattError('PROVINCE_ERR_INVALID', `invalid upload: /records/${i}/value is not finite`)
  })
  return body
}
