import type { DeviceAddress } from '../../core/topic.ts'
import { createMachineModel, type MachineKind, type MachineSnapshot } from '../opcua/machine.ts'
import type { MachineVariable } from '../opcua/server.ts'
import type { ScenarioCounters } from './counters.ts'
import type { ScenarioMachine } from './model.ts'
import type { StopList } from './stop-list.ts'

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

export interface OpcuaMachineOptions {
  /** Holds one certificate folder per line server (never the home folder). */
  pkiFolder: string
  hostname?: string
}

export interface OpcuaMachineDeps {
  clock: () => number
  /** Machines named here continue from energy_import_kwh / output_count. */
  initial: ScenarioCounters
  /** Gets each server's close; closed (with whatever it held before) when a server fails to start. */
  stops: StopList
}

export interface OpcuaMachines {
  endpoints: ScenarioOpcuaEndpoint[]
  /** Per server: update its machines from the clock, then publish. */
  ticks: (() => void)[]
}

/** A machine model ticking on the run's clock, updated once at creation. */
function machineDevice(m: ScenarioMachine, deps: OpcuaMachineDeps): { spec: ScenarioMachine; tick(): void; snapshot(): MachineSnapshot } {
  const start = deps.initial.get(m.key)
  const mm = createMachineModel({
    kind: m.kind,
    ratedKw: m.ratedKw,
    seed: m.seed,
    product: m.product,
    scheduled: m.scheduled,
    ...(start?.energy_import_kwh !== undefined ? { startEnergyKwh: start.energy_import_kwh } : {}),
    ...(start?.output_count !== undefined ? { startPartCount: start.output_count } : {}),
  })
  let current = mm.update(deps.clock())
  return { spec: m, tick: () => (current = mm.update(deps.clock())), snapshot: () => current }
}

/** Machines grouped by line, lines in the order of their first machine. */
export function machinesByLine(machines: readonly ScenarioMachine[]): Map<string, ScenarioMachine[]> {
  const byLine = new Map<string, ScenarioMachine[]>()
  for (const m of machines) byLine.set(m.lineKey, [...(byLine.get(m.lineKey) ?? []), m])
  return byLine
}

/**
 * One OPC UA server per line with machines, one after the other. When a server cannot start, what
 * was started is stopped and its error thrown.
 */
export async function serveOpcuaMachines(machines: readonly ScenarioMachine[], options: OpcuaMachineOptions, deps: OpcuaMachineDeps): Promise<OpcuaMachines> {
  // node-opcua takes about a second to load: only runs that serve machines pay for it.
  const { startOpcuaMachineServer } = await import('../opcua/server.ts')
  const endpoints: ScenarioOpcuaEndpoint[] = []
  const ticks: (() => void)[] = []
  for (const [lineKey, list] of machinesByLine(machines)) {
    const devices = list.map((m) => machineDevice(m, deps))
    try {
      const server = await startOpcuaMachineServer({
        pkiFolder: `${options.pkiFolder}/${lineKey.replaceAll('/', '_')}`,
        name: lineKey,
        ...(options.hostname ? { hostname: options.hostname } : {}),
        machines: devices.map((d) => ({ id: d.spec.address.device, kind: d.spec.kind, snapshot: d.snapshot })),
      })
      deps.stops.add(() => server.close())
      ticks.push(() => {
        for (const d of devices) d.tick()
        server.publish()
      })
      endpoints.push({
        lineKey,
        endpointUrl: server.endpointUrl,
        port: server.port,
        machines: devices.map((d) => ({
          address: d.spec.address,
          key: d.spec.key,
          kind: d.spec.kind,
          nodeIds: server.nodeIds[d.spec.address.device]!,
          snapshot: d.snapshot,
        })),
      })
    } catch (cause) {
      await deps.stops.close()
      throw cause
    }
  }
  return { endpoints, ticks }
}
