/**
 * Where each reference table is configured in the PlantWatt config file (`reference:` section, or a
 * file it names under `reference.files`). Error messages that ask the user to configure something
 * name these keys, so "configure one" always says where.
 */
export const REFERENCE_CONFIG_KEYS = {
  tariffs: 'reference.tariffs.tariffs',
  emissionFactors: 'reference.emissionFactors.factors',
  regions: 'reference.emissionFactors.regions',
  coal: 'reference.coal.coefficients',
  benchmarks: 'reference.benchmarks.products',
} as const
