import { validateConfig } from '../../core/config.ts'
import { COAL_GBT2589_2020 } from './coal-gbt2589-2020.ts'
import { GRID_EMISSION_FACTORS } from './grid-emission-factors.ts'
import { HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV } from './tariff-hubei-2024.ts'
import { SHIPPED_TARIFFS } from './tariffs.ts'
import { BENCHMARKS } from './benchmarks.ts'
import {
  BenchmarkTableSchema,
  CoalTableSchema,
  EmissionFactorTableSchema,
  ReferenceOverridesSchema,
  TariffSchema,
  type BenchmarkTable,
  type CoalTable,
  type EmissionFactorTable,
  type Tariff,
} from './schemas.ts'

export * from './schemas.ts'
export * from './tariff-for.ts'
export { REFERENCE_CONFIG_KEYS } from './config-keys.ts'
export * from './config.ts'
export * from './summary.ts'
export * from './tariff-hubei-periods.ts'
export { SHIPPED_TARIFFS }
export { COAL_GBT2589_2020, GRID_EMISSION_FACTORS, HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV, BENCHMARKS }

/** Every reference table analytics uses, as shipped or as overridden by the user's config. */
export interface ReferenceData {
  coal: CoalTable
  emissionFactors: EmissionFactorTable
  tariffs: Tariff[]
  benchmarks: BenchmarkTable
}

export const DEFAULT_REFERENCE: ReferenceData = {
  coal: COAL_GBT2589_2020,
  emissionFactors: GRID_EMISSION_FACTORS,
  tariffs: SHIPPED_TARIFFS,
  benchmarks: BENCHMARKS,
}

function mergeBy<T>(base: readonly T[], extra: readonly T[], key: (t: T) => string, replace: boolean): T[] {
  const out = new Map<string, T>()
  if (!replace) for (const b of base) out.set(key(b), b)
  for (const e of extra) out.set(key(e), e)
  return [...out.values()]
}

/**
 * The shipped reference data with the user's overrides (parsed YAML, validated against
 * ReferenceOverridesSchema: CORE_ERR_CONFIG lists every bad key). Entries replace the shipped entry
 * with the same key — coal by carrier, factors by region + year, regions by id, tariffs by id,
 * benchmarks by product id — and new keys are added. `replace: true` on a table drops the shipped one.
 * Sources are kept per entry, so a result can always say where its number came from.
 */
export function resolveReference(overrides: unknown = {}, base: ReferenceData = DEFAULT_REFERENCE, source = 'analytics reference overrides'): ReferenceData {
  const o = validateConfig(ReferenceOverridesSchema, overrides, source)
  const coal: CoalTable = o.coal
    ? {
        version: `${base.coal.version}+config`,
        source: `${base.coal.source}; overridden by configuration`,
        coefficients: mergeBy(
          base.coal.coefficients,
          o.coal.coefficients.map((c) => ({ ...c, source: c.source ?? 'configuration' })),
          (c) => c.carrier,
          o.coal.replace,
        ),
      }
    : base.coal
  const ef = o.emissionFactors
  const emissionFactors: EmissionFactorTable = ef
    ? {
        version: `${base.emissionFactors.version}+config`,
        source: `${base.emissionFactors.source}; overridden by configuration`,
        regions: mergeBy(base.emissionFactors.regions, ef.regions, (r) => r.id, ef.replace),
        factors: mergeBy(base.emissionFactors.factors, ef.factors, (f) => `${f.region}/${f.year}`, ef.replace),
      }
    : base.emissionFactors
  const tariffs = o.tariffs ? mergeBy(base.tariffs, o.tariffs.tariffs, (t) => t.id, o.tariffs.replace) : base.tariffs
  const benchmarks: BenchmarkTable = o.benchmarks
    ? {
        version: `${base.benchmarks.version}+config`,
        source: `${base.benchmarks.source}; overridden by configuration`,
        products: mergeBy(base.benchmarks.products, o.benchmarks.products, (p) => p.id, o.benchmarks.replace),
      }
    : base.benchmarks
  // Re-validate the merged tables so a broken shipped table can never pass silently either.
  return {
    coal: validateConfig(CoalTableSchema, coal, `${source}: coal`),
    emissionFactors: validateConfig(EmissionFactorTableSchema, emissionFactors, `${source}: emissionFactors`),
    tariffs: tariffs.map((t, i) => validateConfig(TariffSchema, t, `${source}: tariffs[${i}]`)),
    benchmarks: validateConfig(BenchmarkTableSchema, benchmarks, `${source}: benchmarks`),
  }
}
