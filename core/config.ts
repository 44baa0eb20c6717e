import { readFileSync } from 'node:fs'
import type { TSchema, Static } from 'typebox'
import { Value } from 'typebox/value'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { PlantWattError } from './errors.ts'

/** One problem found in a config: where (a JSON pointer into the file) and what. */
export interface ConfigProblem {
  path: string
  message: string
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child)
  }
  return value
}

/** Turns schema errors into one problem per path, dropping the noise the validator repeats. */
export function schemaProblems(schema: TSchema, value: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const seen = new Set<string>()
  for (const e of Value.Errors(schema, value)) {
    // `additionalProperties: false` is reported twice (boolean schema at the key + the parent);
    // keep the one that names the key.
    if (e.keyword === 'additionalProperties') continue
    const message = e.keyword === 'boolean' ? 'unknown key' : e.message
    const path = e.instancePath || '/'
    const key = `${path}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.push({ path, message })
  }
  return problems
}

/**
 * Validates `raw` against `schema`, fills defaults, and returns a deeply frozen copy. Every problem
 * is reported at once in a single CORE_ERR_CONFIG error whose `details` lists them.
 */
export function validateConfig<S extends TSchema>(schema: S, raw: unknown, source = 'config'): Readonly<Static<S>> {
  const withDefaults = Value.Default(schema, Value.Clone(raw ?? {}))
  const problems = schemaProblems(schema, withDefaults)
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('CORE_ERR_CONFIG', `${source}: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  return deepFreeze(withDefaults as Static<S>)
}

/** Parses YAML text; a syntax error becomes CORE_ERR_CONFIG with line and column. */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return parseYaml(text) ?? {}
  } catch (cause) {
    if (cause instanceof YAMLParseError) {
      const pos = cause.linePos?.[0]
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position'
      throw new PlantWattError('CORE_ERR_CONFIG', `${source}: YAML syntax error at ${where}: ${cause.message.split('\n')[0]}`, {
        cause,
        details: [{ path: '/', message: cause.message }],
      })
    }
    throw cause
  }
}

/** Reads, parses and validates a YAML config file. */
export function loadConfigFile<S extends TSchema>(schema: S, file: string): Readonly<Static<S>> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new PlantWattError('CORE_ERR_CONFIG', `${file}: cannot read config file (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
  return validateConfig(schema, parseConfigText(text, file), file)
}

interface SchemaNode {
  type?: string
  description?: string
  default?: unknown
  properties?: Record<string, SchemaNode>
  anyOf?: SchemaNode[]
  const?: unknown
  items?: SchemaNode
  enum?: unknown[]
}

/**
 * Lists every option of a config schema as `path  (default …)  description` lines, for `--help`.
 * Generated from the schema so the help never drifts from what is validated.
 */
export function describeSchema(schema: TSchema, prefix = ''): string[] {
  const lines: string[] = []
  const walk = (node: SchemaNode, path: string): void => {
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key)
      return
    }
    if (node.anyOf && node.anyOf.every((v) => v.properties)) {
      for (const variant of node.anyOf) walk(variant, path)
      return
    }
    if (node.type === 'array' && node.items?.properties) {
      walk(node.items, `${path}[]`)
      return
    }
    const kind =
      node.const !== undefined ? JSON.stringify(node.const) : node.anyOf ? node.anyOf.map((v) => JSON.stringify(v.const)).join('|') : (node.type ?? '')
    const def = node.default !== undefined && typeof node.default !== 'object' ? ` (default ${JSON.stringify(node.default)})` : ''
    lines.push(`  ${path.padEnd(34)} ${kind}${def}${node.description ? `  ${node.description}` : ''}`)
  }
  walk(schema as SchemaNode, prefix)
  return lines
}
