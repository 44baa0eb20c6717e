import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { MqttConnectionWatch, type MqttConnectionStatus } from '../core/mqtt.ts'
import { buildTopic, channelFilter, type DeviceAddress } from '../core/topic.ts'
import type { AlertNotification } from './events.ts'
import { INGEST_STATE_FILTER } from './system-alerts.ts'

/** Broker connection of the alert service (core/mqtt.ts MqttClientConfig); the user needs the broker role `service`. */
export interface AlertMqttOptions {
  url: string
  username?: string
  password?: string
  clientId?: string
  /** Default 30 s. */
  keepaliveS?: number
  /** Default 1000 ms. */
  reconnectPeriodMs?: number
}

export interface AlertBrokerLinkOptions {
  logger: Logger
  /** How long `ready()` waits for the connection and the subscription, ms. */
  connectTimeoutMs: number
}

/**
 * The alert service's one MQTT connection: subscribes to every device's `data` channel and to the
 * ingest instances' state (`pw/sys/ingest/+`, retained: storage faults raise system alerts), publishes
 * alerts on the device's `alert` channel (QoS 1), and reports the connection (`status()`:
 * connected, disconnects, lastConnectionError as ALERTS_ERR_MQTT_… through MqttConnectionWatch).
 * Connecting starts at construction; `ready()` says whether it worked.
 */
export class AlertBrokerLink {
  private readonly client: MqttClient
  private readonly watch: MqttConnectionWatch
  private readonly subscribed: Promise<void>

  constructor(
    private readonly cfg: AlertMqttOptions,
    private readonly o: AlertBrokerLinkOptions,
  ) {
    this.client = mqtt.connect(cfg.url, {
      clientId: cfg.clientId ?? `plantwatt-alerts-${Math.random().toString(16).slice(2, 10)}`,
      username: cfg.username,
      password: cfg.password,
      keepalive: cfg.keepaliveS ?? 30,
      reconnectPeriod: cfg.reconnectPeriodMs ?? 1000,
      // Alerts look at the live stream; what was missed while away is not replayed (ingest stores it).
      clean: true,
      protocolVersion: 4,
    } satisfies IClientOptions)
    this.watch = new MqttConnectionWatch(this.client, 'ALERTS', cfg.url)
    this.client.on('error', (err) => o.logger.warn({ err: describeError(err) }, 'mqtt error'))
    this.subscribed = this.subscribeOnConnect()
    this.subscribed.catch(() => {}) // awaited by ready(); not an unhandled rejection before that
  }

  /** Every message the broker forwards (topic and raw payload). */
  onMessage(handler: (topic: string, payload: Buffer) => void): void {
    this.client.on('message', handler)
  }

  /**
   * Resolves once connected and subscribed. Rejects with ALERTS_ERR_CONNECT (refused, or no answer
   * within connectTimeoutMs) or ALERTS_ERR_SUBSCRIBE, and then stops the client.
   */
  async ready(): Promise<void> {
    try {
      await this.subscribed
    } catch (err) {
      this.client.end(true)
      throw err
    }
    // Refused at start is fatal (above); once running, a refusal (users changed, broker restarted
    // before its users loaded) is retried and reported in status() instead of ending the reconnects.
    this.client.options.reconnectOnConnackError = true
  }

  /** Publishes an alert on its device's `alert` channel; a failure is logged, never thrown. */
  publishAlert(address: DeviceAddress, n: AlertNotification): void {
    try {
      this.client.publish(buildTopic(address, 'alert'), JSON.stringify(n), { qos: 1 }, (err) => {
        if (err) this.o.logger.warn({ err: describeError(err), alertId: n.alertId }, 'publishing the alert failed')
      })
    } catch (err) {
      this.o.logger.warn({ err: describeError(err), alertId: n.alertId }, 'publishing the alert failed')
    }
  }

  status(): MqttConnectionStatus {
    return this.watch.status()
  }

  async close(): Promise<void> {
    this.watch.closing()
    await this.client.endAsync()
  }

  private subscribeOnConnect(): Promise<void> {
    const { url } = this.cfg
    const timeoutMs = this.o.connectTimeoutMs
    const dataFilter = channelFilter('data')
    const filters = [dataFilter, INGEST_STATE_FILTER]
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PlantWattError('ALERTS_ERR_CONNECT', `no connection to the broker ${url} within ${timeoutMs} ms`)), timeoutMs)
      this.client.on('connect', () => {
        this.client.subscribe(filters, { qos: 1 }, (err, granted) => {
          clearTimeout(timer)
          // Return codes per filter, in order. mqtt.js reports a partly refused SUBACK as an error carrying
          // the packet, and then passes the requested QoS as `granted`: the packet's codes come first.
          const codes = err ? subackCodes(err) : granted?.map((g) => g.qos)
          const refused = (i: number): boolean => codes === undefined || (codes[i] !== 0 && codes[i] !== 1)
          if (refused(0))
            reject(
              new PlantWattError('ALERTS_ERR_SUBSCRIBE', `subscription to ${dataFilter} refused${err ? `: ${describeError(err)}` : ''}`, {
                cause: err,
              }),
            )
          else {
            // Another broker's ACL may not let the service read ingest's state: no storage-fault alerts then, the rest runs.
            if (refused(1))
              this.o.logger.warn(
                { filter: INGEST_STATE_FILTER },
                'subscription to the ingest state refused: no storage-fault alerts (allow the alert user to read it)',
              )
            resolve()
          }
        })
      })
      this.client.on('error', (err: Error & { code?: unknown }) => {
        if (typeof err.code !== 'number') return
        clearTimeout(timer)
        reject(new PlantWattError('ALERTS_ERR_CONNECT', `broker ${url} refused the connection: ${err.message}`, { cause: err }))
      })
    })
  }
}

/** The SUBACK return codes an mqtt.js subscribe error carries (a refused filter), if any. */
function subackCodes(err: unknown): number[] | undefined {
  const granted = (err as { packet?: { granted?: unknown } } | undefined)?.packet?.granted
  return Array.isArray(granted) && granted.every((g) => typeof g === 'number') ? granted : undefined
}
