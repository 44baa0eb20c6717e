import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { decodePayload } from '../core/payload.ts'
import { parseTopic } from '../core/topic.ts'
import type { AlertEngine, AlertTransition } from './engine.ts'

/**
 * Feeds the engine from the live stream: each `data` message's samples, oldest first. A message
 * that cannot be read is counted (`badMessages`) and skipped: ingest dead-letters it, not this.
 */
export class TelemetryFeed {
  /** Samples handed to the engine. */
  samples = 0
  /** Messages that could not be parsed or decoded. */
  badMessages = 0

  constructor(
    private readonly engine: Pick<AlertEngine, 'ingest'>,
    private readonly onTransitions: (list: AlertTransition[]) => void,
    private readonly logger: Logger,
  ) {}

  /** One MQTT message; messages of other channels are ignored. */
  receive(topic: string, payload: Buffer): void {
    try {
      const address = parseTopic(topic)
      if (address.channel !== 'data') return
      const decoded = decodePayload(payload)
      const samples = [...decoded.samples].sort((a, b) => a.ts - b.ts)
      const device = { enterprise: address.enterprise, site: address.site, line: address.line, device: address.device }
      for (const s of samples) {
        this.samples++
        this.onTransitions(this.engine.ingest(device, { ts: s.ts, values: s.values }))
      }
    } catch (err) {
      this.badMessages++
      this.logger.debug({ err: describeError(err), topic: topic.slice(0, 200) }, 'message ignored')
    }
  }
}
