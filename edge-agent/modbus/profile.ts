import { fileURLToPath } from 'node:url'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { schemaProblems } from '../../core/config.ts'
import { isQuantity, type Quantity } from '../../core/quantities.ts'
import {
  DATA_TYPES,
  MAX_ADDRESS,
  MODBUS_FUNCTIONS,
  WORD_ORDERS,
  formatAddress,
  functionFromCode,
  isBitFunction,
  widthOf,
  type DataType,
  type ModbusFunction,
  type WordOrder,
} from './types.ts'
import { profileFile, readProfileFile, shippedProfileNames } from '../profile-file.ts'
import { PROFILE_ERROR_CODES as CODES, profileProblemsError, type ProfileProblem } from '../profile-error.ts'

/** Which transformer ratio a point is multiplied by: CT, PT, or both (powers and energies). */
export const RATIO_KINDS = ['ct', 'pt', 'ctpt'] as const
export type RatioKind = (typeof RATIO_KINDS)[number]

const literals = <T extends string | number>(values: readonly T[]) => values.map((v) => Type.Literal(v))

export const ProfilePointSchema = Type.Object(
  {
    quantity: Type.String({ description: 'canonical quantity name (core/quantities.ts), unit in the name' }),
    function: Type.Union([...literals(MODBUS_FUNCTIONS), ...literals([1, 2, 3, 4] as const)], {
      description: 'table to read: coil (FC1), discrete (FC2), holding (FC3), input (FC4); or the function code',
    }),
    address: Type.Integer({ description: '0-based register or bit address as sent on the wire (YAML hex like 0x34 allowed)' }),
    type: Type.Optional(Type.Union(literals(DATA_TYPES), { description: 'value type; bit for coil/discrete (the default there), required for registers' })),
    wordOrder: Type.Union(literals(WORD_ORDERS), { default: 'ABCD', description: 'byte order of multi-register values relative to big-endian ABCD' }),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: 125, description: 'string only: registers the text spans (2 characters each)' })),
    map: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'string only: text → published number, e.g. { RUN: 2, IDLE: 1 }' })),
    scale: Type.Number({ default: 1, description: 'value = raw × scale + offset, into the quantity’s unit' }),
    offset: Type.Number({ default: 0, description: 'added after scaling, in the quantity’s unit' }),
    description: Type.Optional(Type.String({ description: "the vendor's name for the register" })),
    ratio: Type.Optional(
      Type.Enum(RATIO_KINDS, {
        description: 'multiply by the transformer ratio: ct (currents), pt (voltages), ctpt (powers, energies); needs the matching `ratios` register',
      }),
    ),
  },
  { additionalProperties: false },
)

/** A register holding a transformer ratio (CT or PT), read at connect. */
export const RatioRegisterSchema = Type.Object(
  {
    function: Type.Union([...literals(['holding', 'input'] as const), ...literals([3, 4] as const)], { description: 'holding (FC3) or input (FC4)' }),
    address: Type.Integer({ minimum: 0, maximum: MAX_ADDRESS, description: '0-based register address' }),
    type: Type.Union(literals(DATA_TYPES.filter((t) => t !== 'bit' && t !== 'string')), { description: 'numeric register type' }),
    wordOrder: Type.Union(literals(WORD_ORDERS), { default: 'ABCD' }),
    scale: Type.Number({ default: 1, description: 'ratio = raw × scale' }),
  },
  { additionalProperties: false },
)

/** A Modbus device profile: the register map of one meter model onto canonical quantities. */
export const ModbusProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$', description: 'profile name, e.g. eastron-sdm630' }),
    vendor: Type.String({ minLength: 1, description: 'manufacturer' }),
    model: Type.String({ minLength: 1, description: 'meter model' }),
    source: Type.String({ minLength: 1, description: 'where the register map comes from (manual, version, page)' }),
    description: Type.Optional(Type.String()),
    ratios: Type.Optional(
      Type.Object(
        { pt: Type.Optional(RatioRegisterSchema), ct: Type.Optional(RatioRegisterSchema) },
        { additionalProperties: false, description: 'registers holding the PT (voltage) and CT (current) transformer ratios, for points with `ratio`' },
      ),
    ),
    points: Type.Array(ProfilePointSchema, { minItems: 1, description: 'one entry per published quantity' }),
  },
  { additionalProperties: false },
)

/** A validated point, normalised: function by name, type always set, width known. */
export interface ProfilePoint {
  readonly quantity: Quantity
  readonly function: ModbusFunction
  readonly address: number
  readonly type: DataType
  readonly wordOrder: WordOrder
  readonly scale: number
  readonly offset: number
  /** Registers (or bits, for coil/discrete) the point spans. */
  readonly width: number
  /** `string` only: text → published number. */
  readonly map?: Readonly<Record<string, number>>
  readonly description?: string
  /** Multiply the decoded value by the CT ratio, the PT ratio, or both. */
  readonly ratio?: RatioKind
}

/** A validated ratio register. */
export interface RatioRegister {
  readonly function: 'holding' | 'input'
  readonly address: number
  readonly type: DataType
  readonly wordOrder: WordOrder
  readonly scale: number
  readonly width: number
}

export interface ModbusProfile {
  readonly name: string
  readonly vendor: string
  readonly model: string
  readonly source: string
  readonly description?: string
  /** The file it was loaded from. */
  readonly file: string
  readonly points: readonly ProfilePoint[]
  /** Registers holding the transformer ratios, when the profile has points with `ratio`. */
  readonly ratios?: { readonly pt?: RatioRegister; readonly ct?: RatioRegister }
}

const PROFILE_DIR = fileURLToPath(new URL('../profiles/', import.meta.url))
/** Where `nameOrPath` is read from: a shipped profile by name, otherwise a file path. */
export function resolveProfile(nameOrPath: string): string {
  return profileFile(nameOrPath, PROFILE_DIR)
}

/** Names of the profiles shipped in edge-agent/profiles/. */
export function shippedProfiles(): string[] {
  return shippedProfileNames(PROFILE_DIR)
}

type ParsedProfile = Type.Static<typeof ModbusProfileSchema>
type ParsedPoint = ParsedProfile['points'][number]
type Ratios = { pt?: RatioRegister; ct?: RatioRegister }

/** The profile's ratio registers (pt, then ct), normalised; their problems go to `problems`. */
function ratioRegistersOf(parsed: ParsedProfile, problems: ProfileProblem[]): Ratios {
  const ratios: Ratios = {}
  for (const kind of ['pt', 'ct'] as const) {
    const r = parsed.ratios?.[kind]
    if (r === undefined) continue
    const fn = (typeof r.function === 'number' ? functionFromCode(r.function) : r.function) as 'holding' | 'input'
    const width = widthOf(r.type as DataType)
    if (r.address + width - 1 > MAX_ADDRESS)
      problems.push({
        code: CODES.range,
        path: `/ratios/${kind}/address`,
        message: `${kind.toUpperCase()} ratio register ${r.address} (${r.type}) is outside 0..65535`,
      })
    if (r.scale === 0)
      problems.push({ code: CODES.invalid, path: `/ratios/${kind}/scale`, message: `${kind.toUpperCase()} ratio: scale 0 would make the ratio 0` })
    ratios[kind] = Object.freeze({ function: fn, address: r.address, type: r.type as DataType, wordOrder: r.wordOrder, scale: r.scale, width })
  }
  return ratios
}

/**
 * A point's type (bit by default on coil/discrete), checked against its table and its string-only
 * keys; undefined (with the problem pushed) when the point cannot be used.
 */
function pointTypeOf(p: ParsedPoint, fn: ModbusFunction, where: string, label: string, problems: ProfileProblem[]): DataType | undefined {
  const bits = isBitFunction(fn)
  const type = (p.type ?? (bits ? 'bit' : undefined)) as DataType | undefined
  if (type === undefined) {
    problems.push({
      code: CODES.invalid,
      path: `${where}/type`,
      message: `${label}: a ${fn} register needs a type (${DATA_TYPES.filter((t) => t !== 'bit').join(', ')})`,
    })
    return undefined
  }
  if (bits !== (type === 'bit')) {
    problems.push({
      code: CODES.invalid,
      path: `${where}/type`,
      message: `${label}: type ${type} does not fit the ${fn} table (${bits ? 'bits only' : 'registers only, not bit'})`,
    })
    return undefined
  }
  if (type === 'string' && (p.length === undefined || p.map === undefined)) {
    problems.push({ code: CODES.invalid, path: `${where}/type`, message: `${label}: a string point needs length (registers) and map (text → number)` })
    return undefined
  }
  if (type !== 'string' && (p.length !== undefined || p.map !== undefined)) {
    problems.push({
      code: CODES.invalid,
      path: `${where}/${p.length !== undefined ? 'length' : 'map'}`,
      message: `${label}: length and map are for string points only`,
    })
    return undefined
  }
  return type
}

/**
 * Point `i` validated and normalised, or undefined when it cannot be used; its problems go to
 * `problems`. `seen` maps each quantity to the index of the point that mapped it.
 */
function pointOf(p: ParsedPoint, i: number, ratios: Ratios, seen: Map<string, number>, problems: ProfileProblem[]): ProfilePoint | undefined {
  const fn = typeof p.function === 'number' ? (functionFromCode(p.function) as ModbusFunction) : p.function
  const where = `/points/${i}`
  const label = `${p.quantity} (${formatAddress(fn, Math.max(0, Math.min(MAX_ADDRESS, p.address)))})`
  if (!isQuantity(p.quantity))
    problems.push({
      code: CODES.invalid,
      path: `${where}/quantity`,
      message: `unknown quantity ${JSON.stringify(p.quantity)}: use a canonical name from core/quantities.ts`,
    })
  const bits = isBitFunction(fn)
  const type = pointTypeOf(p, fn, where, label, problems)
  if (type === undefined) return undefined
  const width = widthOf(type, p.length)
  if (p.address < 0 || p.address + width - 1 > MAX_ADDRESS) {
    problems.push({
      code: CODES.range,
      path: `${where}/address`,
      message: `${p.quantity}: address ${p.address} (${type}, ${width} ${bits ? 'bit' : 'register(s)'}) is outside 0..65535`,
    })
    return undefined
  }
  if (p.scale === 0) problems.push({ code: CODES.invalid, path: `${where}/scale`, message: `${label}: scale 0 would publish a constant` })
  const previous = seen.get(p.quantity)
  if (previous !== undefined)
    problems.push({ code: CODES.invalid, path: `${where}/quantity`, message: `${label}: quantity already mapped by /points/${previous}` })
  seen.set(p.quantity, i)
  if (p.ratio !== undefined) {
    const missing = (['pt', 'ct'] as const).filter((k) => p.ratio!.includes(k) && ratios[k] === undefined)
    if (missing.length > 0) {
      problems.push({
        code: CODES.invalid,
        path: `${where}/ratio`,
        message: `${label}: ratio ${p.ratio} needs ${missing.map((k) => `ratios.${k}`).join(' and ')} (the register holding the ${missing.map((k) => k.toUpperCase()).join('/')} ratio)`,
      })
    }
  }
  return Object.freeze({
    quantity: p.quantity as Quantity,
    function: fn,
    address: p.address,
    type,
    wordOrder: p.wordOrder,
    scale: p.scale,
    offset: p.offset,
    width,
    ...(p.map === undefined ? {} : { map: Object.freeze({ ...p.map }) }),
    ...(p.description === undefined ? {} : { description: p.description }),
    ...(p.ratio === undefined ? {} : { ratio: p.ratio }),
  })
}

/** Overlaps: two points reading the same register of the same table; problems go to `problems`. */
function overlapProblems(points: readonly ProfilePoint[], parsed: ParsedProfile, problems: ProfileProblem[]): void {
  for (const fn of MODBUS_FUNCTIONS) {
    const sorted = points.filter((p) => p.function === fn).sort((a, b) => a.address - b.address)
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as ProfilePoint
      const cur = sorted[i] as ProfilePoint
      if (cur.address < prev.address + prev.width) {
        problems.push({
          code: CODES.overlap,
          path: `/points/${parsed.points.findIndex((q) => q.quantity === cur.quantity)}/address`,
          message: `${cur.quantity} (${formatAddress(fn, cur.address)}, ${cur.type}) overlaps ${prev.quantity} (${formatAddress(fn, prev.address)}, ${prev.type})`,
        })
      }
    }
  }
}

/**
 * Validates a parsed profile. Problems name the point (index, quantity and register), each with its
 * own code (profile-error.ts): wrong keys or types (EDGE_ERR_PROFILE_SCHEMA), address outside
 * 0..65535 (EDGE_ERR_PROFILE_RANGE), overlapping registers (EDGE_ERR_PROFILE_OVERLAP); unknown
 * quantity, type not matching the table, a quantity mapped twice (EDGE_ERR_PROFILE_INVALID).
 * All problems are reported in one error (profileProblemsError).
 */
export function validateProfile(raw: unknown, file: string): ModbusProfile {
  const problems: ProfileProblem[] = []
  const fail = (): never => {
    throw profileProblemsError(file, problems)
  }
  const defaulted: unknown = Value.Default(ModbusProfileSchema, Value.Clone(raw ?? {}))
  problems.push(...schemaProblems(ModbusProfileSchema, defaulted).map((p) => ({ code: CODES.schema, ...p })))
  if (problems.length > 0) fail()
  const parsed = defaulted as ParsedProfile

  const ratios = ratioRegistersOf(parsed, problems)
  const points: ProfilePoint[] = []
  const seen = new Map<string, number>()
  parsed.points.forEach((p, i) => {
    const point = pointOf(p, i, ratios, seen, problems)
    if (point !== undefined) points.push(point)
  })
  overlapProblems(points, parsed, problems)
  if (problems.length > 0) fail()
  return Object.freeze({
    name: parsed.name,
    vendor: parsed.vendor,
    model: parsed.model,
    source: parsed.source,
    ...(parsed.description === undefined ? {} : { description: parsed.description }),
    file,
    points: Object.freeze(points),
    ...(ratios.pt === undefined && ratios.ct === undefined ? {} : { ratios: Object.freeze(ratios) }),
  })
}

/**
 * Loads a profile by shipped name (`eastron-sdm630`) or by path to a YAML file, validates it and
 * returns it frozen. Throws, naming the file and each bad point: EDGE_ERR_PROFILE_UNKNOWN (no
 * shipped profile of that name), EDGE_ERR_PROFILE_MISSING (no such file), EDGE_ERR_PROFILE_UNREADABLE,
 * EDGE_ERR_PROFILE_SYNTAX (bad YAML), or the codes of validateProfile.
 */
export function loadProfile(nameOrPath: string): ModbusProfile {
  const { file, raw } = readProfileFile(nameOrPath, PROFILE_DIR, { name: 'Modbus', listing: 'shipped profiles' })
  return validateProfile(raw, file)
}
