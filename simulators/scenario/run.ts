import { PlantWattError } from '../../core/errors.ts'
import type { DeviceAddress } from '../../core/topic.ts'
import type { PlantModel } from '../../core/plant.ts'
import { createSimClock } from '../clock.ts'
import { FaultBook, type FaultRecord } from '../faults.ts'
import { defaultCtRatio, METER_PROFILES, type MeterProfileId } from '../meters/index.ts'
import { counterStartKwh, productionStart } from '../meters/counters.ts'
import { createMeterDevice, serveMeters, serveMetersRtu, type MeterDevice, type MeterSnapshot } from '../modbus-meter.ts'
import { createLinePlcDevice, LINE_PLC_REGISTERS, type LinePlcDevice, type LinePlcProfileId } from '../plc.ts'
import { createMachineModel, type MachineKind, type MachineSnapshot } from '../opcua/machine.ts'
import type { MachineVariable } from '../opcua/server.ts'
import { buildScenarioModel, scenarioDeviceKeys, scenarioPlantModel, type ScenarioMeter, type ScenarioProduction } from './model.ts'
import { instantMs, type FaultInput, type Scenario } from './schema.ts'
import { checkScenarioCounters, type ScenarioCounters, type ScenarioCounterValues } from './counters.ts'
import { HOUR_MS } from '../../core/duration.ts'

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
   * energy_export_kwh; production counters: output_t / output_count; machines: energy_import_kwh
   * and output_count. Each counter starts at the smallest value its registers serve at or above the
   * reading (float32 / integer resolution of the map), so it never steps back. Counter resets
   * (counter_reset faults) begun before the run are taken as already in the readings. Devices not
   * named start from the scenario's own values (meters: ScenarioMeter.startEnergyKwh, others 0).
   */
  initialCounters?: ScenarioCounters
}

/** One line's OPC UA server and its machines. */
export interface ScenarioOpcuaEndpoint {
  /** enterprise/site/line */
  lineKey: string
  endpointUrl: string
  port: number
  machines: {
    address: DeviceAddress
    key: string
    kind: MachineKind
    /** Node id strings of State, StateName, PowerKw, EnergyKwh, PartCount, Product. */
    nodeIds: Readonly<Record<MachineVariable, string>>
    snapshot(): MachineSnapshot
  }[]
}

/** How a Modbus device of a run is reached. */
export interface ScenarioModbusAccess {
  transport: 'tcp' | 'rtu'
  /** TCP only. */
  host?: string
  /** TCP only. */
  port?: number
  /** RTU only: the serial device. */
  path?: string
  /** RTU only. */
  baudRate?: number
  unitId: number
}

/** A running scenario meter with where it sits in the plant and how to reach it. */
export interface ScenarioMeterEndpoint extends ScenarioModbusAccess {
  address: DeviceAddress
  /** enterprise/site/line/device */
  key: string
  role: 'main' | 'sub'
  profile: MeterProfileId
  snapshot(): MeterSnapshot
  tick(): MeterSnapshot
}

/** A line's production counter in a live run: the true count, in-process (run.plcs serves it over Modbus). */
export interface ScenarioCounter {
  address: DeviceAddress
  key: string
  quantity: 'output_t' | 'output_count'
  /** Output counted so far (from initialCounters, else 0 at the run's start), and the clock time of that count. */
  snapshot(): { ts: number; value: number }
  tick(): { ts: number; value: number }
}

/**
 * A line's production counter served over Modbus by a "line PLC" (plc.ts) on the line's meter
 * endpoint, under its own unit id (one above the highest meter unit id there).
 */
export interface ScenarioPlcEndpoint extends ScenarioModbusAccess {
  address: DeviceAddress
  /** enterprise/site/line/device (the line's productionDevice) */
  key: string
  quantity: 'output_t' | 'output_count'
  /** Edge-agent profile id: plantwatt-line-plc-t (output_t) or plantwatt-line-plc-pcs (output_count). */
  profile: LinePlcProfileId
  /** Holding register (FC 03) of the count: 0x0000 float32 tonnes, or 0x0002 uint32 parts. */
  register: number
  /** What the registers hold now (faults applied, float32-rounded tonnes / whole parts). */
  snapshot(): { ts: number; value: number }
  tick(): { ts: number; value: number }
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

function productionCounter(p: ScenarioProduction, clock: () => number, start: number): ScenarioCounter {
  let total = start
  let last: { t: number; rate: number } | undefined
  let current = { ts: 0, value: 0 }
  const tick = () => {
    const t = clock()
    const rate = p.ratePerHour(t)
    if (last && t > last.t) total += ((last.rate + rate) / 2) * ((t - last.t) / HOUR_MS)
    if (!last || t >= last.t) last = { t, rate }
    current = { ts: t, value: p.quantity === 'output_count' ? Math.floor(total) : total }
    return current
  }
  tick()
  return { address: p.address, key: p.key, quantity: p.quantity, snapshot: () => current, tick }
}

/**
 * Start counters of a meter: the scenario's own, or the given readings raised to what the meter's
 * register map can serve (so the first served value is never below the reading).
 */
function meterStart(m: ScenarioMeter, given: ScenarioCounterValues | undefined): { startEnergyKwh: number; startExportKwh?: number } {
  if (!given) return { startEnergyKwh: m.startEnergyKwh }
  const ratios = { ctRatio: m.ctRatio ?? (METER_PROFILES[m.profile].side === 'secondary' ? defaultCtRatio(m.ratedKw) : 1), ptRatio: 1 }
  const exportKwh = given.energy_export_kwh ?? 0
  const importKwh = Math.max(given.energy_import_kwh ?? 0, (given.energy_total_kwh ?? 0) - exportKwh)
  if (given.energy_import_kwh === undefined && given.energy_total_kwh === undefined) return { startEnergyKwh: m.startEnergyKwh, ...(exportKwh > 0 ? { startExportKwh: counterStartKwh(m.profile, 'energy_export_kwh', exportKwh, ratios) } : {}) }
  return {
    startEnergyKwh: counterStartKwh(m.profile, 'energy_import_kwh', importKwh, ratios),
    ...(exportKwh > 0 ? { startExportKwh: counterStartKwh(m.profile, 'energy_export_kwh', exportKwh, ratios) } : {}),
  }
}

/**
 * Starts the devices of a scenario: its meters on Modbus TCP (each line's meters share one free port
 * by unit id unless ports are given) or RTU (serialPath), fed by the same models as backfill, and the
 * production counters. Faults from the file are active from their start; more can be injected.
 */
export async function startScenario(scenario: Scenario, options: ScenarioRunOptions = {}): Promise<RunningScenario> {
  const clock = options.clock ?? createSimClock({ speed: scenario.speed, ...(scenario.startTime !== undefined ? { startMs: instantMs(scenario.startTime) } : {}) })
  const updateIntervalMs = options.updateIntervalMs ?? scenario.updateIntervalMs
  const faults = new FaultBook({ timezone: scenario.timezone, seed: scenario.seed, devices: scenarioDeviceKeys(scenario), ...(options.groundTruthFile ? { groundTruthFile: options.groundTruthFile } : {}) })
  for (const f of scenario.faults) faults.inject(f)
  const model = buildScenarioModel(scenario, faults)
  const initial: ScenarioCounters = options.initialCounters ?? new Map()
  if (options.initialCounters) checkScenarioCounters(scenario, initial, `scenario ${scenario.name}: initialCounters`)
  // Resets before this instant are already in the given readings.
  const resumedAt = clock()
  const resumed = (key: string) => (initial.has(key) ? { resumedAt } : {})

  const groups = new Map<string, { meter: (typeof model.meters)[number]; device: MeterDevice }[]>()
  for (const m of model.meters) {
    const device = createMeterDevice({
      profile: m.profile, ratedKw: m.ratedKw, unitId: m.unitId, seed: m.seed, timezone: scenario.timezone, clock,
      ...meterStart(m, initial.get(m.key)),
      powerKw: m.powerKw, powerFactor: m.powerFactor, hooks: faults.meterHooks(m.key, resumed(m.key)), historySize: 600,
      ...(m.ctRatio ? { ctRatio: m.ctRatio } : {}),
    })
    const g = groups.get(m.endpoint) ?? []
    g.push({ meter: m, device })
    groups.set(m.endpoint, g)
  }

  // Each line's production counter, and the PLC serving it on the line's main-meter endpoint.
  const production = model.production.map((p) => productionCounter(p, clock, productionStart(p.quantity, initial.get(p.key)?.[p.quantity] ?? 0)))
  const plcsByEndpoint = new Map<string, { device: LinePlcDevice; index: number }[]>()
  const plcs: ScenarioPlcEndpoint[] = []
  model.production.forEach((p, index) => {
    const lineKey = p.key.slice(0, p.key.lastIndexOf('/'))
    const main = model.meters.find((m) => m.role === 'main' && m.key.startsWith(`${lineKey}/`))
    if (!main) return
    const group = groups.get(main.endpoint) ?? []
    const taken = plcsByEndpoint.get(main.endpoint) ?? []
    const unitId = Math.max(0, ...group.map((g) => g.meter.unitId), ...taken.map((t) => t.device.unitId)) + 1
    if (unitId > 247) throw new PlantWattError('SIM_ERR_CONFIG', `scenario ${scenario.name}: no unit id left for the production counter ${p.key} on ${main.endpoint}`)
    const counter = production[index]!
    const device = createLinePlcDevice({ unitId, quantity: p.quantity, tick: counter.tick, present: faults.createPresenter(p.key, [p.quantity], resumed(p.key)), online: (t) => faults.online(p.key, t), clock })
    taken.push({ device, index })
    plcsByEndpoint.set(main.endpoint, taken)
  })

  const meters: ScenarioMeterEndpoint[] = []
  const stops: (() => Promise<void>)[] = []
  const close = async (): Promise<void> => {
    await Promise.all(stops.splice(0).map((s) => s()))
  }
  for (const [endpoint, members] of groups) {
    const first = members[0]!.meter
    const linePlcs = plcsByEndpoint.get(endpoint) ?? []
    try {
      const entries = members.map(({ device }) => ({ device, updateIntervalMs }))
      const plcDevices = linePlcs.map((x) => x.device)
      const plcEndpoint = (x: { device: LinePlcDevice; index: number }, where: Pick<ScenarioPlcEndpoint, 'transport' | 'host' | 'port' | 'path' | 'baudRate'>): ScenarioPlcEndpoint => {
        const p = model.production[x.index]!
        return { address: p.address, key: p.key, quantity: p.quantity, profile: x.device.profile, ...where, unitId: x.device.unitId, register: LINE_PLC_REGISTERS[p.quantity], snapshot: x.device.snapshot, tick: x.device.tick }
      }
      if (first.transport === 'rtu') {
        const running = await serveMetersRtu({ path: first.serialPath as string, baudRate: first.baudRate }, entries, plcDevices)
        for (const x of linePlcs) plcs.push(plcEndpoint(x, { transport: 'rtu', path: running[0]!.path, baudRate: first.baudRate }))
        running.forEach((r, i) => {
          const m = members[i]!.meter
          stops.push(r.stop)
          meters.push({ address: m.address, key: m.key, role: m.role, profile: m.profile, transport: 'rtu', path: r.path, baudRate: m.baudRate, unitId: r.unitId, snapshot: r.snapshot, tick: r.tick })
        })
      } else {
        const running = await serveMeters({ host: first.host, port: first.port }, entries, plcDevices)
        for (const x of linePlcs) plcs.push(plcEndpoint(x, { transport: 'tcp', host: running[0]!.host, port: running[0]!.port }))
        running.forEach((r, i) => {
          const m = members[i]!.meter
          stops.push(r.stop)
          meters.push({ address: m.address, key: m.key, role: m.role, profile: m.profile, transport: 'tcp', host: r.host, port: r.port, unitId: r.unitId, snapshot: r.snapshot, tick: r.tick })
        })
      }
    } catch (cause) {
      await close()
      throw new PlantWattError('SIM_ERR_LISTEN', `scenario ${scenario.name}: meters on ${endpoint} (${members.map((x) => x.meter.key).join(', ')}): ${(cause as Error).message}`, { cause })
    }
  }
  const plcOrder = new Map(model.production.map((p, i) => [p.key, i]))
  plcs.sort((a, b) => (plcOrder.get(a.key) ?? 0) - (plcOrder.get(b.key) ?? 0))
  const plcDevicesAll = [...plcsByEndpoint.values()].flat()
  const unserved = production.filter((_, i) => !plcDevicesAll.some((x) => x.index === i))

  const opcua: ScenarioOpcuaEndpoint[] = []
  const machineTicks: (() => void)[] = []
  if (options.opcua) {
    // node-opcua takes about a second to load: only runs that serve machines pay for it.
    const { startOpcuaMachineServer } = await import('../opcua/server.ts')
    const byLine = new Map<string, typeof model.machines>()
    for (const m of model.machines) byLine.set(m.lineKey, [...(byLine.get(m.lineKey) ?? []), m])
    for (const [lineKey, list] of byLine) {
      const devices = list.map((m) => {
        const start = initial.get(m.key)
        const mm = createMachineModel({
          kind: m.kind, ratedKw: m.ratedKw, seed: m.seed, product: m.product, scheduled: m.scheduled,
          ...(start?.energy_import_kwh !== undefined ? { startEnergyKwh: start.energy_import_kwh } : {}),
          ...(start?.output_count !== undefined ? { startPartCount: start.output_count } : {}),
        })
        let current = mm.update(clock())
        return { spec: m, tick: () => (current = mm.update(clock())), snapshot: () => current }
      })
      try {
        const server = await startOpcuaMachineServer({
          pkiFolder: `${options.opcua.pkiFolder}/${lineKey.replaceAll('/', '_')}`,
          name: lineKey,
          ...(options.opcua.hostname ? { hostname: options.opcua.hostname } : {}),
          machines: devices.map((d) => ({ id: d.spec.address.device, kind: d.spec.kind, snapshot: d.snapshot })),
        })
        stops.push(() => server.close())
        machineTicks.push(() => {
          for (const d of devices) d.tick()
          server.publish()
        })
        opcua.push({
          lineKey, endpointUrl: server.endpointUrl, port: server.port,
          machines: devices.map((d) => ({ address: d.spec.address, key: d.spec.key, kind: d.spec.kind, nodeIds: server.nodeIds[d.spec.address.device]!, snapshot: d.snapshot })),
        })
      } catch (cause) {
        await close()
        throw cause
      }
    }
  }
  const tickCounters = (): void => {
    // A PLC's tick reads its counter; counters without a PLC tick alone.
    for (const x of plcDevicesAll) x.device.tick()
    for (const p of unserved) p.tick()
    for (const t of machineTicks) t()
  }
  const timer = updateIntervalMs > 0 ? setInterval(tickCounters, updateIntervalMs) : undefined
  timer?.unref()
  stops.push(async () => {
    if (timer) clearInterval(timer)
  })
  const order = new Map(model.meters.map((m, i) => [m.key, i]))
  meters.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0))

  return {
    name: scenario.name,
    clock,
    meters,
    production,
    plcs,
    opcua,
    plantModel: scenarioPlantModel(scenario),
    injectFault: (spec) => faults.inject(spec),
    endFault: (id) => faults.end(id, clock()),
    faults: () => faults.list(),
    tick() {
      for (const m of meters) m.tick()
      tickCounters()
    },
    close,
  }
}
