import { setTimeout as sleep } from 'node:timers/promises'
import type { Quality } from '../../core/payload.ts'
import { PlantWattError } from '../../core/errors.ts'
import type { ModbusDeviceConfig } from '../config.ts'
import type { Driver, PointError, ReadResult } from '../driver.ts'
import type { ModbusProfile, ProfilePoint, RatioRegister } from './profile.ts'
import { busLocation, classifyRequestError, createClient, type ModbusClient, type RequestFailure } from './client.ts'
import { decodeValue } from './decode.ts'
import { planReads, type ReadRequest } from './plan.ts'
import { formatAddress, isBitFunction } from './types.ts'

export interface ModbusDriverOptions {
  /** Builds the transport client (tests). Default: by `connection.transport`. */
  createClient?: (device: ModbusDeviceConfig) => ModbusClient
}

// MB §7: 05 Acknowledge, 06 Server Device Busy and 0B Gateway Target Device Failed to Respond are
// transient; the other exceptions answer the same way every time, so retrying them is pointless.
const TRANSIENT_EXCEPTIONS = new Set([0x05, 0x06, 0x0b])
// MB §7: exception 02, the address range of the request is not (wholly) implemented.
const ILLEGAL_DATA_ADDRESS = 0x02

type RatioName = 'ct' | 'pt'

/** A transformer ratio in use: its value, or why it is unknown (the points needing it are then bad). */
export type RatioState = { value: number; source: 'config' | 'meter' } | { error: { code: string; message: string } }

function describeRequest(req: ReadRequest<ProfilePoint>): string {
  return `${formatAddress(req.function, req.address)} ×${req.count}`
}

class ModbusDriver implements Driver {
  readonly kind = 'modbus'
  readonly endpoint: string
  private plan: ReadRequest<ProfilePoint>[]
  private client: ModbusClient | undefined
  /** The CT / PT ratios the scaled points need (only those), set at connect. */
  readonly ratios: Partial<Record<RatioName, RatioState>> = {}
  private readonly neededRatios: RatioName[]

  constructor(
    private readonly device: ModbusDeviceConfig,
    readonly profile: ModbusProfile,
    private readonly options: ModbusDriverOptions,
  ) {
    this.endpoint = endpointOf(device)
    this.plan = planReads(profile.points, {
      maxRegistersPerRead: device.maxRegistersPerRead,
      maxGapRegisters: device.maxGapRegisters,
    })
    this.neededRatios = (['ct', 'pt'] as const).filter((k) => profile.points.some((p) => p.ratio?.includes(k)))
  }

  /** Reads (or takes from the config) the ratios the profile's points need. Throws only on a lost connection. */
  private async loadRatios(client: ModbusClient, signal: AbortSignal, onlyMissing: boolean): Promise<void> {
    for (const kind of this.neededRatios) {
      const override = kind === 'ct' ? this.device.ctRatio : this.device.ptRatio
      if (override !== undefined) {
        this.ratios[kind] = { value: override, source: 'config' }
        continue
      }
      if (onlyMissing && this.ratios[kind] !== undefined && 'value' in this.ratios[kind]) continue
      const reg = this.profile.ratios?.[kind] as RatioRegister // validateProfile guarantees it
      const where = `${kind.toUpperCase()} ratio (${formatAddress(reg.function, reg.address)} ${reg.type})`
      try {
        const words = await this.execute(client, { function: reg.function, address: reg.address, count: reg.width, points: [] }, signal)
        const decoded = decodeValue(words, { type: reg.type, wordOrder: reg.wordOrder, scale: reg.scale, offset: 0 })
        if (!decoded.ok) this.ratios[kind] = { error: { code: 'EDGE_ERR_RATIO', message: `${where}: ${decoded.message}` } }
        else if (!(decoded.value > 0) || !Number.isFinite(decoded.value))
          this.ratios[kind] = { error: { code: 'EDGE_ERR_RATIO', message: `${where}: the meter reports ${decoded.value}, not a ratio` } }
        else this.ratios[kind] = { value: decoded.value, source: 'meter' }
      } catch (err) {
        signal.throwIfAborted()
        const failure = classifyRequestError(err)
        if (failure.code === 'EDGE_ERR_CONNECTION' || !client.isOpen) throw err
        this.ratios[kind] = { error: { code: failure.code, message: `${where}: ${failure.message}` } }
      }
    }
  }

  /** The multiplier of a point, or why it has none. */
  private multiplier(point: ProfilePoint): { value: number } | { error: { code: string; message: string } } {
    if (point.ratio === undefined) return { value: 1 }
    let value = 1
    for (const kind of ['ct', 'pt'] as const) {
      if (!point.ratio.includes(kind)) continue
      const r = this.ratios[kind]
      if (r === undefined) return { error: { code: 'EDGE_ERR_RATIO', message: `${kind.toUpperCase()} ratio not read yet` } }
      if ('error' in r) return r
      value *= r.value
    }
    return { value }
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    const client = (this.options.createClient ?? ((d: ModbusDeviceConfig) => createClient(d.connection)))(this.device)
    try {
      await client.connect(signal)
    } catch (cause) {
      await client.close()
      throw cause instanceof PlantWattError ? cause : new PlantWattError('EDGE_ERR_CONNECT', `${this.endpoint}: cannot connect`, { cause })
    }
    // Ratios are read afresh on every (re)connect: a replaced meter may have other settings.
    for (const k of this.neededRatios) delete this.ratios[k]
    try {
      const load = () => this.loadRatios(client, signal, false)
      await (client.exclusive ? client.exclusive(load) : load())
    } catch (cause) {
      await client.close()
      if (signal.aborted) throw cause
      throw new PlantWattError(
        'EDGE_ERR_CONNECTION',
        `${this.endpoint}: connection lost reading the transformer ratios: ${classifyRequestError(cause).message}`,
        { cause },
      )
    }
    this.client = client
  }

  async read(signal: AbortSignal): Promise<ReadResult> {
    const client = this.client
    if (!client?.isOpen) throw new PlantWattError('EDGE_ERR_NOT_CONNECTED', `${this.endpoint}: not connected`)
    return client.exclusive ? client.exclusive(() => this.readAll(client, signal)) : this.readAll(client, signal)
  }

  private async readAll(client: ModbusClient, signal: AbortSignal): Promise<ReadResult> {
    // On a shared RTU bus a unit that does not answer would hold the line for every request of
    // its poll; after its first unanswered request the rest of the poll is skipped.
    const shared = this.device.connection.transport !== 'tcp'
    let skip: RequestFailure | undefined
    const values: Record<string, number> = {}
    const quality: Record<string, Quality> = {}
    const errors: PointError[] = []
    let timeouts = 0
    let executed = 0
    if (this.neededRatios.some((k) => this.ratios[k] === undefined || 'error' in this.ratios[k])) {
      // A ratio the connect could not read is tried again on every poll until it is known.
      try {
        await this.loadRatios(client, signal, true)
      } catch (err) {
        signal.throwIfAborted()
        await this.close()
        throw new PlantWattError(
          'EDGE_ERR_CONNECTION',
          `${this.endpoint}: connection lost reading the transformer ratios: ${classifyRequestError(err).message}`,
          { cause: err },
        )
      }
    }
    const queue = [...this.plan]
    for (let req = queue.shift(); req !== undefined; req = queue.shift()) {
      signal.throwIfAborted()
      executed++
      if (skip) {
        timeouts++
        this.markBad(req, skip, quality, errors)
        continue
      }
      let data: readonly number[] | readonly boolean[]
      try {
        data = await this.execute(client, req, signal)
      } catch (err) {
        signal.throwIfAborted()
        const failure = classifyRequestError(err)
        if (failure.code === 'EDGE_ERR_CONNECTION' || !client.isOpen) {
          await this.close()
          throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost reading ${describeRequest(req)}: ${failure.message}`, {
            cause: err,
          })
        }
        if (failure.code === 'EDGE_ERR_TIMEOUT') {
          timeouts++
          if (shared) skip = { code: 'EDGE_ERR_TIMEOUT', message: `skipped: unit ${this.device.connection.unitId} did not answer ${describeRequest(req)}` }
        }
        if (failure.modbusCode === ILLEGAL_DATA_ADDRESS && req.points.length > 1) {
          // Many devices refuse a read that spans registers they do not implement. Learn the
          // device's holes: split the read (first into gap-free runs, then into single points) for
          // this poll and every later one, so the points around the hole still get values.
          const parts = this.splitRequest(req)
          this.plan = this.plan.flatMap((r) => (r === req ? parts : [r]))
          queue.unshift(...parts)
          continue
        }
        this.markBad(req, failure, quality, errors)
        continue
      }
      for (const point of req.points) {
        const offset = point.address - req.address
        const raw = data.slice(offset, offset + point.width)
        const decoded = decodeValue(raw, point)
        const factor = decoded.ok ? this.multiplier(point) : undefined
        if (factor !== undefined && 'error' in factor) {
          // Never published unscaled: a secondary-side value would be off by the whole ratio.
          quality[point.quantity] = 'bad'
          errors.push({
            point: point.quantity,
            code: factor.error.code,
            message: `${this.endpoint} ${formatAddress(point.function, point.address)}: needs the ${point.ratio} ratio: ${factor.error.message}`,
          })
        } else if (decoded.ok) {
          values[point.quantity] = decoded.value * (factor?.value ?? 1)
        } else {
          quality[point.quantity] = 'bad'
          errors.push({
            point: point.quantity,
            code: 'EDGE_ERR_DECODE',
            message: `${formatAddress(point.function, point.address)} ${point.type}: ${decoded.message}`,
          })
        }
      }
    }
    if (executed > 0 && timeouts === executed) {
      // Nothing answered: a half-open TCP connection never recovers by itself, so start afresh (on
      // a shared bus this only releases this device's hold on the port).
      await this.close()
      throw new PlantWattError('EDGE_ERR_TIMEOUT', `${this.endpoint}: no reply to any of ${executed} request(s) within ${this.device.connection.timeoutMs} ms`)
    }
    return { ts: Date.now(), values, quality, errors }
  }

  private splitRequest(req: ReadRequest<ProfilePoint>): ReadRequest<ProfilePoint>[] {
    const runs = planReads(req.points, { maxRegistersPerRead: this.device.maxRegistersPerRead, maxGapRegisters: 0, maxGapBits: 0 })
    if (runs.length > 1) return runs
    return req.points.map((p) => ({ function: p.function, address: p.address, count: p.width, points: [p] }))
  }

  async close(): Promise<void> {
    const client = this.client
    this.client = undefined
    await client?.close()
  }

  private async execute(client: ModbusClient, req: ReadRequest<ProfilePoint>, signal: AbortSignal): Promise<readonly number[] | readonly boolean[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return isBitFunction(req.function)
          ? await client.readBits(req.function as 'coil' | 'discrete', req.address, req.count)
          : await client.readRegisters(req.function as 'holding' | 'input', req.address, req.count)
      } catch (err) {
        const failure = classifyRequestError(err)
        const transient =
          failure.code === 'EDGE_ERR_TIMEOUT' ||
          failure.code === 'EDGE_ERR_CRC' ||
          failure.code === 'EDGE_ERR_FRAME' ||
          (failure.modbusCode !== undefined && TRANSIENT_EXCEPTIONS.has(failure.modbusCode))
        if (!transient || attempt >= this.device.retries || !client.isOpen) throw err
        const backoff = this.device.retryBackoffMs * 2 ** attempt
        if (backoff > 0) await sleep(backoff, undefined, { signal })
      }
    }
  }

  private markBad(req: ReadRequest<ProfilePoint>, failure: RequestFailure, quality: Record<string, Quality>, errors: PointError[]): void {
    const what =
      failure.code === 'EDGE_ERR_TIMEOUT' && !failure.message.startsWith('skipped') ? `no reply within ${this.device.connection.timeoutMs} ms` : failure.message
    for (const point of req.points) {
      quality[point.quantity] = 'bad'
      errors.push({ point: point.quantity, code: failure.code, message: `${this.endpoint} ${describeRequest(req)}: ${what}` })
    }
  }
}

const SERIAL_KEYS = ['path', 'baudRate', 'parity', 'dataBits', 'stopBits'] as const

/** Keys a transport needs, and keys that mean nothing for it (a likely mix-up worth reporting). */
export function connectionProblems(c: ModbusDeviceConfig['connection']): string[] {
  const problems: string[] = []
  if (c.transport === 'rtu') {
    if (c.path === undefined) problems.push('transport rtu needs path (e.g. /dev/ttyUSB0)')
    if (c.host !== undefined) problems.push('host is not used by transport rtu (use rtu-over-tcp for a serial gateway)')
  } else {
    if (c.host === undefined) problems.push(`transport ${c.transport} needs host`)
    for (const k of SERIAL_KEYS) if (c[k] !== undefined) problems.push(`${k} is only used by transport rtu`)
  }
  if (c.transport === 'rtu' && c.dataBits === 7) problems.push('dataBits 7 is Modbus ASCII; RTU needs 8 (Modbus over Serial Line §2.5.1)')
  return problems
}

/** How a device is named in errors: `tcp://h:502 unit 1`, `rtu:/dev/ttyUSB0 9600 8E1 unit 3`. */
export function endpointOf(device: ModbusDeviceConfig): string {
  const c = device.connection
  if (c.transport === 'tcp') return `tcp://${c.host}:${c.port} unit ${c.unitId}`
  const loc = busLocation(c)
  if (loc.transport === 'rtu') return `rtu:${loc.path} ${loc.baudRate} ${loc.dataBits}${loc.parity[0]!.toUpperCase()}${loc.stopBits} unit ${c.unitId}`
  return `rtu-over-tcp://${loc.host}:${loc.port} unit ${c.unitId}`
}

/** Checks a Modbus device's settings (not its profile); throws EDGE_ERR_DRIVER_CONFIG. */
export function checkModbusDevice(device: ModbusDeviceConfig): void {
  if (device.driver !== 'modbus') {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: driver ${JSON.stringify(device.driver)} is not modbus`)
  }
  const problems = connectionProblems(device.connection)
  if (device.opcua !== undefined) problems.push('the opcua: section is for driver opcua only')
  if (problems.length > 0) {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: connection: ${problems.join('; ')}`, { details: problems })
  }
}

/**
 * A Modbus driver for one device. Validates and plans the reads (throws EDGE_ERR_DRIVER_CONFIG);
 * does no I/O until `connect`. A Modbus exception or timeout on one request marks that request's
 * points bad while the others still return values; a lost connection (or no reply to any request)
 * makes `read` throw, and the next `connect` starts afresh.
 */
export function createModbusDriver(device: ModbusDeviceConfig, profile: ModbusProfile, options: ModbusDriverOptions = {}): Driver {
  checkModbusDevice(device)
  try {
    return new ModbusDriver(device, profile, options)
  } catch (cause) {
    if (cause instanceof PlantWattError) {
      throw new PlantWattError(cause.code, `device ${device.device} (profile ${profile.name}): ${cause.message}`, { cause })
    }
    throw cause
  }
}
