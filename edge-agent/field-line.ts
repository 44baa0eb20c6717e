import { PlantWattError } from '../core/errors.ts'
import { busRegistry, type LineLocation, SharedLink } from './shared-link.ts'

/**
 * The physical line under DL/T 645 and CJ/T 188 meters: `serial:/dev/ttyUSB0` for an RS-485 port,
 * `tcp://10.0.0.9:8899` for a DTU. Meters of both protocols with the same key are on one wire.
 */
export function physicalLineKey(loc: LineLocation): string {
  return loc.transport === 'serial' ? `serial:${loc.path}` : `tcp://${loc.host}:${loc.port}`
}

/** How one protocol finds its reply in the bytes received so far: undefined while it needs more. */
export type ReplyScan<T> = (rx: Buffer) => T | undefined

/** One exchange's end: the protocol's reply (a frame, or why the bytes cannot be one), or the window over with the bytes received. */
export type LineOutcome<T> = { kind: 'reply'; value: T } | { kind: 'timeout'; rx: Buffer }

interface Waiting {
  data(): void
  lost(why: string): void
}

/**
 * One physical line shared by every DL/T 645 and CJ/T 188 meter on it: one open port or one TCP
 * connection to the DTU, whichever protocol's meter came first, and one FIFO of turns (`exclusive`)
 * for all of them — a half-duplex master–slave line carries one request at a time, whatever its
 * protocol. Each protocol brings its own framing as a `ReplyScan`.
 */
export class FieldLine extends SharedLink {
  private rx: Buffer = Buffer.alloc(0)
  private waiting: Waiting | undefined

  /**
   * Sends `request` and waits up to `timeoutMs` until `scan` finds a reply in the bytes received
   * since. Bytes left from an earlier garbled or late reply are dropped first. Throws
   * EDGE_ERR_CONNECTION when the line is not open or goes; rejects with the signal's reason when aborted.
   */
  transact<T>(request: Buffer, timeoutMs: number, signal: AbortSignal, scan: ReplyScan<T>): Promise<LineOutcome<T>> {
    const link = this.link
    if (!link) return Promise.reject(new PlantWattError('EDGE_ERR_CONNECTION', `${this.key}: not open`))
    if (signal.aborted) return Promise.reject(signal.reason)
    this.rx = Buffer.alloc(0)
    return new Promise<LineOutcome<T>>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.waiting = undefined
      }
      const timer = setTimeout(() => {
        finish()
        resolve({ kind: 'timeout', rx: this.rx })
      }, timeoutMs)
      const onAbort = () => {
        finish()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting = {
        data: () => {
          const value = scan(this.rx)
          if (value === undefined) return
          finish()
          resolve({ kind: 'reply', value })
        },
        lost: (why) => {
          finish()
          reject(new PlantWattError('EDGE_ERR_CONNECTION', why))
        },
      }
      link.write(request)
    })
  }

  protected received(chunk: Buffer): void {
    if (!this.waiting) return // nobody asked: a late or stray reply, dropped
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk])
    this.waiting.data()
  }

  protected lost(why: string): void {
    this.waiting?.lost(why)
  }
}

const lines = busRegistry((key, loc) => new FieldLine(key, loc))

/**
 * The line at `loc`, shared process-wide by every DL/T 645 and CJ/T 188 meter on it (one per
 * physical port or DTU endpoint; the first holder's line settings open it — checkSharedLines
 * refuses a config where they differ).
 */
export function fieldLine(loc: LineLocation): FieldLine {
  return lines(physicalLineKey(loc), loc)
}

/**
 * A protocol's view of its field line: the turn-taking every meter's bus delegates to the line
 * (DL/T 645's and CJ/T 188's buses extend it and add their framing of an exchange).
 */
export class FieldLineView {
  constructor(readonly line: FieldLine) {}

  get key(): string {
    return this.line.key
  }

  get isOpen(): boolean {
    return this.line.isOpen
  }

  acquire(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.line.acquire(signal, timeoutMs)
  }

  release(): void {
    this.line.release()
  }

  /** Runs `fn` with the line to itself: the other meters on it, of either protocol, wait (FIFO). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.line.exclusive(fn)
  }
}
