/** The province service's config (`plantwatt province -c province.yaml`, section `province:`). */
import { readFileSync } from 'node:fs'
import Type from 'typebox'
import { PlantWattError } from '../core/errors.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'
import { validateConfig } from '../core/config.ts'

const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })

export const RecognitionSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('smart_factory'), Type.Literal('digital_workshop')]),
    tier: Type.Optional(Type.String({ description: '基础 / 先进 / 卓越 / 领航, or the province tier name' })),
    workshop: Type.Optional(Type.String({ description: 'digital_workshop: which workshop (each counts once)' })),
    document: Type.String({ minLength: 1, description: 'document number of the recognition (文号)' }),
    date: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'date of the recognition, YYYY-MM-DD' }),
  },
  { additionalProperties: false },
)
export type Recognition = Type.Static<typeof RecognitionSchema>

export const EnterpriseEntrySchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1 }),
    city: Type.String({ minLength: 1, description: 'city or prefecture (市州)' }),
    industry: Type.String({ default: 'unspecified' }),
    keyUnitLevel: Type.Union([Type.Literal('national'), Type.Literal('provincial'), Type.Literal('city')], {
      default: 'provincial',
      description: 'key energy-using unit level (重点用能单位: national ten-thousand / provincial / city)',
    }),
    publicKey: Type.Optional(Type.String({ description: 'Ed25519 public key, PEM text' })),
    publicKeyFile: Type.Optional(Type.String({ description: 'file holding the Ed25519 public key (PEM)' })),
    carriers: Type.Array(Id, { default: ['electricity'], description: 'carriers expected at the boundary (for completeness)' }),
    recognitions: Type.Array(RecognitionSchema, { default: [] }),
  },
  { additionalProperties: false },
)
export type EnterpriseEntry = Type.Static<typeof EnterpriseEntrySchema>

export const ProvinceConfigSchema = Type.Object(
  {
    name: Type.String({ default: 'province' }),
    timezone: Type.String({ default: DEFAULT_TIMEZONE }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8443 }),
    tls: Type.Optional(
      Type.Object(
        { certFile: Type.String(), keyFile: Type.String() },
        {
          additionalProperties: false,
          description: 'server certificate and key (PEM); without it the service speaks plain HTTP — for a demo inside one process only',
        },
      ),
    ),
    dataDir: Type.String({ default: 'data/province', description: 'folder of the province store (province.sqlite)' }),
    skewS: Type.Integer({ minimum: 5, default: 300, description: 'allowed clock difference of a signed request, s' }),
    target: Type.Object(
      {
        smartFactoriesAndWorkshops: Type.Integer({ minimum: 1, default: 100, description: '2017 Hubei target: > 100 smart factories / digital workshops' }),
        ncRatePct: Type.Number({ minimum: 0, maximum: 100, default: 70, description: '2017 key-process NC rate target, %' }),
        ncTargetScope: Type.Union([Type.Literal('province'), Type.Literal('enterprise')], {
          default: 'province',
          description: 'province: the NC target is one province-wide figure; enterprise: each enterprise is also held to it',
        }),
        selfAssessNcPct: Type.Number({ default: 70, description: 'self-assessment: NC rate of key processes at or above this, %' }),
        selfAssessOnlinePct: Type.Number({ default: 90, description: 'self-assessment: networking rate at or above this, %' }),
      },
      { additionalProperties: false, default: {} },
    ),
    quality: Type.Object(
      {
        completenessPct: Type.Number({ default: 90, description: 'at least this share of expected 15-minute records, %' }),
        consistencyPct: Type.Number({ default: 5, description: 'daily totals vs the monthly total within this, %' }),
        lateAfterS: Type.Integer({ default: 3600, description: 'a 15-minute record received later than this after its period end is late, s' }),
      },
      { additionalProperties: false, default: {} },
    ),
    enterprises: Type.Array(EnterpriseEntrySchema, { default: [] }),
  },
  { additionalProperties: false },
)
export type ProvinceConfig = Type.Static<typeof ProvinceConfigSchema>
export type ProvinceConfigInput = Partial<ProvinceConfig>

/** Defaults filled, checked whole; PROVINCE_ERR_CONFIG names duplicate ids and missing keys. */
export function resolveProvinceConfig(input: unknown, source = 'province'): Readonly<ProvinceConfig> {
  const cfg = validateConfig(ProvinceConfigSchema, input, source)
  const seen = new Set<string>()
  cfg.enterprises.forEach((e, i) => {
    if (seen.has(e.id)) throw new PlantWattError('PROVINCE_ERR_CONFIG', `${source}: /enterprises/${i}/id: ${e.id} is listed twice`)
    seen.add(e.id)
    if (e.publicKey === undefined && e.publicKeyFile === undefined)
      throw new PlantWattError('PROVINCE_ERR_CONFIG', `${source}: /enterprises/${i}: publicKey or publicKeyFile is required`)
  })
  return cfg
}

/** The PEM text of an enterprise's key (inline or from its file). */
export function publicKeyText(e: EnterpriseEntry): string {
  if (e.publicKey !== undefined) return e.publicKey
  try {
    return readFileSync(e.publicKeyFile ?? '', 'utf8')
  } catch (cause) {
    throw new PlantWattError('PROVINCE_ERR_CONFIG', `enterprise ${e.id}: cannot read publicKeyFile`, { cause })
  }
}
