import { analyticsError } from '../errors.ts'
import { startOfLocalDate } from '../time.ts'
import { REFERENCE_CONFIG_KEYS } from './config-keys.ts'
import type { Tariff, TariffVersion } from './schemas.ts'
import { SHIPPED_TARIFFS } from './tariffs.ts'

/** Single-part (电度电价 only) or two-part (plus a demand or capacity charge). */
export type TariffPricing = 'single-part' | 'two-part'

export interface TariffQuery {
  /** Region id of the supply (e.g. 'hubei'). */
  region: string
  /** Supply voltage, kV (10 for a 10 kV incomer, 110 for a 110 kV one). */
  voltageKv: number
  pricing: TariffPricing
  /** Instant (epoch ms) the version must be in force at. */
  at: number
}

export interface TariffInForce {
  tariff: Tariff
  version: TariffVersion
  /** Start of the version (epoch ms): its effectiveFrom, local midnight in the tariff's zone. */
  validFrom: number
  /** Start of the next version (epoch ms); null = still in force. */
  validUntil: number | null
}

/** A tariff's pricing: its `pricing` field, else the kind of its versions ('mixed' when they differ). */
export function tariffPricing(t: Tariff): TariffPricing | 'mixed' {
  if (t.pricing !== undefined) return t.pricing
  const kinds = new Set(t.versions.map((v) => v.kind))
  return kinds.size === 1 ? (t.versions[0] as TariffVersion).kind : 'mixed'
}

/** Whether a tariff row applies at a supply voltage: `min ≤ kV < max`; a tariff without `voltageKv` applies at any voltage. */
export function tariffCoversVoltage(t: Tariff, voltageKv: number): boolean {
  if (!t.voltageKv) return true
  return voltageKv >= t.voltageKv.min && (t.voltageKv.max === undefined || voltageKv < t.voltageKv.max)
}

/** Versions of a tariff with their start instants, oldest first. */
export function versionStarts(t: Tariff): Array<{ version: TariffVersion; start: number }> {
  return t.versions
    .map((version) => {
      const [y, m, d] = version.effectiveFrom.split('-').map(Number) as [number, number, number]
      return { version, start: startOfLocalDate(y, m, d, t.timezone) }
    })
    .sort((a, b) => a.start - b.start)
}

/**
 * The tariff of a supply (region, voltage, pricing) and its version in force at `at`.
 * Among the tariffs of the region and pricing that cover the voltage, one with an explicit
 * `voltageKv` wins over one without; ties go to the one listed last (configured tariffs come after
 * the shipped ones). Throws ANALYTICS_ERR_TARIFF naming the config key when there is no such tariff
 * or no version in force yet.
 */
export function tariffFor(query: TariffQuery, tariffs: readonly Tariff[] = SHIPPED_TARIFFS): TariffInForce {
  const { region, voltageKv, pricing, at } = query
  const candidates = tariffs.filter((t) => t.region === region && tariffPricing(t) === pricing && tariffCoversVoltage(t, voltageKv))
  const explicit = candidates.filter((t) => t.voltageKv !== undefined)
  const pool = explicit.length > 0 ? explicit : candidates
  const tariff = pool[pool.length - 1]
  if (!tariff) {
    const known = tariffs.filter((t) => t.region === region).map((t) => `${t.id} (${tariffPricing(t)}, ${voltageLabel(t)})`)
    throw analyticsError(
      'ANALYTICS_ERR_TARIFF',
      `no ${pricing} tariff for region ${JSON.stringify(region)} at ${voltageKv} kV (known for the region: ${known.join(', ') || 'none'}): configure one under ${REFERENCE_CONFIG_KEYS.tariffs} in the config file`,
      { region, voltageKv, pricing, configKey: REFERENCE_CONFIG_KEYS.tariffs },
    )
  }
  const starts = versionStarts(tariff)
  let i = starts.length - 1
  while (i >= 0 && (starts[i] as { start: number }).start > at) i--
  const found = starts[i]
  if (!found) {
    throw analyticsError(
      'ANALYTICS_ERR_TARIFF',
      `tariff ${tariff.id}: no version in force at ${new Date(at).toISOString()} (first takes effect ${starts[0]?.version.effectiveFrom}): add a version under ${REFERENCE_CONFIG_KEYS.tariffs} (id ${tariff.id}) in the config file`,
      { tariff: tariff.id, at, configKey: REFERENCE_CONFIG_KEYS.tariffs },
    )
  }
  return { tariff, version: found.version, validFrom: found.start, validUntil: starts[i + 1]?.start ?? null }
}

function voltageLabel(t: Tariff): string {
  if (!t.voltageKv) return t.voltage ?? 'any voltage'
  return t.voltageKv.max === undefined ? `≥ ${t.voltageKv.min} kV` : `${t.voltageKv.min}–<${t.voltageKv.max} kV`
}
