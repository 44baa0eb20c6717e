import ModbusRTU from 'modbus-serial'
import { PlantWattError } from '../../core/errors.ts'
import type { ModbusTcpConnection } from '../config.ts'
import { FUNCTION_CODES } from './types.ts'

/**
 * The few Modbus operations the driver needs. One implementation per transport: TCP now; RTU
 * (serial, one bus shared by several unit ids) implements the same interface later.
 */
export interface ModbusClient {
  readonly isOpen: boolean
  /** Opens the connection; rejects with EDGE_ERR_CONNECT after `timeoutMs` or when `signal` aborts. */
  connect(signal: AbortSignal): Promise<void>
  /** FC3/FC4: `count` 16-bit words starting at `address`. */
  readRegisters(fn: 'holding' | 'input', address: number, count: number): Promise<number[]>
  /** FC1/FC2: `count` bits starting at `address`. */
  readBits(fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]>
  close(): Promise<void>
}

/** What went wrong with one request, in the driver's error codes. */
export interface RequestFailure {
  code: 'EDGE_ERR_MODBUS_EXCEPTION' | 'EDGE_ERR_TIMEOUT' | 'EDGE_ERR_CONNECTION'
  message: string
  /** The exception code of a Modbus exception response (MB §7). */
  modbusCode?: number
}

/**
 * Maps modbus-serial's errors: an exception response carries `modbusCode`; a request without a
 * reply is `ETIMEDOUT`; anything else (port not open, socket errors) means the connection is gone.
 */
export function classifyRequestError(err: unknown): RequestFailure {
  const e = err as { modbusCode?: unknown; errno?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (typeof e?.modbusCode === 'number') return { code: 'EDGE_ERR_MODBUS_EXCEPTION', message, modbusCode: e.modbusCode }
  if (e?.errno === 'ETIMEDOUT') return { code: 'EDGE_ERR_TIMEOUT', message }
  return { code: 'EDGE_ERR_CONNECTION', message }
}

type RtuInstance = InstanceType<typeof ModbusRTU.default>

class TcpModbusClient implements ModbusClient {
  private rtu: RtuInstance | undefined

  constructor(private readonly conn: ModbusTcpConnection) {}

  get isOpen(): boolean {
    return this.rtu?.isOpen ?? false
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    // A fresh instance per connection: modbus-serial keeps per-port transaction state.
    const rtu = new ModbusRTU.default()
    // modbus-serial re-emits socket errors; without a listener an EventEmitter 'error' kills the process.
    rtu.on('error', () => {})
    rtu.setID(this.conn.unitId)
    rtu.setTimeout(this.conn.timeoutMs)
    this.rtu = rtu
    const where = `tcp://${this.conn.host}:${this.conn.port}`
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    try {
      await Promise.race([
        rtu.connectTCP(this.conn.host, { port: this.conn.port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${this.conn.timeoutMs} ms`)), this.conn.timeoutMs)
          onAbort = () => reject(new Error('aborted'))
          if (signal.aborted) onAbort()
          signal.addEventListener('abort', onAbort, { once: true })
        }),
      ])
    } catch (cause) {
      await this.close()
      const reason = (cause as { message?: string } | null)?.message ?? String(cause)
      throw new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${where}: ${reason}`, { cause })
    } finally {
      clearTimeout(timer)
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
  }

  async readRegisters(fn: 'holding' | 'input', address: number, count: number): Promise<number[]> {
    const rtu = this.open()
    const res = FUNCTION_CODES[fn] === 3 ? await rtu.readHoldingRegisters(address, count) : await rtu.readInputRegisters(address, count)
    return res.data
  }

  async readBits(fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]> {
    const rtu = this.open()
    const res = FUNCTION_CODES[fn] === 1 ? await rtu.readCoils(address, count) : await rtu.readDiscreteInputs(address, count)
    // The reply is padded to whole bytes (MB §6.1): keep the bits asked for.
    return res.data.slice(0, count)
  }

  async close(): Promise<void> {
    const rtu = this.rtu
    this.rtu = undefined
    if (!rtu) return
    // destroy, not close: modbus-serial's close() never calls back when the socket is already gone.
    await new Promise<void>((resolve) => rtu.destroy(() => resolve()))
  }

  private open(): RtuInstance {
    if (!this.rtu || !this.rtu.isOpen) throw Object.assign(new Error('port not open'), { errno: 'ECONNCLOSED' })
    return this.rtu
  }
}

/** A Modbus TCP client (MBAP framing) over modbus-serial. No I/O until `connect`. */
export function createTcpClient(conn: ModbusTcpConnection): ModbusClient {
  return new TcpModbusClient(conn)
}

