import { analyticsError } from './errors.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'
import type { EmissionFactorTable } from './reference/schemas.ts'
import { REFERENCE_CONFIG_KEYS } from './reference/config-keys.ts'

/**
 * Indirect CO2 of purchased electricity: kWh × grid emission factor. The factor is the newest year
 * ≤ the data's year for the region; a region without one falls back to its parent (hubei →
 * central-china → national). Every result names the factor it used.
 */

export interface GridFactorUsed {
  region: string
  year: number
  kgCo2PerKwh: number
  source: string
  verified: boolean
  note?: string
  /** What was asked for: the factor may be older or from a wider region. */
  requested: { region: string; year: number }
  /** Regions tried before this one (each had no factor ≤ the year). */
  fellBackFrom: string[]
}

export interface Co2Result {
  kgCo2: number
  factor: GridFactorUsed
}

export function selectGridFactor(region: string, year: number, table: EmissionFactorTable = DEFAULT_REFERENCE.emissionFactors): GridFactorUsed {
  const tried: string[] = []
  let current: string | undefined = region
  while (current !== undefined) {
    if (tried.includes(current)) throw analyticsError('ANALYTICS_ERR_FACTOR', `region parents form a cycle: ${[...tried, current].join(' → ')}`)
    const r: string = current
    const best = table.factors.filter((f) => f.region === r && f.year <= year).sort((a, b) => b.year - a.year)[0]
    if (best) {
      return {
        region: best.region,
        year: best.year,
        kgCo2PerKwh: best.kgCo2PerKwh,
        source: best.source,
        verified: best.verified,
        ...(best.note === undefined ? {} : { note: best.note }),
        requested: { region, year },
        fellBackFrom: tried,
      }
    }
    tried.push(r)
    current = table.regions.find((x) => x.id === r)?.parent
  }
  throw analyticsError(
    'ANALYTICS_ERR_FACTOR',
    `no grid emission factor for ${region} in or before ${year} (tried ${tried.join(' → ')}): configure one under ${REFERENCE_CONFIG_KEYS.emissionFactors} in the config file`,
    { region, year, tried, configKey: REFERENCE_CONFIG_KEYS.emissionFactors },
  )
}

/** CO2 (kg) of `energyKwh` used in `year` (the data's local year) in `region`. */
export function gridCo2(energyKwh: number, region: string, year: number, table?: EmissionFactorTable): Co2Result {
  const factor = selectGridFactor(region, year, table)
  return { kgCo2: energyKwh * factor.kgCo2PerKwh, factor }
}

/** CO2 of energy spread over several years: each year with its own factor, then summed. */
export function gridCo2ByYear(
  energyByYear: ReadonlyArray<{ year: number; energyKwh: number }>,
  region: string,
  table?: EmissionFactorTable,
): { kgCo2: number; parts: Array<Co2Result & { year: number; energyKwh: number }> } {
  const parts = energyByYear.map((e) => ({ year: e.year, energyKwh: e.energyKwh, ...gridCo2(e.energyKwh, region, e.year, table) }))
  return { kgCo2: parts.reduce((s, p) => s + p.kgCo2, 0), parts }
}
