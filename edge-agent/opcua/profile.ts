import { fileURLToPath } from 'node:url'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { schemaProblems } from '../../core/config.ts'
import { isQuantity, type Quantity } from '../../core/quantities.ts'
import { readProfileFile, shippedProfileNames } from '../profile-file.ts'
import { PROFILE_ERROR_CODES as CODES, profileProblemsError, type ProfileProblem } from '../profile-error.ts'

export const OpcuaProfilePointSchema = Type.Object(
  {
    quantity: Type.String({ description: 'canonical quantity name (core/quantities.ts), unit in the name' }),
    nodeId: Type.String({ minLength: 3, description: 'OPC UA node id, e.g. ns=2;s=Machine.State or ns=3;i=1001' }),
    scale: Type.Number({ default: 1, description: 'value = raw × scale + offset, into the quantity’s unit' }),
    offset: Type.Number({ default: 0, description: 'added after scaling' }),
    map: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'for String (or enumeration text) values: text → published number' })),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

/** An OPC UA profile: which nodes of a machine or PLC become which canonical quantities. */
export const OpcuaProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' }),
    vendor: Type.String({ minLength: 1 }),
    model: Type.String({ minLength: 1 }),
    source: Type.String({ minLength: 1, description: 'where the node ids come from' }),
    description: Type.Optional(Type.String()),
    points: Type.Array(OpcuaProfilePointSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
)

export interface OpcuaPoint {
  readonly quantity: Quantity
  readonly nodeId: string
  readonly scale: number
  readonly offset: number
  readonly map?: Readonly<Record<string, number>>
  readonly description?: string
}

export interface OpcuaProfile {
  readonly name: string
  readonly vendor: string
  readonly model: string
  readonly source: string
  readonly file: string
  readonly points: readonly OpcuaPoint[]
}

const DIR = fileURLToPath(new URL('../profiles/opcua/', import.meta.url))

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Why `nodeId` is not in the string form of OPC UA Part 6 §5.3.1.10 (`[ns=<uint16>;]<type>=<id>`,
 * type i numeric UInt32, s string, g GUID, b ByteString in base64), or undefined when it is.
 * Syntax only: whether the node exists is known only once connected. (`nsu=<uri>;` is not accepted:
 * the driver resolves node ids by namespace index.)
 */
export function nodeIdSyntaxProblem(nodeId: string): string | undefined {
  if (nodeId.startsWith('nsu=')) return 'nsu= (namespace URI) is not supported, use ns=<namespace index>'
  const m = /^(?:ns=([^;]*);)?([a-z]+)=(.*)$/s.exec(nodeId)
  if (!m) return 'expected [ns=<n>;]<i|s|g|b>=<identifier>'
  const [, ns, type, id] = m as unknown as [string, string | undefined, string, string]
  if (ns !== undefined && (!/^\d+$/.test(ns) || Number(ns) > 65_535)) return `namespace index ${JSON.stringify(ns)} is not 0..65535`
  if (id === '') return `empty ${type}= identifier`
  switch (type) {
    case 'i':
      return /^\d+$/.test(id) && Number(id) <= 4_294_967_295 ? undefined : `numeric identifier i=${id} is not 0..4294967295`
    case 's':
      return undefined
    case 'g':
      return GUID_RE.test(id) ? undefined : `g=${id} is not a GUID (8-4-4-4-12 hex digits)`
    case 'b':
      return BASE64_RE.test(id) ? undefined : `b=${id} is not base64`
    default:
      return `unknown identifier type ${type}= (i, s, g or b)`
  }
}

/** Names of the OPC UA profiles shipped in edge-agent/profiles/opcua/. */
export function shippedOpcuaProfiles(): string[] {
  return shippedProfileNames(DIR)
}

/**
 * Validates a parsed OPC UA profile; every problem in one error naming the point and node, each with
 * its own code: EDGE_ERR_PROFILE_SCHEMA, EDGE_ERR_PROFILE_NODE_ID (not node id syntax),
 * EDGE_ERR_PROFILE_INVALID (unknown quantity, quantity mapped twice).
 */
export function validateOpcuaProfile(raw: unknown, file: string): OpcuaProfile {
  const problems: ProfileProblem[] = []
  const defaulted: unknown = Value.Default(OpcuaProfileSchema, Value.Clone(raw ?? {}))
  problems.push(...schemaProblems(OpcuaProfileSchema, defaulted).map((p) => ({ code: CODES.schema, ...p })))
  const fail = (): never => {
    throw profileProblemsError(file, problems)
  }
  if (problems.length > 0) fail()
  const parsed = defaulted as Type.Static<typeof OpcuaProfileSchema>
  const seen = new Map<string, number>()
  parsed.points.forEach((p, i) => {
    if (!isQuantity(p.quantity))
      problems.push({ code: CODES.invalid, path: `/points/${i}/quantity`, message: `unknown quantity ${JSON.stringify(p.quantity)} (node ${p.nodeId})` })
    const nodeIdProblem = nodeIdSyntaxProblem(p.nodeId)
    if (nodeIdProblem)
      problems.push({
        code: CODES.nodeId,
        path: `/points/${i}/nodeId`,
        message: `${p.quantity}: ${JSON.stringify(p.nodeId)} is not a node id: ${nodeIdProblem} (ns=<n>;s=<name> | i=<n> | g=<guid> | b=<base64>)`,
      })
    const previous = seen.get(p.quantity)
    if (previous !== undefined)
      problems.push({
        code: CODES.invalid,
        path: `/points/${i}/quantity`,
        message: `${p.quantity} (${p.nodeId}): quantity already mapped by /points/${previous}`,
      })
    seen.set(p.quantity, i)
  })
  if (problems.length > 0) fail()
  return Object.freeze({
    name: parsed.name,
    vendor: parsed.vendor,
    model: parsed.model,
    source: parsed.source,
    file,
    points: Object.freeze(
      parsed.points.map((p) =>
        Object.freeze({
          quantity: p.quantity as Quantity,
          nodeId: p.nodeId,
          scale: p.scale,
          offset: p.offset,
          ...(p.map === undefined ? {} : { map: Object.freeze({ ...p.map }) }),
          ...(p.description === undefined ? {} : { description: p.description }),
        }),
      ),
    ),
  })
}

/**
 * Loads a shipped OPC UA profile by name (`generic-cnc`) or a YAML file by path. Throws
 * EDGE_ERR_PROFILE_UNKNOWN, _MISSING, _UNREADABLE, _SYNTAX, or the codes of validateOpcuaProfile.
 */
export function loadOpcuaProfile(nameOrPath: string): OpcuaProfile {
  const { file, raw } = readProfileFile(nameOrPath, DIR, { name: 'OPC UA', listing: 'shipped OPC UA profiles' })
  return validateOpcuaProfile(raw, file)
}
