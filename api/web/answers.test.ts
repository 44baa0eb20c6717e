import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { validateConfig } from '../../core/config.ts'
import { PlantModelSchema } from '../../core/plant.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { build } from '../app.ts'
import { ANSWERS } from './src/answers.ts'

/** A JSON schema as TypeBox writes it or as the OpenAPI document gives it (OpenAPI 3.0: `nullable`). */
interface Schema {
  type?: string
  nullable?: boolean
  anyOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  additionalProperties?: Schema | boolean
  patternProperties?: Record<string, Schema>
}

/** The schema without null, and whether null is allowed (TypeBox: anyOf with null; OpenAPI 3.0: nullable). */
function split(s: Schema): { schema: Schema; nullable: boolean } {
  if (s.anyOf) {
    const rest = s.anyOf.filter((v) => v.type !== 'null')
    if (rest.length === 1 && rest.length < s.anyOf.length) return { schema: rest[0]!, nullable: true }
  }
  return { schema: s, nullable: s.nullable === true }
}

const valuesOf = (s: Schema): Schema | undefined =>
  s.patternProperties ? Object.values(s.patternProperties)[0] : typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined

/** Where a value the API may send (`api`) would not fit what the UI expects (`ui`): the UI may read less, never other types. */
function misfits(ui: Schema, api: Schema, at: string): string[] {
  const u = split(ui)
  const a = split(api)
  if (a.nullable && !u.nullable) return [`${at}: the API may send null, the UI does not expect it`]
  if (a.schema.anyOf) return a.schema.anyOf.flatMap((v, i) => misfits(u.schema, v, `${at}|${i}`))
  const ut = u.schema.type
  const at_ = a.schema.type
  if (ut !== at_ && !(ut === 'number' && at_ === 'integer')) return [`${at}: the UI expects ${ut}, the API sends ${at_}`]
  if (ut === 'array') return misfits(u.schema.items ?? {}, a.schema.items ?? {}, `${at}[]`)
  if (ut !== 'object') return []
  const out: string[] = []
  const uValues = valuesOf(u.schema)
  if (uValues) {
    const aValues = valuesOf(a.schema)
    out.push(...(aValues ? misfits(uValues, aValues, `${at}{}`) : [`${at}: the UI expects a record, the API sends fixed keys`]))
  }
  for (const [key, sub] of Object.entries(u.schema.properties ?? {})) {
    const there = a.schema.properties?.[key]
    if (!there) out.push(`${at}.${key}: not in the API's answer`)
    else {
      if ((u.schema.required ?? []).includes(key) && !(a.schema.required ?? []).includes(key)) out.push(`${at}.${key}: optional in the API's answer`)
      out.push(...misfits(sub, there, `${at}.${key}`))
    }
  }
  return out
}

let store: TelemetryStore
let app: FastifyInstance
let paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>

beforeAll(async () => {
  const plant = validateConfig(PlantModelSchema, {
    timezone: 'Asia/Shanghai',
    enterprises: [{ id: 'acme', name: 'Acme', sites: [{ id: 'w', lines: [{ id: 'l', devices: [{ id: 'm', kind: 'meter' }] }] }] }],
  })
  store = await createEmbeddedStore({ path: ':memory:' })
  app = await build({ store, plant })
  paths = (await app.inject('/docs/json')).json().paths
})

afterAll(async () => {
  await app?.close()
  await store?.close()
})

describe('the answer types of the web UI (api/web/src/answers.ts)', () => {
  it.each(ANSWERS.map((a) => [`${a.method.toUpperCase()} ${a.path}`, a] as const))(
    '%s: every field the page reads is in the route’s response schema, with a type it handles',
    (_name, a) => {
      const api = paths[a.path]?.[a.method]?.responses['200']?.content?.['application/json']?.schema
      expect(api, `${a.path} documents its answer`).toBeDefined()
      expect(misfits(a.schema as Schema, api!, 'answer')).toEqual([])
    },
  )

  it('finds a field the API does not send, a wrong type and an unexpected null (the check itself)', () => {
    const api: Schema = { type: 'object', required: ['a', 'b'], properties: { a: { type: 'integer' }, b: { type: 'string', nullable: true } } }
    expect(misfits({ type: 'object', required: ['a'], properties: { a: { type: 'number' } } }, api, 'x')).toEqual([])
    expect(misfits({ type: 'object', properties: { c: { type: 'string' } } }, api, 'x')).toEqual(["x.c: not in the API's answer"])
    expect(misfits({ type: 'object', properties: { a: { type: 'string' } } }, api, 'x')).toEqual(['x.a: the UI expects string, the API sends integer'])
    expect(misfits({ type: 'object', properties: { b: { type: 'string' } } }, api, 'x')).toEqual(['x.b: the API may send null, the UI does not expect it'])
    expect(misfits({ type: 'object', properties: { b: { anyOf: [{ type: 'string' }, { type: 'null' }] } } }, api, 'x')).toEqual([])
  })
})
