import type { MqttClient } from 'mqtt'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** Publishes ingest's stats as retained JSON (with ts and clientId) to its state topic every intervalMs (0: never). */
export class StatePublisher {
  private readonly timer: NodeJS.Timeout | undefined

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
    void this.publish()
  }

  /** Stops the periodic publishing. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
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
      const body = JSON.stringify({ ts: Date.now(), clientId: this.clientId, ...this.stats(), ...extra })
      this.client.publish(this.topic, body, { qos: 0, retain: true }, (err) => {
        if (err) this.logger.debug({ err: describeError(err) }, `cannot publish ${this.topic}`)
        resolve()
      })
    })
  }
}
