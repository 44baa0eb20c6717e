import type { MqttClient } from 'mqtt'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** The last connection problem as IngestStats reports it; `at`: epoch ms. */
export interface IngestConnectionError {
  code: string
  message: string
  at: number
}

/**
 * Follows ingest's broker connection for its stats: disconnects of established connections (not
 * counting close()) as INGEST_ERR_DISCONNECTED with a warning each, and CONNACK refusals as
 * INGEST_ERR_BROKER_REFUSED. (core/mqtt.ts MqttConnectionWatch does this for edge and alerts with
 * other codes, and also records failed attempts that never connected, which ingest does not count.)
 */
export class ConnectionTracker {
  disconnects = 0
  lastError: IngestConnectionError | undefined
  /** The connection is up (CONNACK accepted) and its loss not yet counted. */
  private up = false
  private ending = false
  /** The last error mqtt.js reported on this connection: why it closed, when it says. */
  private reason: string | undefined

  constructor(
    client: MqttClient,
    private readonly url: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    client.on('connect', () => {
      this.up = true
      this.reason = undefined
    })
    client.on('close', () => this.onClose())
    client.on('disconnect', (packet: { reasonCode?: number }) => {
      // MQTT 5 only: the server says why.
      this.reason = `the broker sent DISCONNECT (reason code ${packet.reasonCode ?? 0})`
    })
    client.on('error', (err: Error & { code?: unknown }) => {
      logger.warn({ err: describeError(err) }, 'mqtt error')
      // A CONNACK refusal (bad credentials, not authorized) will not heal by retrying; a refused TCP
      // connection may (the broker may still be starting).
      if (typeof err.code === 'number') {
        // [MQTT-3.2.2.3] CONNACK return codes 1–5
        this.lastError = {
          code: 'INGEST_ERR_BROKER_REFUSED',
          message: `broker ${url} refused the connection: CONNACK return code ${err.code} (${err.message})`,
          at: this.now(),
        }
        logger.warn({ url, code: this.lastError.code, connack: err.code }, this.lastError.message)
      } else {
        this.reason = describeError(err)
      }
    })
  }

  /** The coming disconnect is ingest's own (close()), not a failure. */
  closing(): void {
    this.ending = true
  }

  private onClose(): void {
    if (!this.up) return
    this.up = false
    if (this.ending) return
    this.disconnects++
    // MQTT 3.1.1 has no DISCONNECT from the server: a broker that closes the connection (another
    // client took over the session [MQTT-3.1.4-2], a restart, a kick) gives no reason on the wire.
    const reason = this.reason ?? 'connection closed by the broker or the network (e.g. another client connected with the same client id)'
    this.lastError = { code: 'INGEST_ERR_DISCONNECTED', message: `disconnected from ${this.url}: ${reason}`, at: this.now() }
    this.logger.warn({ url: this.url, disconnects: this.disconnects, code: this.lastError.code, reason }, 'disconnected from the broker; reconnecting')
  }
}
