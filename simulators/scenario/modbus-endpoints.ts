import { PlantWattError } from '../../core/errors.ts'
import type { DeviceAddress } from '../../core/topic.ts'
import type { MeterProfileId } from '../meters/index.ts'
import { serveMeters, serveMetersRtu, type MeterSnapshot } from '../modbus-meter.ts'
import { LINE_PLC_CARRIER_REGISTERS, LINE_PLC_REGISTERS, type LinePlcCarrier, type LinePlcProfileId, type LinePlcReading } from '../plc.ts'
import type { LinePlc } from './line-plcs.ts'
import type { MeterMember } from './meter-groups.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'
import type { StopList } from './stop-list.ts'

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

/**
 * A line's production counter served over Modbus by a "line PLC" (plc.ts) on the line's meter
 * endpoint, under its own unit id (one above the highest meter unit id there).
 */
export interface ScenarioPlcEndpoint extends ScenarioModbusAccess {
  address: DeviceAddress
  /** enterprise/site/line/device (the line's productionDevice) */
  key: string
  quantity: 'output_t' | 'output_count'
  /**
   * Edge-agent profile id: plantwatt-line-plc-t (output_t) or plantwatt-line-plc-pcs (output_count);
   * plantwatt-line-plc-t-coal or plantwatt-line-plc-t-oxygen-gas for the carrier sets shipped.
   */
  profile: LinePlcProfileId
  /** Holding register (FC 03) of the count: 0x0000 float32 tonnes, or 0x0002 uint32 parts. */
  register: number
  /** Input registers (FC 04) of the carrier counters the PLC serves (empty: none). */
  carrierRegisters: Partial<Record<LinePlcCarrier, number>>
  /** What the registers hold now (faults applied, float32-rounded tonnes / whole parts and m3). */
  snapshot(): LinePlcReading
  tick(): LinePlcReading
}

export interface ModbusEndpoints {
  /** In the order of the model's meters. */
  meters: ScenarioMeterEndpoint[]
  /** In the order of the model's production counters. */
  plcs: ScenarioPlcEndpoint[]
}

export interface ModbusEndpointOptions {
  scenarioName: string
  /** Real ms between a meter's register updates; 0 = only on tick(). */
  updateIntervalMs: number
  /** Gets each served meter's stop; closed (with whatever it held before) when an endpoint fails. */
  stops: StopList
}

type Where = Pick<ScenarioModbusAccess, 'transport' | 'host' | 'port' | 'path' | 'baudRate'>

function plcEndpoint(x: LinePlc, p: ScenarioProduction, where: Where): ScenarioPlcEndpoint {
  return {
    address: p.address,
    key: p.key,
    quantity: p.quantity,
    profile: x.device.profile,
    ...where,
    unitId: x.device.unitId,
    register: LINE_PLC_REGISTERS[p.quantity],
    carrierRegisters: Object.fromEntries(x.device.carriers.map((c) => [c, LINE_PLC_CARRIER_REGISTERS[c]])),
    snapshot: x.device.snapshot,
    tick: x.device.tick,
  }
}

/** Serves one endpoint's meters and line PLCs: one TCP listener, or one serial line (RTU). */
async function serveEndpoint(
  members: readonly MeterMember[],
  linePlcs: readonly LinePlc[],
  production: readonly ScenarioProduction[],
  options: ModbusEndpointOptions,
): Promise<ModbusEndpoints> {
  const first = members[0]!.meter
  const entries = members.map(({ device }) => ({ device, updateIntervalMs: options.updateIntervalMs }))
  const plcDevices = linePlcs.map((x) => x.device)
  const meters: ScenarioMeterEndpoint[] = []
  const plcs: ScenarioPlcEndpoint[] = []
  if (first.transport === 'rtu') {
    const running = await serveMetersRtu({ path: first.serialPath as string, baudRate: first.baudRate }, entries, plcDevices)
    for (const x of linePlcs) plcs.push(plcEndpoint(x, production[x.index]!, { transport: 'rtu', path: running[0]!.path, baudRate: first.baudRate }))
    running.forEach((r, i) => {
      const m = members[i]!.meter
      options.stops.add(r.stop)
      meters.push({
        address: m.address,
        key: m.key,
        role: m.role,
        profile: m.profile,
        transport: 'rtu',
        path: r.path,
        baudRate: m.baudRate,
        unitId: r.unitId,
        snapshot: r.snapshot,
        tick: r.tick,
      })
    })
  } else {
    const running = await serveMeters({ host: first.host, port: first.port }, entries, plcDevices)
    for (const x of linePlcs) plcs.push(plcEndpoint(x, production[x.index]!, { transport: 'tcp', host: running[0]!.host, port: running[0]!.port }))
    running.forEach((r, i) => {
      const m = members[i]!.meter
      options.stops.add(r.stop)
      meters.push({
        address: m.address,
        key: m.key,
        role: m.role,
        profile: m.profile,
        transport: 'tcp',
        host: r.host,
        port: r.port,
        unitId: r.unitId,
        snapshot: r.snapshot,
        tick: r.tick,
      })
    })
  }
  return { meters, plcs }
}

/**
 * Serves every endpoint group in turn. When one cannot listen, what was served is stopped and a
 * SIM_ERR_LISTEN names the endpoint and its meters.
 */
export async function serveModbusEndpoints(
  model: { meters: readonly ScenarioMeter[]; production: readonly ScenarioProduction[] },
  groups: ReadonlyMap<string, readonly MeterMember[]>,
  plcsByEndpoint: ReadonlyMap<string, readonly LinePlc[]>,
  options: ModbusEndpointOptions,
): Promise<ModbusEndpoints> {
  const meters: ScenarioMeterEndpoint[] = []
  const plcs: ScenarioPlcEndpoint[] = []
  for (const [endpoint, members] of groups) {
    try {
      const served = await serveEndpoint(members, plcsByEndpoint.get(endpoint) ?? [], model.production, options)
      plcs.push(...served.plcs)
      meters.push(...served.meters)
    } catch (cause) {
      await options.stops.close()
      throw new PlantWattError(
        'SIM_ERR_LISTEN',
        `scenario ${options.scenarioName}: meters on ${endpoint} (${members.map((x) => x.meter.key).join(', ')}): ${(cause as Error).message}`,
        { cause },
      )
    }
  }
  const plcOrder = new Map(model.production.map((p, i) => [p.key, i]))
  plcs.sort((a, b) => (plcOrder.get(a.key) ?? 0) - (plcOrder.get(b.key) ?? 0))
  const meterOrder = new Map(model.meters.map((m, i) => [m.key, i]))
  meters.sort((a, b) => (meterOrder.get(a.key) ?? 0) - (meterOrder.get(b.key) ?? 0))
  return { meters, plcs }
}
