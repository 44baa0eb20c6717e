import Type from 'typebox'
import { Value } from 'typebox/value'
import { PlantWattError } from '../../core/errors.ts'
import { schemaProblems, type ConfigProblem } from '../../core/config.ts'
import { DEFAULT_REFERENCE, resolveReference, type ReferenceData } from './index.ts'
import { ReferenceOverridesSchema } from './schemas.ts'
import { tariffProblems } from '../tariff.ts'

/**
 * The `reference:` section of the PlantWatt config file: overrides of the shipped reference tables
 * inline (the keys of ReferenceOverridesSchema) and/or `files`, YAML files each holding such
 * overrides. Layers are merged in order — the files as listed, then the inline overrides — each
 * replacing entries by key (carrier; region + year; tariff id; product id).
 */
export const ReferenceConfigSchema = Type.Object(
  {
    files: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'YAML files of reference overrides (same keys as this section, without files), relative to the config file; merged in order before the inline keys',
    }),
    ...ReferenceOverridesSchema.properties,
  },
  { additionalProperties: false, description: 'reference data: tariffs, grid emission factors, coal coefficients, benchmark levels' },
)

export type ReferenceConfig = Type.Static<typeof ReferenceConfigSchema>

/** One layer of overrides and where it came from (a file, or the config file's `reference` keys). */
export interface ReferenceLayer {
  /** Parsed YAML (validated here). */
  overrides: unknown
  /** Shown in errors and in the summary: 'tariffs-2021.yaml', 'plant.yaml: reference'. */
  source: string
}

/**
 * The shipped reference data with every layer merged in order. Every problem of every layer is
 * reported at once in one CORE_ERR_CONFIG whose details name the layer and the path
 * (`tariffs-2021.yaml: /tariffs/tariffs/0/versions/0/pricesPerKwh`).
 */
export function resolveReferenceLayers(layers: readonly ReferenceLayer[], base: ReferenceData = DEFAULT_REFERENCE): ReferenceData {
  const problems = layers.flatMap(referenceLayerProblems)
  if (problems.length > 0) throw referenceError(problems)
  let acc = base
  for (const l of layers) {
    try {
      acc = resolveReference(l.overrides ?? {}, acc, l.source)
    } catch (cause) {
      // The merged tables are validated again (resolveReference): report what a layer broke, with the layer.
      const details = (cause as { details?: ConfigProblem[] }).details ?? [{ path: '/', message: String(cause) }]
      problems.push(...details.map((d) => ({ path: `${l.source}: ${d.path}`, message: d.message })))
    }
  }
  // Periods that overlap or leave hours out, unpriced periods, two-part versions without a demand charge.
  for (const t of acc.tariffs) {
    for (const p of tariffProblems(t))
      problems.push({ path: `tariff ${t.id}, version ${p.version}${p.season ? `, season ${p.season}` : ''}`, message: p.message })
  }
  if (problems.length > 0) throw referenceError(problems)
  return acc
}

/** The schema problems of one layer, each path prefixed with the layer's source. */
export function referenceLayerProblems(layer: ReferenceLayer): ConfigProblem[] {
  const withDefaults = Value.Default(ReferenceOverridesSchema, Value.Clone(layer.overrides ?? {}))
  return schemaProblems(ReferenceOverridesSchema, withDefaults).map((p) => ({ path: `${layer.source}: ${p.path}`, message: p.message }))
}

function referenceError(problems: ConfigProblem[]): PlantWattError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
  return new PlantWattError('CORE_ERR_CONFIG', `reference data: ${problems.length} problem(s)\n${lines}`, { details: problems })
}
