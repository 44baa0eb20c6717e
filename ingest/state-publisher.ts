import type { MqttClient } from 'mqtt'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** How often the store's state is looked at between two periodic publishes, ms (at most the interval). */
const FAULT_CHECK_MS = 1000

/** The store error's code in a stats object ('' when none): a change is published at once. */
function faultOf(stats: object): string {
  const e = (stats as { storeError?: { code?: unknown } }).storeError
  return typeof e?.code === 'string' ? e.code : ''
}

/**
 * Publishes ingest's stats as retained JSON (with ts and clientId) to its state topic every
 * intervalMs (0: never) — and at once (within FAULT_CHECK_MS) when the store's error appears,
 * changes or clears, so the alert service raises or clears its storage-fault alert without waiting
 * for the next period (alerts/system-alerts.ts). QoS 0 like the rest: another broker's ACL may refuse
 * the topic at no cost, and a lost message is repeated by the next period (retained).
 */
export class StatePublisher {
  private readonly timer: NodeJS.Timeout | undefined
  private readonly faultTimer: NodeJS.Timeout | undefined
  /** The store error code of the last state published. */
  private published = ''

  constructor(
    private readonly client: MqttClient,
    private readonly topic: string,
    private readonly clientId: string,
    private readonly stats: () => object,
    intervalMs: number,
    private readonly logger: Logger,
  ) {
    if (intervalMs <= 0) return
    this.timer = setInterval(() => void this.publish(), intervalMs)
    this.timer.unref()
    if (intervalMs > FAULT_CHECK_MS) {
      this.faultTimer = setInterval(() => {
        if (faultOf(this.stats()) !== this.published) void this.publish()
      }, FAULT_CHECK_MS)
      this.faultTimer.unref()
    }
    void this.publish()
  }

  /** Stops the periodic publishing. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.faultTimer !== undefined) clearInterval(this.faultTimer)
  }

  /** Stops, and publishes a last state with `connected: false` (when publishing at all). */
  async close(): Promise<void> {
    if (this.timer === undefined) return
    this.stop()
    await this.publish({ connected: false })
  }

  private publish(extra: Record<string, unknown> = {}): Promise<void> {
    return new Promise((resolve) => {
      if (!this.client.connected) return resolve()
      const stats = this.stats()
      const body = JSON.stringify({ ts: Date.now(), clientId: this.clientId, ...stats, ...extra })
      this.published = faultOf(stats)
      this.client.publish(this.topic, body, { qos: 0, retain: true }, (err) => {
        if (err) this.logger.debug({ err: describeError(err) }, `cannot publish ${this.topic}`)
        resolve()
      })
    })
  }
}
