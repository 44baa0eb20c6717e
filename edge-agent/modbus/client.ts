import { setTimeout as sleep } from 'node:timers/promises'
import ModbusRTU from 'modbus-serial'
import { PlantWattError } from '../../core/errors.ts'
import type { ModbusConnection } from '../config.ts'
import { SharedLine } from '../shared-link.ts'
import { FUNCTION_CODES } from './types.ts'

/**
 * The few Modbus operations the driver needs. One implementation per transport: Modbus TCP (one
 * connection per device), and RTU on a serial line or over TCP, where every device on one bus
 * shares the line (`createBusClient`).
 */
export interface ModbusClient {
  readonly isOpen: boolean
  /** Opens the connection; rejects with EDGE_ERR_CONNECT after `timeoutMs` or when `signal` aborts. */
  connect(signal: AbortSignal): Promise<void>
  /** FC3/FC4: `count` 16-bit words starting at `address`. */
  readRegisters(fn: 'holding' | 'input', address: number, count: number): Promise<number[]>
  /** FC1/FC2: `count` bits starting at `address`. */
  readBits(fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]>
  /**
   * Runs `fn` with the line to this device alone: on a shared RTU bus the other devices wait, so
   * one poll is never interleaved with another (one master, one transaction at a time).
   */
  exclusive?<T>(fn: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** What went wrong with one request, in the driver's error codes. */
export interface RequestFailure {
  code: 'EDGE_ERR_MODBUS_EXCEPTION' | 'EDGE_ERR_TIMEOUT' | 'EDGE_ERR_CONNECTION' | 'EDGE_ERR_CRC' | 'EDGE_ERR_FRAME'
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
  // Set by the RTU bus client: a garbled reply on a serial line is noise, not a lost link.
  if (e?.errno === 'EDGE_ERR_CRC' || e?.errno === 'EDGE_ERR_FRAME') return { code: e.errno, message }
  // modbus-serial's own checks of a reply it could match to the request (Modbus TCP: by the MBAP
  // transaction id): a reply that is too short, from another unit id or for another function is a
  // device fault on this request, not a lost link.
  if (/^CRC error/.test(message)) return { code: 'EDGE_ERR_CRC', message }
  const wrongUnit = /^Unexpected data error, expected address (\d+) got (\d+)/.exec(message)
  if (wrongUnit) return { code: 'EDGE_ERR_FRAME', message: `reply from unit ${wrongUnit[2]}, expected unit ${wrongUnit[1]} (wrong slave id)` }
  const short = /^Data length error, expected (\d+) got (\d+)/.exec(message)
  if (short) return { code: 'EDGE_ERR_FRAME', message: `reply of ${short[2]} byte(s), expected ${short[1]} (short or malformed frame)` }
  if (/^Unexpected data error/.test(message)) return { code: 'EDGE_ERR_FRAME', message: `malformed reply: ${message}` }
  return { code: 'EDGE_ERR_CONNECTION', message }
}

type RtuInstance = InstanceType<typeof ModbusRTU.default>

/** Opens `open()` within `timeoutMs`, abortable; failures become EDGE_ERR_CONNECT naming `where`. */
async function openWithin(where: string, timeoutMs: number, signal: AbortSignal, open: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    await Promise.race([
      open(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)
        onAbort = () => reject(new Error('aborted'))
        if (signal.aborted) onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } catch (cause) {
    const reason = (cause as { message?: string } | null)?.message ?? String(cause)
    throw new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${where}: ${reason}`, { cause })
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

function newInstance(): RtuInstance {
  const rtu = new ModbusRTU.default()
  // modbus-serial re-emits port errors; without a listener an EventEmitter 'error' kills the process.
  rtu.on('error', () => {})
  return rtu
}

// destroy, not close: modbus-serial's close() never calls back when the socket is already gone.
const destroy = (rtu: RtuInstance) => new Promise<void>((resolve) => rtu.destroy(() => resolve()))

async function readRegistersOf(rtu: RtuInstance, fn: 'holding' | 'input', address: number, count: number): Promise<number[]> {
  const res = FUNCTION_CODES[fn] === 3 ? await rtu.readHoldingRegisters(address, count) : await rtu.readInputRegisters(address, count)
  return res.data
}

async function readBitsOf(rtu: RtuInstance, fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]> {
  const res = FUNCTION_CODES[fn] === 1 ? await rtu.readCoils(address, count) : await rtu.readDiscreteInputs(address, count)
  // The reply is padded to whole bytes (MB §6.1): keep the bits asked for.
  return res.data.slice(0, count)
}

const notOpen = () => Object.assign(new Error('port not open'), { errno: 'ECONNCLOSED' })

class TcpModbusClient implements ModbusClient {
  private rtu: RtuInstance | undefined

  constructor(private readonly conn: ModbusConnection) {}

  get isOpen(): boolean {
    return this.rtu?.isOpen ?? false
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    // A fresh instance per connection: modbus-serial keeps per-port transaction state.
    const rtu = newInstance()
    rtu.setID(this.conn.unitId)
    rtu.setTimeout(this.conn.timeoutMs)
    this.rtu = rtu
    const host = this.conn.host ?? ''
    try {
      await openWithin(`tcp://${host}:${this.conn.port}`, this.conn.timeoutMs, signal, () => rtu.connectTCP(host, { port: this.conn.port }))
    } catch (err) {
      await this.close()
      throw err
    }
  }

  async readRegisters(fn: 'holding' | 'input', address: number, count: number): Promise<number[]> {
    return readRegistersOf(this.open(), fn, address, count)
  }

  async readBits(fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]> {
    return readBitsOf(this.open(), fn, address, count)
  }

  async close(): Promise<void> {
    const rtu = this.rtu
    this.rtu = undefined
    if (rtu) await destroy(rtu)
  }

  private open(): RtuInstance {
    if (!this.rtu || !this.rtu.isOpen) throw notOpen()
    return this.rtu
  }
}

/** A Modbus TCP client (MBAP framing) over modbus-serial. No I/O until `connect`. */
export function createTcpClient(conn: ModbusConnection): ModbusClient {
  return new TcpModbusClient(conn)
}

/** The serial line settings of an RTU bus, defaults applied. */
export interface SerialSettings {
  path: string
  baudRate: number
  parity: 'none' | 'even' | 'odd'
  dataBits: 7 | 8
  stopBits: 1 | 2
}

/** Where an RTU bus is: a serial port, or a serial-to-Ethernet converter passing raw RTU frames. */
export type BusLocation = ({ transport: 'rtu' } & SerialSettings) | { transport: 'rtu-over-tcp'; host: string; port: number }

export function busLocation(conn: ModbusConnection): BusLocation {
  if (conn.transport === 'rtu') {
    return {
      transport: 'rtu',
      path: conn.path ?? '',
      baudRate: conn.baudRate ?? 9600,
      parity: conn.parity ?? 'none',
      dataBits: conn.dataBits ?? 8,
      stopBits: conn.stopBits ?? 1,
    }
  }
  return { transport: 'rtu-over-tcp', host: conn.host ?? '', port: conn.port }
}

/** One key per physical bus: devices with the same key share one port and take turns on it. */
export function busKey(location: BusLocation): string {
  return location.transport === 'rtu' ? `rtu:${location.path}` : `rtu-over-tcp://${location.host}:${location.port}`
}

/** The receive buffer of modbus-serial's RTU ports (RtuBufferedPort, TelnetPort): not public API. */
interface PortWithBuffer {
  _buffer?: Buffer
}

/**
 * One RTU bus: one open port shared by every device on it, reference-counted, with a FIFO lock so
 * that only one device talks at a time (Modbus over Serial Line V1.02 §2.1: one master, one
 * outstanding request).
 */
class RtuBus extends SharedLine {
  private rtu: RtuInstance | undefined

  constructor(
    key: string,
    private readonly location: BusLocation,
  ) {
    super(key)
  }

  get isOpen(): boolean {
    return this.rtu?.isOpen ?? false
  }

  protected detach(): (() => Promise<void>) | undefined {
    const rtu = this.rtu
    this.rtu = undefined
    return rtu ? () => this.shut(rtu) : undefined
  }

  private async shut(rtu: RtuInstance): Promise<void> {
    if (this.location.transport === 'rtu-over-tcp') return destroy(rtu)
    // modbus-serial's destroy() does not close a serial port (its RTU port has no destroy): close
    // it, or the port's exclusive lock stays held and the next open fails. Bounded: a vanished
    // device may never call back.
    await Promise.race([new Promise<void>((resolve) => rtu.close(() => resolve())), sleep(1000)])
  }

  async request<T>(unitId: number, timeoutMs: number, op: (rtu: RtuInstance) => Promise<T>): Promise<T> {
    const rtu = this.rtu
    if (!rtu?.isOpen) throw notOpen()
    // modbus-serial's buffered RTU port keeps unmatched bytes across requests and has no public way
    // to drop them (yaacov/node-modbus-serial#273): its private `_port._buffer` is reset here;
    // `test/library-internals.test.ts` fails if it changes.
    const port = (rtu as unknown as { _port?: PortWithBuffer })._port
    // Modbus over Serial Line §2.5.1.1: frames are delimited by silence; bytes left from an earlier
    // garbled or foreign reply belong to no frame and must not be matched against this request.
    if (port?._buffer) port._buffer = Buffer.alloc(0)
    rtu.setID(unitId)
    rtu.setTimeout(timeoutMs)
    try {
      return await op(rtu)
    } catch (err) {
      throw this.explain(err, unitId, timeoutMs, port)
    }
  }

  private explain(err: unknown, unitId: number, timeoutMs: number, port: PortWithBuffer | undefined): unknown {
    const e = err as { errno?: unknown; message?: unknown; modbusCode?: unknown }
    const message = typeof e?.message === 'string' ? e.message : String(err)
    if (typeof e?.modbusCode === 'number') return err
    if (e?.errno === 'ETIMEDOUT') {
      // The buffered ports skip frames from another unit id silently: say what did arrive.
      const stray = port?._buffer
      if (stray && stray.length > 0) {
        const from = stray[0] === unitId ? '' : ` from unit ${stray[0]} (wrong slave id)`
        const hex = [...stray.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
        return Object.assign(new Error(`no valid reply from unit ${unitId} within ${timeoutMs} ms; got ${stray.length} byte(s)${from}: ${hex}`), {
          errno: 'EDGE_ERR_FRAME',
        })
      }
      return err
    }
    if (/CRC error/.test(message)) return Object.assign(new Error(`reply from unit ${unitId} failed its CRC check`), { errno: 'EDGE_ERR_CRC', cause: err })
    if (/Data length error|Unexpected data error/.test(message))
      return Object.assign(new Error(`malformed reply from unit ${unitId}: ${message}`), { errno: 'EDGE_ERR_FRAME', cause: err })
    return err
  }

  protected async open(signal: AbortSignal, timeoutMs: number): Promise<void> {
    await this.drop()
    const rtu = newInstance()
    const loc = this.location
    try {
      if (loc.transport === 'rtu') {
        await openWithin(loc.path, timeoutMs, signal, () =>
          rtu.connectRTUBuffered(loc.path, { baudRate: loc.baudRate, parity: loc.parity, dataBits: loc.dataBits, stopBits: loc.stopBits }),
        )
      } else {
        // modbus-serial's "TcpRTUBuffered" port speaks MBAP; raw RTU frames over TCP is its Telnet port.
        await openWithin(`rtu-over-tcp://${loc.host}:${loc.port}`, timeoutMs, signal, () => rtu.connectTelnet(loc.host, { port: loc.port }))
      }
    } catch (err) {
      await this.shut(rtu)
      throw err
    }
    this.rtu = rtu
  }
}

/**
 * Buses by key, process-wide: a serial port can be opened by one owner only, so two drivers (or two
 * agents in one process) on the same port must share it rather than fight over it. A bus stays in
 * the map when idle (a few bytes), so a reopen always waits for the previous close of its port.
 */
const buses = new Map<string, RtuBus>()

class BusClient implements ModbusClient {
  private acquired = false

  constructor(
    private readonly bus: RtuBus,
    private readonly conn: ModbusConnection,
  ) {}

  get isOpen(): boolean {
    return this.acquired && this.bus.isOpen
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.close()
    await this.bus.acquire(signal, this.conn.timeoutMs)
    this.acquired = true
  }

  readRegisters(fn: 'holding' | 'input', address: number, count: number): Promise<number[]> {
    if (!this.acquired) return Promise.reject(notOpen())
    return this.bus.request(this.conn.unitId, this.conn.timeoutMs, (rtu) => readRegistersOf(rtu, fn, address, count))
  }

  readBits(fn: 'coil' | 'discrete', address: number, count: number): Promise<boolean[]> {
    if (!this.acquired) return Promise.reject(notOpen())
    return this.bus.request(this.conn.unitId, this.conn.timeoutMs, (rtu) => readBitsOf(rtu, fn, address, count))
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.bus.exclusive(fn)
  }

  async close(): Promise<void> {
    if (!this.acquired) return
    this.acquired = false
    this.bus.release()
  }
}

/**
 * A client for one unit id on an RTU bus (`transport: rtu` or `rtu-over-tcp`). Every client of the
 * same bus shares one port, opened by the first `connect` and closed with the last `close`.
 */
export function createBusClient(conn: ModbusConnection): ModbusClient {
  const location = busLocation(conn)
  const key = busKey(location)
  let bus = buses.get(key)
  if (!bus) {
    bus = new RtuBus(key, location)
    buses.set(key, bus)
  }
  return new BusClient(bus, conn)
}

/** The client for a device's transport. */
export function createClient(conn: ModbusConnection): ModbusClient {
  return conn.transport === 'tcp' ? createTcpClient(conn) : createBusClient(conn)
}
