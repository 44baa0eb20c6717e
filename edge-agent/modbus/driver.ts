import type { Quality } from '../../core/payload.ts'
import { PlantWattError } from '../../core/errors.ts'
import type { ModbusDeviceConfig } from '../config.ts'
import type { Driver, PointError, ReadResult } from '../driver.ts'
import type { ModbusProfile, ProfilePoint } from '../profile.ts'
import { classifyRequestError, createTcpClient, type ModbusClient, type RequestFailure } from './client.ts'
import { decodeValue } from './decode.ts'
import { planReads, type ReadRequest } from './plan.ts'
import { formatAddress, isBitFunction } from './types.ts'

export interface ModbusDriverOptions {
  /** Builds the transport client (tests, and the RTU transport later). Default: Modbus TCP. */
  createClient?: (device: ModbusDeviceConfig) => ModbusClient
}

// MB §7: 05 Acknowledge, 06 Server Device Busy and 0B Gateway Target Device Failed to Respond are
// transient; the other exceptions answer the same way every time, so retrying them is pointless.
const TRANSIENT_EXCEPTIONS = new Set([0x05, 0x06, 0x0b])

function describeRequest(req: ReadRequest<ProfilePoint>): string {
  return `${formatAddress(req.function, req.address)} ×${req.count}`
}

class ModbusDriver implements Driver {
  readonly kind = 'modbus'
  readonly endpoint: string
  private readonly plan: ReadRequest<ProfilePoint>[]
  private client: ModbusClient | undefined

  constructor(
    private readonly device: ModbusDeviceConfig,
    readonly profile: ModbusProfile,
    private readonly options: ModbusDriverOptions,
  ) {
    const c = device.connection
    this.endpoint = `tcp://${c.host}:${c.port} unit ${c.unitId}`
    this.plan = planReads(profile.points, {
      maxRegistersPerRead: device.maxRegistersPerRead,
      maxGapRegisters: device.maxGapRegisters,
    })
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    const client = (this.options.createClient ?? ((d: ModbusDeviceConfig) => createTcpClient(d.connection)))(this.device)
    try {
      await client.connect(signal)
    } catch (cause) {
      await client.close()
      throw cause instanceof PlantWattError ? cause : new PlantWattError('EDGE_ERR_CONNECT', `${this.endpoint}: cannot connect`, { cause })
    }
    this.client = client
  }

  async read(signal: AbortSignal): Promise<ReadResult> {
    const client = this.client
    if (!client?.isOpen) throw new PlantWattError('EDGE_ERR_NOT_CONNECTED', `${this.endpoint}: not connected`)
    const values: Record<string, number> = {}
    const quality: Record<string, Quality> = {}
    const errors: PointError[] = []
    let timeouts = 0
    for (const req of this.plan) {
      signal.throwIfAborted()
      let data: readonly number[] | readonly boolean[]
      try {
        data = await this.execute(client, req)
      } catch (err) {
        const failure = classifyRequestError(err)
        if (failure.code === 'EDGE_ERR_CONNECTION' || !client.isOpen) {
          await this.close()
          throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost reading ${describeRequest(req)}: ${failure.message}`, { cause: err })
        }
        if (failure.code === 'EDGE_ERR_TIMEOUT') timeouts++
        this.markBad(req, failure, quality, errors)
        continue
      }
      for (const point of req.points) {
        const offset = point.address - req.address
        const raw = data.slice(offset, offset + point.width)
        const decoded = decodeValue(raw, point)
        if (decoded.ok) {
          values[point.quantity] = decoded.value
        } else {
          quality[point.quantity] = 'bad'
          errors.push({ point: point.quantity, code: 'EDGE_ERR_DECODE', message: `${formatAddress(point.function, point.address)} ${point.type}: ${decoded.message}` })
        }
      }
    }
    if (this.plan.length > 0 && timeouts === this.plan.length) {
      // Nothing answered: a half-open TCP connection never recovers by itself, so start afresh.
      await this.close()
      throw new PlantWattError('EDGE_ERR_TIMEOUT', `${this.endpoint}: no reply to any of ${this.plan.length} request(s) within ${this.device.connection.timeoutMs} ms`)
    }
    return { ts: Date.now(), values, quality, errors }
  }

  async close(): Promise<void> {
    const client = this.client
    this.client = undefined
    await client?.close()
  }

  private async execute(client: ModbusClient, req: ReadRequest<ProfilePoint>): Promise<readonly number[] | readonly boolean[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return isBitFunction(req.function)
          ? await client.readBits(req.function as 'coil' | 'discrete', req.address, req.count)
          : await client.readRegisters(req.function as 'holding' | 'input', req.address, req.count)
      } catch (err) {
        const failure = classifyRequestError(err)
        const transient = failure.code === 'EDGE_ERR_TIMEOUT' || (failure.modbusCode !== undefined && TRANSIENT_EXCEPTIONS.has(failure.modbusCode))
        if (!transient || attempt >= this.device.retries || !client.isOpen) throw err
      }
    }
  }

  private markBad(req: ReadRequest<ProfilePoint>, failure: RequestFailure, quality: Record<string, Quality>, errors: PointError[]): void {
    const what = failure.code === 'EDGE_ERR_TIMEOUT' ? `no reply within ${this.device.connection.timeoutMs} ms` : failure.message
    for (const point of req.points) {
      quality[point.quantity] = 'bad'
      errors.push({ point: point.quantity, code: failure.code, message: `${this.endpoint} ${describeRequest(req)}: ${what}` })
    }
  }
}

/**
 * A Modbus driver for one device. Validates and plans the reads (throws EDGE_ERR_DRIVER_CONFIG);
 * does no I/O until `connect`. A Modbus exception or timeout on one request marks that request's
 * points bad while the others still return values; a lost connection (or no reply to any request)
 * makes `read` throw, and the next `connect` starts afresh.
 */
export function createModbusDriver(device: ModbusDeviceConfig, profile: ModbusProfile, options: ModbusDriverOptions = {}): Driver {
  if (device.driver !== 'modbus') {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: driver ${JSON.stringify(device.driver)} is not modbus`)
  }
  if (device.connection.transport !== 'tcp') {
    throw new PlantWattError('EDGE_ERR_DRIVER_CONFIG', `device ${device.device}: transport ${JSON.stringify(device.connection.transport)} is not supported yet`)
  }
  try {
    return new ModbusDriver(device, profile, options)
  } catch (cause) {
    if (cause instanceof PlantWattError) {
      throw new PlantWattError(cause.code, `device ${device.device} (profile ${profile.name}): ${cause.message}`, { cause })
    }
    throw cause
  }
}
