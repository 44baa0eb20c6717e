import { CARRIERS } from './carriers.ts'
import { analyticsError } from './errors.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'
import type { CoalTable } from './reference/schemas.ts'

/** Coal equivalent (kgce) per GB/T 2589-2020: amount × coefficient of its carrier. */

export interface CoalFactorUsed {
  carrier: string
  unit: string
  kgcePerUnit: number
  tableVersion: string
  source: string
}

export interface KgceResult {
  kgce: number
  factor: CoalFactorUsed
}

/**
 * Canonical counters (core/quantities.ts) that meter an energy carrier, with the carrier and the unit
 * scale (steam_t and coal_t count tonnes, their coefficients are per kg: 1000): every counter of
 * analytics/carriers.ts, imports and exports alike (energy_export_kwh is electricity).
 */
export const QUANTITY_CARRIERS: Readonly<Record<string, { carrier: string; toCarrierUnit: number }>> = Object.fromEntries(
  CARRIERS.flatMap((c) => c.meters.map((m) => [m.quantity, { carrier: c.id, toCarrierUnit: m.toCarrierUnit }])),
)

/** The coefficient of a carrier (ANALYTICS_ERR_FACTOR when the table has none). */
export function coalFactor(carrier: string, table: CoalTable = DEFAULT_REFERENCE.coal): CoalFactorUsed {
  const c = table.coefficients.find((x) => x.carrier === carrier)
  if (!c) {
    throw analyticsError(
      'ANALYTICS_ERR_FACTOR',
      `no coal-equivalent coefficient for carrier ${JSON.stringify(carrier)} in ${table.version}: configure it (known: ${table.coefficients.map((x) => x.carrier).join(', ')})`,
    )
  }
  return { carrier: c.carrier, unit: c.unit, kgcePerUnit: c.kgcePerUnit, tableVersion: table.version, source: c.source ?? table.source }
}

/** kgce of `amount` (in the coefficient's unit: kWh, m3, kg, MJ) of a carrier. */
export function toKgce(amount: number, carrier: string, table?: CoalTable): KgceResult {
  const factor = coalFactor(carrier, table)
  return { kgce: amount * factor.kgcePerUnit, factor }
}

/** kgce of an amount of a canonical counter quantity (energy_import_kwh, gas_m3, steam_t, coal_t, oxygen_m3 …). */
export function quantityToKgce(amount: number, quantity: string, table?: CoalTable): KgceResult {
  const q = QUANTITY_CARRIERS[quantity]
  if (!q) throw analyticsError('ANALYTICS_ERR_FACTOR', `quantity ${quantity} is not an energy carrier with a coal coefficient`)
  return toKgce(amount * q.toCarrierUnit, q.carrier, table)
}

/** Comprehensive energy consumption (综合能耗): the sum over carriers, each with its factor. */
export function totalKgce(
  amounts: ReadonlyArray<{ carrier: string; amount: number }>,
  table?: CoalTable,
): { kgce: number; parts: Array<KgceResult & { amount: number }> } {
  const parts = amounts.map((a) => ({ amount: a.amount, ...toKgce(a.amount, a.carrier, table) }))
  return { kgce: parts.reduce((s, p) => s + p.kgce, 0), parts }
}
