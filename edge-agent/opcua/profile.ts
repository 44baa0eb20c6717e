import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { parseConfigText, schemaProblems, type ConfigProblem } from '../../core/config.ts'
import { PlantWattError } from '../../core/errors.ts'
import { isQuantity, type Quantity } from '../../core/quantities.ts'

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
const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/

/** Names of the OPC UA profiles shipped in edge-agent/profiles/opcua/. */
export function shippedOpcuaProfiles(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort()
}

/** Validates a parsed OPC UA profile; every problem in one EDGE_ERR_PROFILE naming the point and node. */
export function validateOpcuaProfile(raw: unknown, file: string): OpcuaProfile {
  const problems: ConfigProblem[] = []
  const defaulted: unknown = Value.Default(OpcuaProfileSchema, Value.Clone(raw ?? {}))
  problems.push(...schemaProblems(OpcuaProfileSchema, defaulted))
  const fail = (): never => {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('EDGE_ERR_PROFILE', `profile ${file}: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  if (problems.length > 0) fail()
  const parsed = defaulted as Type.Static<typeof OpcuaProfileSchema>
  const seen = new Map<string, number>()
  parsed.points.forEach((p, i) => {
    if (!isQuantity(p.quantity)) problems.push({ path: `/points/${i}/quantity`, message: `unknown quantity ${JSON.stringify(p.quantity)} (node ${p.nodeId})` })
    if (!/^(ns=\d+;)?[isgb]=.+$/.test(p.nodeId)) problems.push({ path: `/points/${i}/nodeId`, message: `${p.quantity}: ${JSON.stringify(p.nodeId)} is not a node id (ns=<n>;s=<name> | i=<n> | g=<guid> | b=<base64>)` })
    const previous = seen.get(p.quantity)
    if (previous !== undefined) problems.push({ path: `/points/${i}/quantity`, message: `${p.quantity} (${p.nodeId}): quantity already mapped by /points/${previous}` })
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

/** Loads a shipped OPC UA profile by name (`generic-cnc`) or a YAML file by path. */
export function loadOpcuaProfile(nameOrPath: string): OpcuaProfile {
  const file = NAME_RE.test(nameOrPath) && !/\.ya?ml$/.test(nameOrPath) ? `${DIR}${nameOrPath}.yaml` : nameOrPath
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    const hint = file === nameOrPath ? '' : ` (shipped OPC UA profiles: ${shippedOpcuaProfiles().join(', ')})`
    throw new PlantWattError('EDGE_ERR_PROFILE', `profile ${JSON.stringify(nameOrPath)}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})${hint}`, { cause })
  }
  let raw: unknown
  try {
    raw = parseConfigText(text, file)
  } catch (cause) {
    throw new PlantWattError('EDGE_ERR_PROFILE', (cause as Error).message, { cause })
  }
  return validateOpcuaProfile(raw, file)
}
