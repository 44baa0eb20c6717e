import { PlantWattError } from '../../core/errors.ts'
import { busRegistry, type LineLocation, SharedLink } from '../shared-link.ts'
import { type Cjt188Frame, parseFrame } from './frame.ts'

/**
 * One CJ/T 188 bus: an RS-485 line on a serial port, or a transparent serial-to-TCP gateway (DTU).
 * Every meter on it shares one open link, reference-counted, and takes turns through a FIFO lock:
 * one master, one request outstanding. The link, its sharing and the turns are
 * edge-agent/shared-link.ts; this file is CJ/T 188's framing of an exchange.
 */

export type BusLocation = LineLocation

export function busKey(loc: BusLocation): string {
  return loc.transport === 'serial' ? `serial:${loc.path}` : `tcp://${loc.host}:${loc.port}`
}

/** The outcome of one request: a frame, a garbled reply, silence, or the link gone. */
export type Transaction =
  | { kind: 'frame'; frame: Cjt188Frame }
  | { kind: 'bad'; code: 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME'; message: string }
  | { kind: 'timeout'; received: number; expected?: number }

export class Cjt188Bus extends SharedLink {
  private rx: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined

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

  protected received(chunk: Buffer): void {
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk])
    this.waiter?.()
  }

  protected lost(): void {
    this.waiter?.()
  }
}

const bus = busRegistry((key, loc) => new Cjt188Bus(key, loc))

/** The shared bus of a line: every meter on it takes turns. */
export function busFor(loc: BusLocation): Cjt188Bus {
  return bus(busKey(loc), loc)
}
