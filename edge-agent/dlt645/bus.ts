import { busRegistry, type LineLocation, lineKey, SharedLink } from '../shared-link.ts'
import { type Frame, scanFrame } from './codec.ts'
import type { Dlt645Connection } from './schema.ts'

/** Where a bus is: a serial port with its line settings, or a DTU's TCP port. */
export type Dlt645BusLocation = LineLocation

export function dlt645BusLocation(c: Dlt645Connection): Dlt645BusLocation {
  if (c.transport === 'tcp') return { transport: 'tcp', host: c.host ?? '', port: c.port ?? 0 }
  return { transport: 'serial', path: c.path ?? '', baudRate: c.baudRate, parity: c.parity, dataBits: c.dataBits, stopBits: c.stopBits }
}

/** One key per physical bus: devices with the same key share one link and take turns on it. */
export function dlt645BusKey(location: Dlt645BusLocation): string {
  return lineKey('dlt645', location)
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

interface Pending {
  resolve(frame: Frame): void
  reject(err: ExchangeError): void
}

/**
 * One DL/T 645 bus: one open link shared by every meter on it, reference-counted, with a FIFO lock
 * so that one device's poll is never interleaved with another's, and one request at a time
 * (DL/T 645-2007 §7.3: master–slave, half duplex).
 */
export class Dlt645Bus extends SharedLink {
  private rx: Buffer = Buffer.alloc(0)
  private pending: Pending | undefined

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

  protected received(chunk: Buffer): void {
    if (!this.pending) return // nobody asked: a late or stray reply, dropped
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk])
    const r = scanFrame(this.rx)
    if (r.kind === 'need') return
    this.rx = this.rx.subarray(r.end)
    if (r.kind === 'frame') this.pending.resolve(r.frame)
    else this.pending.reject(new ExchangeError(r.code, r.message))
  }

  protected lost(why: string): void {
    this.pending?.reject(new ExchangeError('EDGE_ERR_CONNECTION', why))
  }
}

const bus = busRegistry((key, loc) => new Dlt645Bus(key, loc))

/** The shared bus of a connection: every meter on its line takes turns. */
export function dlt645Bus(c: Dlt645Connection): Dlt645Bus {
  const location = dlt645BusLocation(c)
  return bus(dlt645BusKey(location), location)
}
