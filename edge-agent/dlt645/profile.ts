import { fileURLToPath } from 'node:url'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { schemaProblems } from '../../core/config.ts'
import { isQuantity, type Quantity } from '../../core/quantities.ts'
import { readProfileFile, shippedProfileNames } from '../profile-file.ts'
import { PROFILE_ERROR_CODES as CODES, profileProblemsError, type ProfileProblem } from '../profile-error.ts'
import type { Dlt645Protocol } from './codec.ts'

export const Dlt645PointSchema = Type.Object(
  {
    quantity: Type.String({ description: 'canonical quantity name (core/quantities.ts), unit in the name' }),
    di: Type.String({
      pattern: '^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{4})$',
      description: 'data identifier as written in the standard, DI3 first: 8 hex digits (2007, e.g. 00010000) or 4 (1997, e.g. 9010)',
    }),
    offset: Type.Integer({
      minimum: 0,
      maximum: 200,
      default: 0,
      description: 'byte offset of the value in the reply data after the identifier (a block such as 0201FF00 holds several values)',
    }),
    bytes: Type.Integer({ minimum: 1, maximum: 8, description: 'BCD bytes of the value' }),
    decimals: Type.Integer({ minimum: 0, maximum: 8, description: 'decimal places of the format, e.g. 2 for XXXXXX.XX' }),
    signed: Type.Boolean({ default: false, description: 'the top bit of the most significant byte is the sign (currents, powers, power factor)' }),
    scale: Type.Number({ default: 1, description: 'value = decoded × scale, into the quantity’s unit' }),
    description: Type.Optional(Type.String({ description: "the standard's or vendor's name of the item" })),
  },
  { additionalProperties: false },
)

/** A DL/T 645 profile: which data identifiers of a meter become which canonical quantities. */
export const Dlt645ProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$', description: 'profile name, e.g. dlt645-generic' }),
    vendor: Type.String({ minLength: 1 }),
    model: Type.String({ minLength: 1 }),
    protocol: Type.Enum(['2007', '1997'], { description: 'DL/T 645-2007 (4-byte identifiers) or DL/T 645-1997 (2-byte identifiers)' }),
    source: Type.String({ minLength: 1, description: 'where the identifiers come from (standard, manual, page)' }),
    description: Type.Optional(Type.String()),
    points: Type.Array(Dlt645PointSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export interface Dlt645Point {
  readonly quantity: Quantity
  /** Upper-case hex, DI3 first. */
  readonly di: string
  readonly offset: number
  readonly bytes: number
  readonly decimals: number
  readonly signed: boolean
  readonly scale: number
  readonly description?: string
}

export interface Dlt645Profile {
  readonly name: string
  readonly vendor: string
  readonly model: string
  readonly protocol: Dlt645Protocol
  readonly source: string
  readonly file: string
  readonly points: readonly Dlt645Point[]
}

const DIR = fileURLToPath(new URL('../profiles/dlt645/', import.meta.url))

/** Names of the DL/T 645 profiles shipped in edge-agent/profiles/dlt645/. */
export function shippedDlt645Profiles(): string[] {
  return shippedProfileNames(DIR)
}

/**
 * Validates a parsed DL/T 645 profile; every problem in one error with its own code: wrong keys or
 * types (EDGE_ERR_PROFILE_SCHEMA), two values over the same bytes of one identifier
 * (EDGE_ERR_PROFILE_OVERLAP), an identifier of the other protocol's length, an unknown or twice
 * mapped quantity (EDGE_ERR_PROFILE_INVALID).
 */
export function validateDlt645Profile(raw: unknown, file: string): Dlt645Profile {
  const defaulted: unknown = Value.Default(Dlt645ProfileSchema, Value.Clone(raw ?? {}))
  const problems: ProfileProblem[] = schemaProblems(Dlt645ProfileSchema, defaulted).map((p) => ({ code: CODES.schema, ...p }))
  if (problems.length > 0) throw profileProblemsError(file, problems)
  const parsed = defaulted as Type.Static<typeof Dlt645ProfileSchema>
  const diLength = parsed.protocol === '2007' ? 8 : 4
  const seen = new Map<string, number>()
  const points: Dlt645Point[] = parsed.points.map((p, i) => {
    const where = `/points/${i}`
    if (!isQuantity(p.quantity))
      problems.push({
        code: CODES.invalid,
        path: `${where}/quantity`,
        message: `unknown quantity ${JSON.stringify(p.quantity)}: use a canonical name from core/quantities.ts`,
      })
    if (p.di.length !== diLength)
      problems.push({
        code: CODES.invalid,
        path: `${where}/di`,
        message: `${p.quantity}: identifier ${p.di} has ${p.di.length} hex digits; DL/T 645-${parsed.protocol} uses ${diLength}`,
      })
    if (p.scale === 0) problems.push({ code: CODES.invalid, path: `${where}/scale`, message: `${p.quantity}: scale 0 would publish a constant` })
    const previous = seen.get(p.quantity)
    if (previous !== undefined)
      problems.push({ code: CODES.invalid, path: `${where}/quantity`, message: `${p.quantity}: quantity already mapped by /points/${previous}` })
    seen.set(p.quantity, i)
    return Object.freeze({
      quantity: p.quantity as Quantity,
      di: p.di.toUpperCase(),
      offset: p.offset,
      bytes: p.bytes,
      decimals: p.decimals,
      signed: p.signed,
      scale: p.scale,
      ...(p.description === undefined ? {} : { description: p.description }),
    })
  })
  points.forEach((p, i) => {
    const other = points.findIndex((q, j) => j < i && q.di === p.di && q.offset < p.offset + p.bytes && p.offset < q.offset + q.bytes)
    if (other >= 0)
      problems.push({
        code: CODES.overlap,
        path: `/points/${i}/offset`,
        message: `${p.quantity} (${p.di} bytes ${p.offset}..${p.offset + p.bytes - 1}) overlaps ${points[other]?.quantity}`,
      })
  })
  if (problems.length > 0) throw profileProblemsError(file, problems)
  return Object.freeze({
    name: parsed.name,
    vendor: parsed.vendor,
    model: parsed.model,
    protocol: parsed.protocol,
    source: parsed.source,
    file,
    points: Object.freeze(points),
  })
}

/** Loads a DL/T 645 profile by shipped name (`dlt645-generic`) or path; throws the EDGE_ERR_PROFILE_* codes. */
export function loadDlt645Profile(nameOrPath: string): Dlt645Profile {
  const { file, raw } = readProfileFile(nameOrPath, DIR, { name: 'DL/T 645', listing: 'shipped DL/T 645 profiles' })
  return validateDlt645Profile(raw, file)
}

/** One request of a poll: a data identifier and the points its reply serves. */
export interface Dlt645Request {
  di: string
  points: Dlt645Point[]
}

/** The requests of one poll, one per distinct identifier, in the profile's order. */
export function planDlt645Requests(profile: Dlt645Profile): Dlt645Request[] {
  const byDi = new Map<string, Dlt645Request>()
  for (const p of profile.points) {
    const r = byDi.get(p.di)
    if (r) r.points.push(p)
    else byDi.set(p.di, { di: p.di, points: [p] })
  }
  return [...byDi.values()]
}
