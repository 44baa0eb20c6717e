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

/** Canonical quantities (core/quantities.ts) that are energy carriers: carrier and unit scale. */
export const QUANTITY_CARRIERS: Readonly<Record<string, { carrier: string; toCarrierUnit: number }>> = {
  energy_import_kwh: { carrier: 'electricity', toCarrierUnit: 1 },
  gas_m3: { carrier: 'natural-gas', toCarrierUnit: 1 },
  // steam_t is in tonnes, the coefficient per kg.
  steam_t: { carrier: 'steam-low-pressure', toCarrierUnit: 1000 },
}

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

/** kgce of an amount of a canonical quantity (energy_import_kwh, gas_m3, steam_t). */
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
