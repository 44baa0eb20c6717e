/**
 * Devices to test PlantWatt against without a plant: Modbus, DL/T 645 and CJ/T 188 meters with real
 * register maps, OPC UA machines, the Hubei scenario with faults, and history backfill. They encode
 * on their own: nothing here imports the edge agent's decoding.
 */
import { validateConfig } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { SimConfigSchema, type SimConfig } from './config.ts'
import type { MeterProfileId } from './meters/index.ts'
import { createMeterDevice, serveMeters, type MeterDevice, type RunningMeter } from './modbus-meter.ts'
import { hashString, mixSeed } from './prng.ts'

export { SimConfigSchema, type SimConfig, type SimMeterConfig } from './config.ts'
export { startMeterSimulator, createMeterDevice, type MeterSimulatorOptions, type MeterSnapshot, type RunningMeter, type MeterDevice } from './modbus-meter.ts'
export { METER_PROFILE_IDS, type MeterProfileId } from './meters/index.ts'

export interface SimulatedMeter {
  id: string
  host: string
  port: number
  unitId: number
  profile: MeterProfileId
  meter: RunningMeter
}

export interface Simulation {
  meters: SimulatedMeter[]
  close(): Promise<void>
}

export interface SimulationOptions {
  /** Epoch-ms clock for every meter. Default Date.now. */
  clock?: () => number
}

/** The seed a meter's noise uses: the simulation seed mixed with the meter id, so meters differ. */
export function meterSeed(seed: number, meterId: string): number {
  return mixSeed(seed, hashString(meterId))
}

/**
 * Starts every configured meter. Meters with port 0 get a port each; meters that name the same
 * host and non-zero port are served by one listener, dispatched by unit id. If any endpoint fails to
 * start, those already started are closed and SIM_ERR_LISTEN names the meters of the failed one.
 */
export async function startSimulation(config: SimConfig, options: SimulationOptions = {}): Promise<Simulation> {
  const cfg = validateConfig(SimConfigSchema, config, 'simulation config')
  const seen = new Set<string>()
  for (const m of cfg.meters) {
    if (seen.has(m.id)) throw new PlantWattError('SIM_ERR_CONFIG', `simulation config: meter id ${JSON.stringify(m.id)} is used twice`)
    seen.add(m.id)
  }
  const groups = new Map<string, { host: string; port: number; members: { id: string; device: MeterDevice }[] }>()
  for (const [i, m] of cfg.meters.entries()) {
    const key = m.port === 0 ? `#${i}` : `${m.host}:${m.port}`
    const group = groups.get(key) ?? { host: m.host, port: m.port, members: [] }
    if (group.members.some((g) => g.device.unitId === m.unitId)) {
      throw new PlantWattError('SIM_ERR_CONFIG', `simulation config: meter ${m.id} reuses unit id ${m.unitId} on ${key}`)
    }
    const device = createMeterDevice({
      profile: m.profile,
      ratedKw: m.ratedKw,
      unitId: m.unitId,
      startEnergyKwh: m.startEnergyKwh,
      seed: meterSeed(cfg.seed, m.id),
      timezone: cfg.timezone,
      ...(options.clock ? { clock: options.clock } : {}),
    })
    group.members.push({ id: m.id, device })
    groups.set(key, group)
  }

  const meters: SimulatedMeter[] = []
  const close = async (): Promise<void> => {
    await Promise.all(meters.map((m) => m.meter.stop()))
  }
  for (const group of groups.values()) {
    let running: RunningMeter[]
    try {
      running = await serveMeters(
        { host: group.host, port: group.port },
        group.members.map(({ device }) => ({ device, updateIntervalMs: cfg.updateIntervalMs })),
      )
    } catch (cause) {
      await close()
      throw new PlantWattError('SIM_ERR_LISTEN', `meters ${group.members.map((g) => g.id).join(', ')}: ${(cause as Error).message}`, { cause })
    }
    for (const [i, meter] of running.entries()) {
      const id = (group.members[i] as { id: string }).id
      meters.push({ id, host: meter.host, port: meter.port, unitId: meter.unitId, profile: meter.profile, meter })
    }
  }
  // Report meters in config order, whatever the grouping.
  const order = new Map(cfg.meters.map((m, i) => [m.id, i]))
  meters.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
  return { meters, close }
}

// Scenario API (issue 4): plant scenarios, live runs, backfill, faults, RTU.
export { createSimClock, type SimClock, type SimClockOptions } from './clock.ts'
export { FaultBook, LOAD_FAULT_KINDS, type FaultRecord } from './faults.ts'
export { serveMetersRtu, type RunningRtuMeter, type MeterHooks } from './modbus-meter.ts'
export { startModbusRtuServer, type ModbusRtuServer, type ModbusRtuServerOptions } from './modbus/rtu-server.ts'
export { BENCHMARKS, gradeSec, secTargetKwhPerUnit, type BenchmarkId, type SecGrade } from './scenario/benchmarks.ts'
export { backfillScenario, type BackfillOptions, type BackfillResult } from './scenario/backfill.ts'
export { prepareScenarioHistory, type PreparedHistory, type PrepareHistoryOptions } from './scenario/history.ts'
export {
  readScenarioCounters,
  SCENARIO_COUNTERS,
  type ScenarioCounterQuantity,
  type ScenarioCounters,
  type ScenarioCounterValues,
  type StoredCounters,
} from './scenario/counters.ts'
export { counterStartKwh, servedCounterKwh, METER_COUNTERS, type MeterCounter } from './meters/counters.ts'
export { buildScenarioModel, scenarioPlantModel, type ScenarioMeter, type ScenarioModel, type ScenarioProduction } from './scenario/model.ts'
export {
  startScenario,
  type RunningScenario,
  type ScenarioCounter,
  type ScenarioMeterEndpoint,
  type ScenarioPlcEndpoint,
  type ScenarioRunOptions,
} from './scenario/run.ts'
export { createLinePlcDevice, LINE_PLC_PROFILES, LINE_PLC_REGISTERS, type LinePlcDevice, type LinePlcOptions, type LinePlcProfileId } from './plc.ts'
export { startFaultControl, type FaultControl, type FaultControlOptions } from './control.ts'
export { FAULT_KINDS, loadScenario, parseScenario, ScenarioSchema, type FaultInput, type FaultKind, type FaultSpec, type Scenario } from './scenario/schema.ts'
export { createMachineModel, CYCLE_SECONDS, MACHINE_STATES, type MachineKind, type MachineSnapshot } from './opcua/machine.ts'
// The OPC UA server itself (node-opcua, slow to load) is imported from './opcua/server.ts' directly.
export type { MachineVariable, OpcuaMachineServer, OpcuaMachineServerOptions } from './opcua/server.ts'
export type { ScenarioOpcuaEndpoint } from './scenario/run.ts'
