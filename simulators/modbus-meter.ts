import Type from 'typebox'
import { schemaProblems } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { createMeterModel, createOffsetFn, type MeterExtraValues, type MeterReading, type MeterValues } from './load.ts'
import { defaultCtRatio, METER_PROFILE_IDS, METER_PROFILES, type MeterProfileId } from './meters/index.ts'
import { hubeiTouPeriodAt } from './tou.ts'
import type { ModbusUnit } from './modbus/pdu.ts'
import { RegisterSpace } from './modbus/registers.ts'
import { startModbusRtuServer, type ModbusRtuServerOptions } from './modbus/rtu-server.ts'
import { startModbusTcpServer, type ModbusTcpServer } from './modbus/tcp-server.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'

/** The values a meter served from one update tick until the next. */
export interface MeterSnapshot {
  /** Epoch ms of the tick (from the meter's clock). */
  ts: number
  /** Tick number, 0 for the state at start. */
  seq: number
  /** Canonical quantities (core/quantities.ts). */
  values: MeterValues
  /** Served values without a canonical name (per-phase VA/var, neutral current, kvarh). */
  extra: MeterExtraValues
}

const OptionsSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    unitId: Type.Optional(Type.Integer({ minimum: 1, maximum: 247 })),
    profile: Type.Enum(METER_PROFILE_IDS),
    ratedKw: Type.Number({ exclusiveMinimum: 0 }),
    seed: Type.Optional(Type.Integer()),
    updateIntervalMs: Type.Optional(Type.Integer({ minimum: 0 })),
    startEnergyKwh: Type.Optional(Type.Number({ minimum: 0 })),
    startExportKwh: Type.Optional(Type.Number({ minimum: 0 })),
    timezone: Type.Optional(Type.String()),
    historySize: Type.Optional(Type.Integer({ minimum: 1 })),
    ctRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    ptRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
)

export interface MeterDeviceOptions {
  /** Modbus unit (slave) id, 1–247. Default 1. */
  unitId?: number
  profile: MeterProfileId
  /** Active power at load shape 1.0, kW. */
  ratedKw: number
  /** Default 1. */
  seed?: number
  /** Import energy counter at start, kWh. Default 0. */
  startEnergyKwh?: number
  /** Export energy counter at start, kWh (total = import + export). Default 0. */
  startExportKwh?: number
  /** IANA zone whose local time of week drives the load shape. Default Asia/Shanghai. */
  timezone?: string
  /** Epoch-ms clock read at each tick. Default Date.now. Inject one to run hours in milliseconds. */
  clock?: () => number
  /** Snapshots kept by history(). Default 3600. */
  historySize?: number
  /** CT ratio served (and applied by secondary-side maps). Default: 1, or a standard x/5 A ratio for the rating on secondary-side profiles. */
  ctRatio?: number
  /** PT ratio. Default 1 (low-voltage connection). */
  ptRatio?: number
  /** Active power at t, kW, replacing rating × steel shape (scenario lines). Pure in t. */
  powerKw?: (t: number) => number
  /** Total power factor at t (scenario lines). Pure in t. */
  powerFactor?: (t: number) => number
  /** Fault hooks (faults.ts): what the device shows and whether it answers. */
  hooks?: MeterHooks
}

/** Ways a fault changes a meter without touching its physics. All default to "healthy". */
export interface MeterHooks {
  /** Alters the values the registers show (garbage, stuck, counter reset) at clock time t. */
  present?: (reading: MeterReading, t: number) => MeterReading
  /** False while the device is offline: requests get no answer at all. */
  online?: (t: number) => boolean
  /** Offset of the device's own clock from true time, ms (clock skew); moves its TOU split. */
  clockOffsetMs?: (t: number) => number
}

/** A simulated meter without transport: its register image changes only when tick() runs. */
export interface MeterDevice extends ModbusUnit {
  readonly unitId: number
  readonly profile: MeterProfileId
  snapshot(): MeterSnapshot
  /** The last `historySize` snapshots, oldest first. */
  history(): MeterSnapshot[]
  /** Reads the clock, integrates energy since the previous tick and publishes a new image. */
  tick(): MeterSnapshot
  readonly ctRatio: number
  readonly ptRatio: number
  /** Forward energy by Hubei TOU period (critical peak, peak, flat, valley) as of the last tick, kWh. */
  touImportKwh(): [number, number, number, number]
}

export interface MeterSimulatorOptions extends MeterDeviceOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** 0 = any free port (default); RunningMeter.port reports the bound one. */
  port?: number
  /** Real-time period of update ticks, ms. 0 = only when tick() is called. Default 1000. */
  updateIntervalMs?: number
}

export interface RunningMeter {
  readonly host: string
  readonly port: number
  readonly unitId: number
  readonly profile: MeterProfileId
  /** What the registers hold now. */
  snapshot(): MeterSnapshot
  /** The last served snapshots (default 3600), oldest first, to match a read to the tick it saw. */
  history(): MeterSnapshot[]
  /** Forces an update tick now (reads the clock); the timer keeps running. */
  tick(): MeterSnapshot
  /** Stops ticking and stops serving this meter; the port is freed once no meter uses it. */
  stop(): Promise<void>
}

function checkOptions(options: MeterSimulatorOptions): void {
  const { clock, powerKw, powerFactor, hooks, ...data } = options
  const problems = schemaProblems(OptionsSchema, data)
  for (const [key, fn] of Object.entries({ clock, powerKw, powerFactor })) {
    if (fn !== undefined && typeof fn !== 'function') problems.push({ path: `/${key}`, message: 'must be a function of epoch ms' })
  }
  if (hooks !== undefined && (typeof hooks !== 'object' || hooks === null)) problems.push({ path: '/hooks', message: 'must be an object' })
  if (problems.length > 0) {
    throw new PlantWattError('SIM_ERR_CONFIG', `meter simulator options: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { details: problems })
  }
}

/** Builds a meter (no I/O, no timers) and runs its first tick so the registers hold values at once. */
export function createMeterDevice(options: MeterDeviceOptions): MeterDevice {
  checkOptions(options)
  const unitId = options.unitId ?? 1
  const profile = METER_PROFILES[options.profile]
  const clock = options.clock ?? Date.now
  const historySize = options.historySize ?? 3600
  const timezone = options.timezone ?? DEFAULT_TIMEZONE
  const model = createMeterModel({
    ratedKw: options.ratedKw,
    seed: options.seed ?? 1,
    startEnergyKwh: options.startEnergyKwh ?? 0,
    ...(options.startExportKwh ? { startExportKwh: options.startExportKwh } : {}),
    timezone,
    ...(options.powerKw ? { powerKw: options.powerKw } : {}),
    ...(options.powerFactor ? { powerFactor: options.powerFactor } : {}),
  })
  const ctRatio = options.ctRatio ?? (profile.side === 'secondary' ? defaultCtRatio(options.ratedKw) : 1)
  const ptRatio = options.ptRatio ?? 1
  const hooks = options.hooks ?? {}
  const offsetAt = createOffsetFn(timezone)
  const input = new RegisterSpace(profile.input, `${profile.id} input registers`, profile.gaps)
  const holding = new RegisterSpace(profile.holding, `${profile.id} holding registers`, profile.gaps)
  const ring: MeterSnapshot[] = []
  let next = 0
  let current: MeterSnapshot
  let seq = 0
  // The start energy is booked as valley energy: a TOU split needs somewhere to put what came before.
  const tou: [number, number, number, number] = [0, 0, 0, options.startEnergyKwh ?? 0]
  let lastImport = options.startEnergyKwh ?? 0

  const tick = (): MeterSnapshot => {
    const t = clock()
    const physical = model.update(t)
    // A meter books each increment into the period its own clock shows (so clock skew moves it).
    const deviceT = t + (hooks.clockOffsetMs?.(t) ?? 0)
    const period = hubeiTouPeriodAt(deviceT, offsetAt(deviceT))
    tou[period] += physical.values.energy_import_kwh - lastImport
    lastImport = physical.values.energy_import_kwh
    const reading = hooks.present ? hooks.present(physical, t) : physical
    const snap: MeterSnapshot = Object.freeze({ ts: reading.ts, seq: seq++, values: Object.freeze(reading.values), extra: Object.freeze(reading.extra) })
    const frame = { reading, unitId, ctRatio, ptRatio, touImportKwh: [...tou] as [number, number, number, number] }
    input.update(frame)
    holding.update(frame)
    current = snap
    if (ring.length < historySize) ring.push(snap)
    else ring[next] = snap
    next = (next + 1) % historySize
    return snap
  }
  current = tick()

  return {
    unitId,
    profile: options.profile,
    snapshot: () => current,
    history: () => (ring.length < historySize ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)]),
    tick,
    ctRatio,
    ptRatio,
    touImportKwh: () => [...tou] as [number, number, number, number],
    ...(hooks.online ? { responding: () => (hooks.online as (t: number) => boolean)(clock()) } : {}),
    readInputRegisters: (address, count) => input.read(address, count),
    readHoldingRegisters: (address, count) => holding.read(address, count),
  }
}

type ServedMeter = { device: MeterDevice; updateIntervalMs: number }
type ExtraUnit = ModbusUnit & { readonly unitId: number }

/** The unit table of one transport: every meter and extra unit by unit id, each id once. */
function unitTable(meters: ReadonlyArray<ServedMeter>, extraUnits: ReadonlyArray<ExtraUnit>, where: string): Map<number, ModbusUnit> {
  const units = new Map<number, ModbusUnit>()
  for (const device of [...meters.map((m) => m.device), ...extraUnits]) {
    if (units.has(device.unitId)) throw new PlantWattError('SIM_ERR_CONFIG', `unit id ${device.unitId} is used twice on ${where}`)
    units.set(device.unitId, device)
  }
  return units
}

/**
 * Per meter: its update timer and a stop() that removes its unit and closes the shared server
 * once the last meter on it has stopped.
 */
function runMeters(
  meters: ReadonlyArray<ServedMeter>,
  units: Map<number, ModbusUnit>,
  server: { close(): Promise<void> },
): Array<Omit<RunningMeter, 'host' | 'port'>> {
  let live = meters.length
  return meters.map(({ device, updateIntervalMs }) => {
    const timer = updateIntervalMs > 0 ? setInterval(device.tick, updateIntervalMs) : undefined
    // The server keeps the process alive while it serves; the timer alone should not.
    timer?.unref()
    let stopped: Promise<void> | undefined
    return {
      unitId: device.unitId,
      profile: device.profile,
      snapshot: device.snapshot,
      history: device.history,
      tick: device.tick,
      stop() {
        stopped ??= (async () => {
          if (timer) clearInterval(timer)
          units.delete(device.unitId)
          if (--live === 0) await server.close()
        })()
        return stopped
      },
    }
  })
}

/**
 * Serves several meters on one TCP endpoint, dispatched by unit id (like an RS-485 gateway), each
 * ticking on its own timer. Used by startMeterSimulator (one meter) and by startSimulation.
 */
export async function serveMeters(
  endpoint: { host?: string; port?: number },
  meters: ReadonlyArray<ServedMeter>,
  /** More units on the same endpoint (line PLCs), served until the last meter stops; they tick elsewhere. */
  extraUnits: ReadonlyArray<ExtraUnit> = [],
): Promise<RunningMeter[]> {
  const units = unitTable(meters, extraUnits, `${endpoint.host ?? '127.0.0.1'}:${endpoint.port ?? 0}`)
  const server: ModbusTcpServer = await startModbusTcpServer({ host: endpoint.host, port: endpoint.port, units })
  return runMeters(meters, units, server).map((m) => ({ ...m, host: server.host, port: server.port }))
}

/** A meter served over Modbus RTU: like RunningMeter, with the serial device in place of host/port. */
export interface RunningRtuMeter extends Omit<RunningMeter, 'host' | 'port'> {
  readonly path: string
}

/**
 * Serves several meters as slaves on one serial line (RS-485 bus), by unit id, each ticking on its
 * own timer. The line is closed once every meter on it has stopped.
 */
export async function serveMetersRtu(
  serial: Omit<ModbusRtuServerOptions, 'units'>,
  meters: ReadonlyArray<ServedMeter>,
  /** More slaves on the same line (line PLCs), served until the last meter stops; they tick elsewhere. */
  extraUnits: ReadonlyArray<ExtraUnit> = [],
): Promise<RunningRtuMeter[]> {
  const units = unitTable(meters, extraUnits, serial.path)
  const server = await startModbusRtuServer({ ...serial, units })
  return runMeters(meters, units, server).map((m) => ({ ...m, path: server.path }))
}

/** Starts one simulated meter on its own Modbus TCP port. */
export async function startMeterSimulator(options: MeterSimulatorOptions): Promise<RunningMeter> {
  const device = createMeterDevice(options)
  const [meter] = await serveMeters({ host: options.host, port: options.port }, [{ device, updateIntervalMs: options.updateIntervalMs ?? 1000 }])
  return meter as RunningMeter
}
