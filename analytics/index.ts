/**
 * PlantWatt analytics: pure energy maths (no I/O). See README.md for the functions, formulas and sources.
 */
export * from './types.ts'
export * from './errors.ts'
export * from './time.ts'
export * from './energy.ts'
export * from './rollup.ts'
export * from './tariff.ts'
export * from './demand.ts'
export * from './coal.ts'
export * from './carriers.ts'
export * from './comprehensive.ts'
export * from './carbon.ts'
export * from './sec.ts'
export * from './baseline.ts'
export * from './power-factor.ts'
export * from './quality.ts'
export * from './reference/index.ts'
