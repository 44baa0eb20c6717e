import { fieldLine, FieldLineView, type LineOutcome } from '../field-line.ts'
import type { LineLocation } from '../shared-link.ts'
import { type Frame, type ScanResult, scanFrame } from './codec.ts'
import type { Dlt645Connection } from './schema.ts'

/** Where a bus is: a serial port with its line settings, or a DTU's TCP port. */
export type Dlt645BusLocation = LineLocation

export function dlt645BusLocation(c: Dlt645Connection): Dlt645BusLocation {
  if (c.transport === 'tcp') return { transport: 'tcp', host: c.host ?? '', port: c.port ?? 0 }
  return { transport: 'serial', path: c.path ?? '', baudRate: c.baudRate, parity: c.parity, dataBits: c.dataBits, stopBits: c.stopBits }
}

/** A request that got no usable reply: its code says why (the driver maps it to quality). */
export class ExchangeError extends Error {
  constructor(
    readonly code: 'EDGE_ERR_TIMEOUT' | 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME' | 'EDGE_ERR_CONNECTION',
    message: string,
    /** EDGE_ERR_FRAME of a reply cut short (some bytes, no whole frame). */
    readonly truncated = false,
  ) {
    super(message)
  }
}

/**
 * A DL/T 645 meter's view of its line (edge-agent/field-line.ts): the line is shared with every
 * other meter on the same serial port or DTU — CJ/T 188 meters included — one open link and one
 * FIFO of turns, so one device's poll is never interleaved with another's, and one request at a
 * time (DL/T 645-2007 §7.3: master–slave, half duplex). This class adds 645's framing of a reply.
 */
export class Dlt645Bus extends FieldLineView {
  /**
   * Sends `request` and waits for one whole frame. Rejects with an ExchangeError: no byte within
   * `timeoutMs` (EDGE_ERR_TIMEOUT), some bytes but no whole frame (EDGE_ERR_FRAME: truncated), a bad
   * checksum or framing, the link lost (EDGE_ERR_CONNECTION).
   */
  async exchange(request: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Frame> {
    let outcome: LineOutcome<Exclude<ScanResult, { kind: 'need' }>>
    try {
      outcome = await this.line.transact(request, timeoutMs, signal, (rx) => {
        const r = scanFrame(rx)
        return r.kind === 'need' ? undefined : r
      })
    } catch (err) {
      signal.throwIfAborted()
      throw new ExchangeError('EDGE_ERR_CONNECTION', err instanceof Error ? err.message : String(err))
    }
    if (outcome.kind === 'reply') {
      const r = outcome.value
      if (r.kind === 'frame') return r.frame
      throw new ExchangeError(r.code, r.message)
    }
    const got = outcome.rx.length
    if (got === 0) throw new ExchangeError('EDGE_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`)
    throw new ExchangeError(
      'EDGE_ERR_FRAME',
      `truncated reply: ${got} byte(s) and no whole frame within ${timeoutMs} ms: ${outcome.rx.subarray(0, 16).toString('hex')}`,
      true,
    )
  }
}

/** The shared line of a connection: every meter on it, of either protocol, takes turns. */
export function dlt645Bus(c: Dlt645Connection): Dlt645Bus {
  return new Dlt645Bus(fieldLine(dlt645BusLocation(c)))
}
