import { readFileSync } from 'node:fs'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { PlantWattError } from '../core/errors.ts'

const SLOTS_PER_WEEK = 7 * 96

/** The shipped shape file (see data/README.md); only the fields the model reads are required. */
export const LoadShapeSchema = Type.Object({
  name: Type.String(),
  source: Type.Object({ doi: Type.String(), licence: Type.String() }),
  slotMinutes: Type.Literal(15, { description: 'length of a slot, minutes' }),
  peakMeanKw: Type.Number({ exclusiveMinimum: 0, description: 'the slot mean that power 1.0 stands for, kW (source plant)' }),
  power: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
    minItems: SLOTS_PER_WEEK,
    maxItems: SLOTS_PER_WEEK,
    description: 'mean power per slot of the week / peak slot mean; slot 0 = Monday 00:00',
  }),
  powerFactor: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
    minItems: SLOTS_PER_WEEK,
    maxItems: SLOTS_PER_WEEK,
    description: 'aggregate lagging power factor per slot',
  }),
})
export type LoadShape = Type.Static<typeof LoadShapeSchema>

/** Where the shipped steel-plant shape lives, relative to this module. */
export const STEEL_LOAD_SHAPE_URL = new URL('./data/steel-load-shape.json', import.meta.url)

const cache = new Map<string, LoadShape>()

/** Reads and validates a shape file once; throws SIM_ERR_LOAD_SHAPE naming the file and the problem. */
export function loadLoadShape(url: URL = STEEL_LOAD_SHAPE_URL): LoadShape {
  const key = url.href
  const hit = cache.get(key)
  if (hit) return hit
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(url, 'utf8'))
  } catch (cause) {
    throw new PlantWattError('SIM_ERR_LOAD_SHAPE', `${url.pathname}: cannot read load shape: ${(cause as Error).message}`, { cause })
  }
  if (!Value.Check(LoadShapeSchema, raw)) {
    const problems = [...Value.Errors(LoadShapeSchema, raw)].slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`)
    throw new PlantWattError('SIM_ERR_LOAD_SHAPE', `${url.pathname}: invalid load shape: ${problems.join('; ')}`, { details: problems })
  }
  const shape = Object.freeze(raw)
  cache.set(key, shape)
  return shape
}

/**
 * Shape value at a fractional minute of the week (0 = Monday 00:00). Each slot value is the mean
 * over its 15 minutes, so it is placed at the slot's middle and joined linearly to its neighbours,
 * wrapping Sunday night into Monday morning.
 */
export function interpolateSlots(slots: readonly number[], minuteOfWeek: number, slotMinutes = 15): number {
  const n = slots.length
  const x = minuteOfWeek / slotMinutes - 0.5
  const i = Math.floor(x)
  const f = x - i
  const a = slots[((i % n) + n) % n] ?? 0
  const b = slots[(((i + 1) % n) + n) % n] ?? 0
  return a + (b - a) * f
}
