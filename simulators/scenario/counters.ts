import { PlantWattError } from '../../core/errors.ts'
import { TELEMETRY_MEASUREMENT, type LatestRow, type TelemetryStore } from '../../storage/store.ts'
import type { Scenario } from './schema.ts'
import { deviceKey } from '../../core/plant.ts'
import { scenarioDeviceKeys } from './model.ts'
import { addressOfTags } from '../../core/topic.ts'

/** Cumulative counters a scenario device continues across runs: meter energy, production (and the fuel and gas its PLC counts), machine energy and parts. */
export const SCENARIO_COUNTERS = [
  'energy_import_kwh',
  'energy_export_kwh',
  'energy_total_kwh',
  'output_t',
  'output_count',
  'coal_t',
  'gas_m3',
  'oxygen_m3',
] as const
export type ScenarioCounterQuantity = (typeof SCENARIO_COUNTERS)[number]
/** One device's counter readings, canonical quantity → value (kWh, t, parts). */
export type ScenarioCounterValues = Readonly<Partial<Record<ScenarioCounterQuantity, number>>>
/** Counter readings per device key (enterprise/site/line/device). */
export type ScenarioCounters = ReadonlyMap<string, ScenarioCounterValues>

/**
 * Checks counters handed to a run or a backfill: known devices, finite values ≥ 0. One
 * SIM_ERR_CONFIG naming every problem.
 */
export function checkScenarioCounters(scenario: Scenario, counters: ScenarioCounters, what: string): void {
  const devices = scenarioDeviceKeys(scenario, 'counters')
  const problems: { path: string; message: string }[] = []
  for (const [key, values] of counters) {
    if (!devices.has(key)) problems.push({ path: `/${key}`, message: `no device ${key} in scenario ${scenario.name}` })
    for (const [q, v] of Object.entries(values)) {
      if (!(SCENARIO_COUNTERS as readonly string[]).includes(q))
        problems.push({ path: `/${key}/${q}`, message: `not a counter (${SCENARIO_COUNTERS.join(', ')})` })
      else if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
        problems.push({ path: `/${key}/${q}`, message: `must be a finite number ≥ 0, got ${v}` })
    }
  }
  if (problems.length > 0) {
    throw new PlantWattError('SIM_ERR_CONFIG', `${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { details: problems })
  }
}

export interface StoredCounters {
  /** Newest plausible counter readings per device (values that are not finite or are < 0 are left out). */
  counters: Map<string, Partial<Record<ScenarioCounterQuantity, number>>>
  /** Timestamp of the newest counter reading per device, epoch ms. */
  newestTs: Map<string, number>
  /** Newest timestamp over all the scenario's devices; undefined when the store holds none. */
  newest: number | undefined
}

/**
 * The newest counter readings of a scenario's devices in a store (store.latest over measurement
 * `telemetry`, tags of the scenario's enterprises): where a restarted run continues from.
 * A junk reading (a garbage fault injected into the previous run at its last sample) would be
 * continued as it is; negative or non-finite ones are skipped.
 */
export async function readScenarioCounters(scenario: Scenario, store: TelemetryStore, options: { since?: number } = {}): Promise<StoredCounters> {
  const devices = scenarioDeviceKeys(scenario, 'counters')
  let rows: LatestRow[]
  try {
    rows = await store.latest({
      measurement: TELEMETRY_MEASUREMENT,
      filter: { enterprise: scenario.enterprises.map((e) => e.id) },
      fields: SCENARIO_COUNTERS,
      ...(options.since !== undefined ? { since: options.since } : {}),
    })
  } catch (cause) {
    throw new PlantWattError('SIM_ERR_BACKFILL', `reading the newest counters of scenario ${scenario.name}: ${(cause as Error).message}`, { cause })
  }
  const counters = new Map<string, Partial<Record<ScenarioCounterQuantity, number>>>()
  const newestTs = new Map<string, number>()
  let newest: number | undefined
  for (const r of rows) {
    const key = deviceKey(addressOfTags(r.tags))
    if (!devices.has(key)) continue
    newestTs.set(key, Math.max(newestTs.get(key) ?? Number.NEGATIVE_INFINITY, r.ts))
    newest = newest === undefined ? r.ts : Math.max(newest, r.ts)
    if (!(Number.isFinite(r.value) && r.value >= 0)) continue
    const values = counters.get(key) ?? {}
    values[r.field as ScenarioCounterQuantity] = r.value
    counters.set(key, values)
  }
  return { counters, newestTs, newest }
}
