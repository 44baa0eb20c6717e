import { fieldLine, FieldLineView } from '../field-line.ts'
import type { LineLocation } from '../shared-link.ts'
import { type Cjt188Frame, parseFrame } from './frame.ts'

/**
 * A CJ/T 188 meter's view of its line (edge-agent/field-line.ts): an RS-485 line on a serial port,
 * or a transparent serial-to-TCP gateway (DTU), shared with every other meter on it — DL/T 645
 * meters included — through one open link and one FIFO of turns: one master, one request
 * outstanding. This file is CJ/T 188's framing of an exchange.
 */

export type BusLocation = LineLocation

/** The outcome of one request: a frame, a garbled reply, silence, or the link gone. */
export type Transaction =
  | { kind: 'frame'; frame: Cjt188Frame /** Noise came before it on the line. */; resynced?: boolean }
  | { kind: 'bad'; code: 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME'; message: string }
  | { kind: 'timeout'; received: number; expected?: number }

export class Cjt188Bus extends FieldLineView {
  /** Sends `request` and waits up to `timeoutMs` for one whole frame. Throws EDGE_ERR_CONNECTION when the link goes. */
  async transact(request: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Transaction> {
    const outcome = await this.line.transact(request, timeoutMs, signal, (rx): Transaction | undefined => {
      const parsed = parseFrame(rx)
      return parsed.kind === 'incomplete'
        ? undefined
        : parsed.kind === 'frame'
          ? { kind: 'frame', frame: parsed.frame, ...(parsed.resynced ? { resynced: true } : {}) }
          : parsed
    })
    if (outcome.kind === 'reply') return outcome.value
    const parsed = parseFrame(outcome.rx)
    return parsed.kind === 'incomplete'
      ? { kind: 'timeout', received: parsed.received, expected: parsed.expected }
      : { kind: 'timeout', received: outcome.rx.length }
  }
}

/** The shared line of a meter: every meter on it, of either protocol, takes turns. */
export function busFor(loc: BusLocation): Cjt188Bus {
  return new Cjt188Bus(fieldLine(loc))
}
