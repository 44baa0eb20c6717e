import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../core/errors.ts'

/**
 * The line under a field bus that one master polls (DL/T 645, CJ/T 188): an RS-485 port with its
 * line settings, or a transparent serial-to-TCP gateway (DTU). One open link per line, shared by
 * every meter on it, reference-counted, and a FIFO lock so that meters take turns — one request
 * outstanding, as half-duplex master–slave buses require. FieldLine (field-line.ts) extends it
 * with the exchange both protocols share; the DL/T 645 and CJ/T 188 buses are FieldLineViews that
 * add their own framing; the Modbus RTU bus (modbus/client.ts) wraps modbus-serial instead.
 */
export type LineLocation =
  | { transport: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; dataBits: 7 | 8; stopBits: 1 | 2 }
  | { transport: 'tcp'; host: string; port: number }

/** The open link: raw bytes out, raw bytes in. */
export interface Link {
  write(bytes: Buffer): void
  onData(fn: (chunk: Buffer) => void): void
  /** Called once when the link closes or fails (err: why, when known). */
  onClose(fn: (err?: Error) => void): void
  close(): Promise<void>
}

/** `serial:/dev/ttyS1` or `tcp://host:port`, after a protocol prefix: one key per physical line. */
export function lineKey(prefix: string, loc: LineLocation): string {
  return loc.transport === 'serial' ? `${prefix}:${loc.path}` : `${prefix}-tcp://${loc.host}:${loc.port}`
}

async function within<T>(timeoutMs: number, signal: AbortSignal, open: Promise<T>): Promise<T> {
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
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

function onceClosed(add: (fn: (err?: Error) => void) => void): (fn: (err?: Error) => void) => void {
  return (fn) => {
    let called = false
    add((err) => {
      if (called) return
      called = true
      fn(err)
    })
  }
}

async function openSerial(loc: Extract<LineLocation, { transport: 'serial' }>, timeoutMs: number, signal: AbortSignal): Promise<Link> {
  const port = new SerialPort({
    path: loc.path,
    baudRate: loc.baudRate,
    parity: loc.parity,
    dataBits: loc.dataBits,
    stopBits: loc.stopBits,
    autoOpen: false,
    lock: true,
  })
  // Reported through onClose and timeouts; an unhandled 'error' would end the process.
  port.on('error', () => {})
  // Bounded: a vanished device may never call back.
  const close = () => (port.isOpen ? Promise.race([new Promise<void>((r) => port.close(() => r())), sleep(1000)]) : Promise.resolve())
  try {
    await within(timeoutMs, signal, new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve()))))
  } catch (err) {
    await close()
    throw err
  }
  return {
    write: (b) => void port.write(b),
    onData: (fn) => void port.on('data', fn),
    onClose: onceClosed((fn) => {
      port.on('close', (err?: Error | null) => fn(err ?? undefined))
      port.on('error', (err: Error) => fn(err))
    }),
    close,
  }
}

async function openTcp(loc: Extract<LineLocation, { transport: 'tcp' }>, timeoutMs: number, signal: AbortSignal): Promise<Link> {
  const socket = net.connect({ host: loc.host, port: loc.port })
  socket.setNoDelay(true)
  socket.on('error', () => {})
  try {
    await within(timeoutMs, signal, new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)))
  } catch (err) {
    socket.destroy()
    throw err
  }
  return {
    write: (b) => void socket.write(b),
    onData: (fn) => void socket.on('data', fn),
    onClose: onceClosed((fn) => {
      socket.on('close', () => fn())
      socket.on('error', (err) => fn(err))
    }),
    close: async () => void socket.destroy(),
  }
}

/** Opens the line; EDGE_ERR_CONNECT naming it when it cannot within `timeoutMs`. */
export async function openLink(key: string, loc: LineLocation, timeoutMs: number, signal: AbortSignal): Promise<Link> {
  signal.throwIfAborted()
  try {
    return loc.transport === 'serial' ? await openSerial(loc, timeoutMs, signal) : await openTcp(loc, timeoutMs, signal)
  } catch (cause) {
    throw new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${key}: ${(cause as Error).message ?? String(cause)}`, { cause })
  }
}

/**
 * A line shared by every device on it, however it is opened: opened on the first `acquire`, closed
 * when the last holder releases it or it fails (the next `acquire` opens it again); `exclusive`
 * runs one holder's exchange at a time (FIFO). The Modbus RTU bus (modbus/client.ts, over
 * modbus-serial) and SharedLink (raw bytes, DL/T 645 and CJ/T 188) are the two kinds.
 */
export abstract class SharedLine {
  private opening: Promise<void> | undefined
  private refs = 0
  private tail: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> = Promise.resolve()

  constructor(readonly key: string) {}

  abstract get isOpen(): boolean

  async acquire(signal: AbortSignal, timeoutMs: number): Promise<void> {
    this.refs++
    try {
      while (!this.isOpen) {
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

  /** Closes the line (the next `acquire` opens it again); resolves when every close so far is done. */
  drop(): Promise<void> {
    const close = this.detach()
    if (close) this.closing = this.closing.then(close)
    return this.closing
  }

  /** Runs `fn` with the line to itself: the other holders wait (FIFO). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn)
    this.tail = run.catch(() => {})
    return run
  }

  /** Opens the line (after `await this.drop()` where an old one may linger). */
  protected abstract open(signal: AbortSignal, timeoutMs: number): Promise<void>
  /** Forgets the open line at once and returns the work that closes it (undefined: none open). */
  protected abstract detach(): (() => Promise<void>) | undefined
}

/** A shared line of raw bytes: a subclass receives them (`received`) and hears of a lost link (`lost`). */
export abstract class SharedLink extends SharedLine {
  protected link: Link | undefined

  constructor(
    key: string,
    readonly location: LineLocation,
  ) {
    super(key)
  }

  get isOpen(): boolean {
    return this.link !== undefined
  }

  /** Bytes from the line. */
  protected abstract received(chunk: Buffer): void
  /** The link closed or failed: whatever waits for a reply must stop waiting. */
  protected abstract lost(why: string): void

  protected detach(): (() => Promise<void>) | undefined {
    const link = this.link
    this.link = undefined
    if (!link) return undefined
    this.lost(`${this.key}: link closed`)
    return () => link.close()
  }

  protected async open(signal: AbortSignal, timeoutMs: number): Promise<void> {
    await this.drop()
    const link = await openLink(this.key, this.location, timeoutMs, signal)
    link.onData((chunk) => {
      if (this.link === link) this.received(chunk)
    })
    link.onClose((err) => {
      if (this.link !== link) return
      this.link = undefined
      this.lost(`${this.key}: link lost${err ? `: ${err.message}` : ''}`)
      void link.close()
    })
    this.link = link
  }
}

/** Process-wide registry: a serial port has one owner, so every meter on a line shares its bus. */
export function busRegistry<B extends SharedLink>(make: (key: string, loc: LineLocation) => B): (key: string, loc: LineLocation) => B {
  const buses = new Map<string, B>()
  return (key, loc) => {
    let bus = buses.get(key)
    if (!bus) {
      bus = make(key, loc)
      buses.set(key, bus)
    }
    return bus
  }
}
