import type { PlantModel } from '../../core/plant.ts'
import { productionStart } from '../meters/counters.ts'
import { createSimClock } from '../clock.ts'
import type { FaultRecord } from '../faults.ts'
import { checkScenarioCounters, type ScenarioCounters } from './counters.ts'
import { createLinePlcs } from './line-plcs.ts'
import { createMeterGroups } from './meter-groups.ts'
import { buildScenarioModel, scenarioPlantModel } from './model.ts'
import { serveModbusEndpoints, type ScenarioMeterEndpoint, type ScenarioPlcEndpoint } from './modbus-endpoints.ts'
import { serveOpcuaMachines, type ScenarioOpcuaEndpoint } from './opcua-machines.ts'
import { createProductionCounter, type ScenarioCounter } from './production-counter.ts'
import { openScenarioFaults, resumeMarks } from './scenario-faults.ts'
import { instantMs, type FaultInput, type Scenario } from './schema.ts'
import { StopList } from './stop-list.ts'
import { counterTicks, startTickDriver } from './tick-driver.ts'

export type { ScenarioModbusAccess, ScenarioMeterEndpoint, ScenarioPlcEndpoint } from './modbus-endpoints.ts'
export type { ScenarioOpcuaEndpoint } from './opcua-machines.ts'
export type { ScenarioCounter } from './production-counter.ts'

export interface ScenarioRunOptions {
  /** Simulated clock, epoch ms. Default: scenario.speed from scenario.startTime (or now). */
  clock?: () => number
  /** Real ms between register updates. Default scenario.updateIntervalMs; 0 = only on tick(). */
  updateIntervalMs?: number
  /** Ground-truth JSONL file the faults (from the file and injected) are appended to. */
  groundTruthFile?: string
  /**
   * Serve the lines' machines over OPC UA, one server per line with machines. Off when absent.
   * `pkiFolder` holds the servers' certificates (never the home folder).
   */
  opcua?: { pkiFolder: string; hostname?: string }
  /**
   * Counter readings to continue from, per device key (enterprise/site/line/device) — e.g. what
   * `prepareScenarioHistory` or `readScenarioCounters` returns, so the live counters go on where the
   * stored history ends. Meters: energy_import_kwh (or energy_total_kwh − energy_export_kwh) and
   * energy_export_kwh; production counters: output_t / output_count, and the carriers their PLC
   * counts (coal_t, gas_m3, oxygen_m3); machines: energy_import_kwh
   * and output_count. Each counter starts at the smallest value its registers serve at or above the
   * reading (float32 / integer resolution of the map), so it never steps back. Counter resets
   * (counter_reset faults) begun before the run are taken as already in the readings. Devices not
   * named start from the scenario's own values (meters: ScenarioMeter.startEnergyKwh, others 0).
   */
  initialCounters?: ScenarioCounters
}

export interface RunningScenario {
  name: string
  clock: () => number
  meters: ScenarioMeterEndpoint[]
  production: ScenarioCounter[]
  /** The production counters served over Modbus (one line PLC per line, same order as production). */
  plcs: ScenarioPlcEndpoint[]
  /** OPC UA servers (empty unless options.opcua was given). */
  opcua: ScenarioOpcuaEndpoint[]
  /** The plant model (core/plant.ts) the run's devices belong to. */
  plantModel: PlantModel
  /** Injects a fault now (it acts from its start) and appends it to the ground truth. */
  injectFault(spec: FaultInput): FaultRecord
  /**
   * Ends an open fault at the run's clock time now (the ground truth is rewritten with its end).
   * SIM_ERR_FAULT_NOT_FOUND for an unknown id, SIM_ERR_FAULT_STATE if it already ended or has not started.
   */
  endFault(id: number): FaultRecord
  /** Faults of the run so far, from the scenario file and injected. */
  faults(): FaultRecord[]
  /** Ticks every device once (reads the clock). */
  tick(): void
  close(): Promise<void>
}

/**
 * Starts the devices of a scenario: its meters on Modbus TCP (each line's meters share one free port
 * by unit id unless ports are given) or RTU (serialPath), fed by the same models as backfill, and the
 * production counters. Faults from the file are active from their start; more can be injected.
 */
export async function startScenario(scenario: Scenario, options: ScenarioRunOptions = {}): Promise<RunningScenario> {
  const clock =
    options.clock ?? createSimClock({ speed: scenario.speed, ...(scenario.startTime !== undefined ? { startMs: instantMs(scenario.startTime) } : {}) })
  const updateIntervalMs = options.updateIntervalMs ?? scenario.updateIntervalMs
  const faults = openScenarioFaults(scenario, options.groundTruthFile)
  const model = buildScenarioModel(scenario, faults)
  const initial: ScenarioCounters = options.initialCounters ?? new Map()
  if (options.initialCounters) checkScenarioCounters(scenario, initial, `scenario ${scenario.name}: initialCounters`)
  // Resets before this instant are already in the given readings.
  const resumed = resumeMarks(initial, clock())

  // The order below is the order devices read the clock and fault presenters are made: keep it.
  const groups = createMeterGroups(model.meters, { timezone: scenario.timezone, clock, faults, initial, resumed })
  const production = model.production.map((p) => createProductionCounter(p, clock, productionStart(p.quantity, initial.get(p.key)?.[p.quantity] ?? 0)))
  const linePlcs = createLinePlcs(model.production, production, model.meters, groups, { scenarioName: scenario.name, clock, faults, resumed, initial })
  const stops = new StopList()
  const { meters, plcs } = await serveModbusEndpoints(model, groups, linePlcs, { scenarioName: scenario.name, updateIntervalMs, stops })
  const machines = options.opcua ? await serveOpcuaMachines(model.machines, options.opcua, { clock, initial, stops }) : { endpoints: [], ticks: [] }
  const driver = startTickDriver([...counterTicks(linePlcs, production), ...machines.ticks], updateIntervalMs)
  stops.add(driver.stop)

  return {
    name: scenario.name,
    clock,
    meters,
    production,
    plcs,
    opcua: machines.endpoints,
    plantModel: scenarioPlantModel(scenario),
    injectFault: (spec) => faults.inject(spec),
    endFault: (id) => faults.end(id, clock()),
    faults: () => faults.list(),
    tick() {
      for (const m of meters) m.tick()
      driver.tick()
    },
    close: () => stops.close(),
  }
}
