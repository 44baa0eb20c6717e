import { PlantWattError } from '../../core/errors.ts'
import type { DeviceAddress } from '../../core/topic.ts'
import type { PlantModel } from '../../core/plant.ts'
import { createSimClock } from '../clock.ts'
import { FaultBook, type FaultRecord } from '../faults.ts'
import type { MeterProfileId } from '../meters/index.ts'
import { createMeterDevice, serveMeters, serveMetersRtu, type MeterDevice, type MeterSnapshot } from '../modbus-meter.ts'
import { createMachineModel, type MachineKind, type MachineSnapshot } from '../opcua/machine.ts'
import type { MachineVariable } from '../opcua/server.ts'
import { buildScenarioModel, scenarioDeviceKeys, scenarioPlantModel, type ScenarioProduction } from './model.ts'
import { instantMs, type FaultInput, type Scenario } from './schema.ts'

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

/** A running scenario meter with where it sits in the plant and how to reach it. */
export interface ScenarioMeterEndpoint {
  address: DeviceAddress
  /** enterprise/site/line/device */
  key: string
  role: 'main' | 'sub'
  profile: MeterProfileId
  transport: 'tcp' | 'rtu'
  /** TCP only. */
  host?: string
  /** TCP only. */
  port?: number
  /** RTU only: the serial device. */
  path?: string
  baudRate?: number
  unitId: number
  snapshot(): MeterSnapshot
  tick(): MeterSnapshot
}

/** A line's production counter in a live run (read it in-process; OPC UA is not served yet). */
export interface ScenarioCounter {
  address: DeviceAddress
  key: string
  quantity: 'output_t' | 'output_count'
  /** Output counted so far in this run, and the clock time of that count. */
  snapshot(): { ts: number; value: number }
  tick(): { ts: number; value: number }
}

export interface RunningScenario {
  name: string
  clock: () => number
  meters: ScenarioMeterEndpoint[]
  production: ScenarioCounter[]
  /** OPC UA servers (empty unless options.opcua was given). */
  opcua: ScenarioOpcuaEndpoint[]
  /** The plant model (core/plant.ts) the run's devices belong to. */
  plantModel: PlantModel
  /** Injects a fault now (it acts from its start) and appends it to the ground truth. */
  injectFault(spec: FaultInput): FaultRecord
  /** Faults of the run so far, from the scenario file and injected. */
  faults(): FaultRecord[]
  /** Ticks every device once (reads the clock). */
  tick(): void
  close(): Promise<void>
}

function productionCounter(p: ScenarioProduction, clock: () => number): ScenarioCounter {
  let total = 0
  let last: { t: number; rate: number } | undefined
  let current = { ts: 0, value: 0 }
  const tick = () => {
    const t = clock()
    const rate = p.ratePerHour(t)
    if (last && t > last.t) total += ((last.rate + rate) / 2) * ((t - last.t) / 3_600_000)
    if (!last || t >= last.t) last = { t, rate }
    current = { ts: t, value: p.quantity === 'output_count' ? Math.floor(total) : total }
    return current
  }
  tick()
  return { address: p.address, key: p.key, quantity: p.quantity, snapshot: () => current, tick }
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

  const groups = new Map<string, { meter: (typeof model.meters)[number]; device: MeterDevice }[]>()
  for (const m of model.meters) {
    const device = createMeterDevice({
      profile: m.profile, ratedKw: m.ratedKw, unitId: m.unitId, seed: m.seed, timezone: scenario.timezone, clock,
      startEnergyKwh: m.startEnergyKwh, powerKw: m.powerKw, powerFactor: m.powerFactor, hooks: faults.meterHooks(m.key), historySize: 600,
      ...(m.ctRatio ? { ctRatio: m.ctRatio } : {}),
    })
    const g = groups.get(m.endpoint) ?? []
    g.push({ meter: m, device })
    groups.set(m.endpoint, g)
  }

  const meters: ScenarioMeterEndpoint[] = []
  const stops: (() => Promise<void>)[] = []
  const close = async (): Promise<void> => {
    await Promise.all(stops.splice(0).map((s) => s()))
  }
  for (const [endpoint, members] of groups) {
    const first = members[0]!.meter
    try {
      const entries = members.map(({ device }) => ({ device, updateIntervalMs }))
      if (first.transport === 'rtu') {
        const running = await serveMetersRtu({ path: first.serialPath as string, baudRate: first.baudRate }, entries)
        running.forEach((r, i) => {
          const m = members[i]!.meter
          stops.push(r.stop)
          meters.push({ address: m.address, key: m.key, role: m.role, profile: m.profile, transport: 'rtu', path: r.path, baudRate: m.baudRate, unitId: r.unitId, snapshot: r.snapshot, tick: r.tick })
        })
      } else {
        const running = await serveMeters({ host: first.host, port: first.port }, entries)
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
  const production = model.production.map((p) => productionCounter(p, clock))

  const opcua: ScenarioOpcuaEndpoint[] = []
  const machineTicks: (() => void)[] = []
  if (options.opcua) {
    // node-opcua takes about a second to load: only runs that serve machines pay for it.
    const { startOpcuaMachineServer } = await import('../opcua/server.ts')
    const byLine = new Map<string, typeof model.machines>()
    for (const m of model.machines) byLine.set(m.lineKey, [...(byLine.get(m.lineKey) ?? []), m])
    for (const [lineKey, list] of byLine) {
      const devices = list.map((m) => {
        const mm = createMachineModel({ kind: m.kind, ratedKw: m.ratedKw, seed: m.seed, product: m.product, scheduled: m.scheduled })
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
    for (const p of production) p.tick()
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
    opcua,
    plantModel: scenarioPlantModel(scenario),
    injectFault: (spec) => faults.inject(spec),
    faults: () => faults.list(),
    tick() {
      for (const m of meters) m.tick()
      tickCounters()
    },
    close,
  }
}
