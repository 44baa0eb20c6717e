import { defaultCtRatio, METER_PROFILES } from '../meters/index.ts'
import { counterStartKwh, productionStart } from '../meters/counters.ts'
import type { LinePlcCarrier } from '../plc.ts'
import type { ScenarioCounterValues } from './counters.ts'
import type { ScenarioMeter } from './model.ts'

/**
 * Start counters of a meter: the scenario's own, or the given readings raised to what the meter's
 * register map can serve (so the first served value is never below the reading).
 */
export function meterStart(m: ScenarioMeter, given: ScenarioCounterValues | undefined): { startEnergyKwh: number; startExportKwh?: number } {
  if (!given) return { startEnergyKwh: m.startEnergyKwh }
  const ratios = { ctRatio: m.ctRatio ?? (METER_PROFILES[m.profile].side === 'secondary' ? defaultCtRatio(m.ratedKw) : 1), ptRatio: 1 }
  const exportKwh = given.energy_export_kwh ?? 0
  const importKwh = Math.max(given.energy_import_kwh ?? 0, (given.energy_total_kwh ?? 0) - exportKwh)
  const exportStart = exportKwh > 0 ? { startExportKwh: counterStartKwh(m.profile, 'energy_export_kwh', exportKwh, ratios) } : {}
  if (given.energy_import_kwh === undefined && given.energy_total_kwh === undefined) return { startEnergyKwh: m.startEnergyKwh, ...exportStart }
  return { startEnergyKwh: counterStartKwh(m.profile, 'energy_import_kwh', importKwh, ratios), ...exportStart }
}

/**
 * Start of a line PLC's carrier counter continuing from a reading: the smallest value its registers
 * serve at or above it (float32 tonnes of coal, whole m3 of gas and oxygen; see plc.ts), as
 * productionStart does for the output, so the served counter never steps back.
 */
export function carrierStart(quantity: LinePlcCarrier, atLeast: number): number {
  return productionStart(quantity === 'coal_t' ? 'output_t' : 'output_count', atLeast)
}
