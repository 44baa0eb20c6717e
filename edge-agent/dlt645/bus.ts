import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../../core/errors.ts'
import { type Frame, scanFrame } from './codec.ts'
import type { Dlt645Connection } from './schema.ts'

/** Where a bus is: a serial port with its line settings, or a DTU's TCP port. */
export type Dlt645BusLocation =
  | { transport: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; dataBits: 7 | 8; stopBits: 1 | 2 }
  | { transport: 'tcp'; host: string; port: number }

export function dlt645BusLocation(c: Dlt645Connection): Dlt645BusLocation {
  if (c.transport === 'tcp') return { transport: 'tcp', host: c.host ?? '', port: c.port ?? 0 }
  return { transport: 'serial', path: c.path ?? '', baudRate: c.baudRate, parity: c.parity, dataBits: c.dataBits, stopBits: c.stopBits }
}

/** One key per physical bus: devices with the same key share one link and take turns on it. */
export function dlt645BusKey(location: Dlt645BusLocation): string {
  return location.transport === 'serial' ? `dlt645:${location.path}` : `dlt645-tcp://${location.host}:${location.port}`
}

/** A request that got no usable reply: its code says why (the driver maps it to quality). */
export class ExchangeError extends Error {
  constructor(
    readonly code: 'EDGE_ERR_TIMEOUT' | 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME' | 'EDGE_ERR_CONNECTION',
    message: string,
  ) {
    super(message)
  }
}

/** The open link under a bus: raw bytes out, raw bytes in. */
interface Link {
  write(data: Buffer): void
  onData(fn: (chunk: Buffer) => void): void
  onClose(fn: (err?: Error) => void): void
  close(): Promise<void>
}

async function openSerial(loc: Extract<Dlt645BusLocation, { transport: 'serial' }>): Promise<Link> {
  const port = new SerialPort({
    path: loc.path,
    baudRate: loc.baudRate,
    parity: loc.parity,
    dataBits: loc.dataBits,
    stopBits: loc.stopBits,
    autoOpen: false,
    lock: true,
  })
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  return {
    write: (data) => void port.write(data),
    onData: (fn) => void port.on('data', fn),
    onClose: (fn) => {
      port.on('close', (err?: Error | null) => fn(err ?? undefined))
      port.on('error', (err: Error) => fn(err))
    },
    // Bounded: a vanished device may never call back.
    close: () => Promise.race([new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())), sleep(1000)]),
  }
}

async function openTcp(loc: Extract<Dlt645BusLocation, { transport: 'tcp' }>, timeoutMs: number): Promise<Link> {
  const socket = net.connect({ host: loc.host, port: loc.port })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  }).catch((err: unknown) => {
    socket.destroy()
    throw err
  })
  return {
    write: (data) => void socket.write(data),
    onData: (fn) => void socket.on('data', fn),
    onClose: (fn) => {
      socket.on('close', () => fn())
      socket.on('error', (err) => fn(err))
    },
    close: async () => void socket.destroy(),
  }
}

interface Pending {
  resolve(frame: Frame): void
  reject(err: ExchangeError): void
}

/**
 * One DL/T 645 bus: one open link shared by every meter on it, reference-counted, with a FIFO lock
 * so that one device's poll is never interleaved with another's, and one request at a time
 * (DL/T 645-2007 §7.3: master–slave, half duplex).
 */
export class Dlt645Bus {
  private link: Link | undefined
  private opening: Promise<void> | undefined
  private refs = 0
  private tail: Promise<unknown> = Promise.resolve()
  private rx: Buffer = Buffer.alloc(0)
  private pending: Pending | undefined

  constructor(
    readonly key: string,
    readonly location: Dlt645BusLocation,
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

  /** The link failed: close it, so that the next `acquire` opens it again. */
  async drop(): Promise<void> {
    const link = this.link
    this.link = undefined
    this.fail(new ExchangeError('EDGE_ERR_CONNECTION', `${this.key}: link closed`))
    await link?.close()
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return run
  }

  /**
   * Sends `request` and waits for one whole frame. Bytes left from an earlier garbled or late reply
   * are dropped first. Rejects with an ExchangeError: no byte within `timeoutMs` (EDGE_ERR_TIMEOUT),
   * some bytes but no whole frame (EDGE_ERR_FRAME: truncated), a bad checksum or framing.
   */
  exchange(request: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Frame> {
    const link = this.link
    if (!link) return Promise.reject(new ExchangeError('EDGE_ERR_CONNECTION', `${this.key}: not open`))
    this.rx = Buffer.alloc(0)
    return new Promise<Frame>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.pending = undefined
      }
      const timer = setTimeout(() => {
        done()
        const got = this.rx.length
        if (got === 0) reject(new ExchangeError('EDGE_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`))
        else
          reject(
            new ExchangeError(
              'EDGE_ERR_FRAME',
              `truncated reply: ${got} byte(s) and no whole frame within ${timeoutMs} ms: ${this.rx.subarray(0, 16).toString('hex')}`,
            ),
          )
      }, timeoutMs)
      const onAbort = () => {
        done()
        reject(new ExchangeError('EDGE_ERR_TIMEOUT', 'aborted'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending = {
        resolve: (f) => {
          done()
          resolve(f)
        },
        reject: (e) => {
          done()
          reject(e)
        },
      }
      link.write(request)
    })
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) return // nobody asked: a late or stray reply, dropped
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk])
    const r = scanFrame(this.rx)
    if (r.kind === 'need') return
    this.rx = this.rx.subarray(r.end)
    if (r.kind === 'frame') this.pending.resolve(r.frame)
    else this.pending.reject(new ExchangeError(r.code, r.message))
  }

  private fail(err: ExchangeError): void {
    this.pending?.reject(err)
  }

  private async open(signal: AbortSignal, timeoutMs: number): Promise<void> {
    signal.throwIfAborted()
    const loc = this.location
    const where = this.key
    let link: Link
    try {
      link = loc.transport === 'serial' ? await openSerial(loc) : await openTcp(loc, timeoutMs)
    } catch (cause) {
      throw new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${where}: ${(cause as Error).message}`, { cause })
    }
    link.onData((chunk) => this.onData(chunk))
    link.onClose((err) => {
      if (this.link !== link) return
      this.link = undefined
      this.fail(new ExchangeError('EDGE_ERR_CONNECTION', `${where}: link lost${err ? `: ${err.message}` : ''}`))
    })
    this.link = link
  }
}

/**
 * Buses by key, process-wide: a serial port has one owner, so every device on it (and every agent
 * in one process) shares its bus. A bus stays in the map when idle (a few bytes).
 */
const buses = new Map<string, Dlt645Bus>()

/** The shared bus of a connection. */
export function dlt645Bus(c: Dlt645Connection): Dlt645Bus {
  const location = dlt645BusLocation(c)
  const key = dlt645BusKey(location)
  let bus = buses.get(key)
  if (!bus) {
    bus = new Dlt645Bus(key, location)
    buses.set(key, bus)
  }
  return bus
}
