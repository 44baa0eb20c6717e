import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../../core/errors.ts'
import { type Cjt188Frame, parseFrame } from './frame.ts'

/**
 * One CJ/T 188 bus: an RS-485 line on a serial port, or a transparent serial-to-TCP gateway (DTU).
 * Every meter on it shares one open link, reference-counted, and takes turns through a FIFO lock:
 * one master, one request outstanding. (A sibling of the Modbus RTU bus in modbus/client.ts; kept
 * apart on purpose, see README.)
 */

export type BusLocation =
  | { transport: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; dataBits: 7 | 8; stopBits: 1 | 2 }
  | { transport: 'tcp'; host: string; port: number }

export function busKey(loc: BusLocation): string {
  return loc.transport === 'serial' ? `serial:${loc.path}` : `tcp://${loc.host}:${loc.port}`
}

/** The outcome of one request: a frame, a garbled reply, silence, or the link gone. */
export type Transaction =
  | { kind: 'frame'; frame: Cjt188Frame }
  | { kind: 'bad'; code: 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME'; message: string }
  | { kind: 'timeout'; received: number; expected?: number }

interface Link {
  write(bytes: Buffer): void
  onData(fn: (chunk: Buffer) => void): void
  onClose(fn: () => void): void
  close(): Promise<void>
}

async function within<T>(where: string, timeoutMs: number, signal: AbortSignal, open: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      open,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)
        onAbort = () => reject(new Error('aborted'))
        if (signal.aborted) onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } catch (cause) {
    throw new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${where}: ${(cause as Error).message ?? String(cause)}`, { cause })
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

async function openSerial(loc: Extract<BusLocation, { transport: 'serial' }>, timeoutMs: number, signal: AbortSignal): Promise<Link> {
  const port = new SerialPort({
    path: loc.path,
    baudRate: loc.baudRate,
    parity: loc.parity,
    dataBits: loc.dataBits,
    stopBits: loc.stopBits,
    autoOpen: false,
    lock: true,
  })
  port.on('error', () => {}) // reported through close and timeouts; an unhandled 'error' would kill the process
  const close = () => (port.isOpen ? Promise.race([new Promise<void>((r) => port.close(() => r())), sleep(1000)]) : Promise.resolve())
  try {
    await within(loc.path, timeoutMs, signal, new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve()))))
  } catch (err) {
    await close()
    throw err
  }
  return { write: (b) => port.write(b), onData: (fn) => port.on('data', fn), onClose: (fn) => port.on('close', fn), close }
}

async function openTcp(loc: Extract<BusLocation, { transport: 'tcp' }>, timeoutMs: number, signal: AbortSignal): Promise<Link> {
  const socket = net.connect({ host: loc.host, port: loc.port })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const close = async () => {
    socket.destroy()
  }
  try {
    await within(
      `tcp://${loc.host}:${loc.port}`,
      timeoutMs,
      signal,
      new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)),
    )
  } catch (err) {
    await close()
    throw err
  }
  return { write: (b) => socket.write(b), onData: (fn) => socket.on('data', fn), onClose: (fn) => socket.on('close', fn), close }
}

export class Cjt188Bus {
  private link: Link | undefined
  private opening: Promise<void> | undefined
  private refs = 0
  private tail: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> = Promise.resolve()
  private rx: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined

  constructor(
    readonly key: string,
    private readonly location: BusLocation,
  ) {}

  get isOpen(): boolean {
    return this.link !== undefined
  }

  async acquire(signal: AbortSignal, timeoutMs: number): Promise<void> {
    this.refs++
    try {
      while (!this.link) {
        this.opening ??= this.open(signal, timeoutMs).finally(() => (this.opening = undefined))
        await this.opening
      }
    } catch (err) {
      this.release()
      throw err
    }
  }

  release(): void {
    if (this.refs > 0) this.refs--
    if (this.refs === 0) void this.drop()
  }

  /** Closes the link; the next `acquire` opens it again. */
  drop(): Promise<void> {
    const link = this.link
    this.link = undefined
    this.waiter?.()
    if (link) this.closing = this.closing.then(() => link.close())
    return this.closing
  }

  /** Runs `fn` with the bus to itself: the other meters wait (FIFO). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return run
  }

  /** Sends `request` and waits up to `timeoutMs` for one whole frame. Throws EDGE_ERR_CONNECTION when the link goes. */
  async transact(request: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Transaction> {
    const link = this.link
    if (!link) throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.key}: link closed`)
    // Bytes left from an earlier garbled or late reply belong to no request of ours.
    this.rx = Buffer.alloc(0)
    link.write(request)
    const until = performance.now() + timeoutMs
    for (;;) {
      if (this.link !== link) throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.key}: link lost while waiting for a reply`)
      signal.throwIfAborted()
      const parsed = parseFrame(this.rx)
      if (parsed.kind === 'frame' || parsed.kind === 'bad') return parsed
      const left = until - performance.now()
      if (left <= 0) return { kind: 'timeout', received: parsed.received, expected: parsed.expected }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.waiter = done
      })
      this.waiter = undefined
    }
  }

  private async open(signal: AbortSignal, timeoutMs: number): Promise<void> {
    await this.drop()
    const loc = this.location
    const link = loc.transport === 'serial' ? await openSerial(loc, timeoutMs, signal) : await openTcp(loc, timeoutMs, signal)
    link.onData((chunk) => {
      if (this.link !== link) return
      this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk])
      this.waiter?.()
    })
    link.onClose(() => {
      if (this.link === link) void this.drop()
    })
    this.link = link
  }
}

/** Buses by key, process-wide: a serial port has one owner, so every meter on it shares the bus. */
const buses = new Map<string, Cjt188Bus>()

export function busFor(loc: BusLocation): Cjt188Bus {
  const key = busKey(loc)
  let bus = buses.get(key)
  if (!bus) {
    bus = new Cjt188Bus(key, loc)
    buses.set(key, bus)
  }
  return bus
}
