import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC, defaultClientId, type MqttClientConfig } from '../core/mqtt.ts'
import { channelFilter } from '../core/topic.ts'
import { DEFER_ACK } from './ack-sender.ts'
import type { IngestConfig } from './config.ts'
import { SPARKPLUG_NAMESPACE } from './sparkplug/topic.ts'

/** A message as the subscriber hands it on: `resume` lets mqtt.js read the next packet. */
export type MessageHandler = (topic: string, payload: Buffer, messageId: number | undefined, resume: () => void) => void

export interface SubscriberOptions {
  mqtt: MqttClientConfig
  clientId: string
  config: Pick<IngestConfig, 'sharedGroup' | 'sparkplug'>
  /** Retained on the broker in place of the state topic when ingest vanishes. */
  will: { topic: string; payload: Buffer } | undefined
  logger: Logger
}

/** The default client id: the component and host name (core/mqtt.ts), and the partition index when there is one. */
export function ingestClientId(partition: IngestConfig['partition']): string {
  return `${defaultClientId('ingest')}${partition ? `-p${partition.index}` : ''}`
}

/**
 * Ingest's MQTT client: a persistent session (QoS 1) on telemetry and the broker's dead-letter
 * topic, subscribed again on every connect, each message handed on with its PUBACK deferred.
 */
export class Subscriber {
  readonly client: MqttClient
  private readonly filters: string[]
  private handler: MessageHandler = () => undefined
  private closing = false
  /** Settles with the first connection's subscriptions. */
  private readonly first: Promise<void>

  constructor(private readonly opts: SubscriberOptions) {
    // With a shared group the broker hands each message (the broker's dead letters too) to one member.
    const share = opts.config.sharedGroup === undefined ? '' : `$share/${opts.config.sharedGroup}/`
    this.filters = [`${share}${channelFilter('data')}`, `${share}${DEAD_LETTER_TOPIC}`]
    // Sparkplug B edge nodes (ingest/sparkplug/): one instance must see a node's births and every seq.
    for (const group of opts.config.sparkplug?.groups ?? []) this.filters.push(`${SPARKPLUG_NAMESPACE}/${group}/#`)
    this.client = mqtt.connect(opts.mqtt.url, clientOptions(opts))
    this.client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void): void => {
      // Not taken and not acknowledged: the persistent session keeps it for the next start.
      if (this.closing) return
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload
      // QoS 2 never arrives (the subscription is QoS 1); should a broker send it, mqtt.js completes it.
      const ackLater = packet.qos === 1
      this.handler(packet.topic, payload, ackLater ? packet.messageId : undefined, () => callback(ackLater ? DEFER_ACK : undefined))
    }
    this.first = new Promise<void>((resolve, reject) => {
      // Every connect subscribes again (resubscribe is off: the session may be new).
      this.client.on('connect', () => this.subscribe(0, resolve, reject))
      this.client.on('error', (err: Error & { code?: unknown }) => {
        if (typeof err.code === 'number')
          reject(new PlantWattError('INGEST_ERR_CONNECT', `broker ${opts.mqtt.url} refused the connection: ${err.message}`, { cause: err }))
      })
    })
    this.first.catch(() => undefined)
  }

  /** Hands every message to `handler` from now on. */
  onMessage(handler: MessageHandler): void {
    this.handler = handler
  }

  /** Resolves once the first connection's subscriptions are granted; INGEST_ERR_CONNECT or INGEST_ERR_SUBSCRIBE otherwise. */
  async subscribed(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new PlantWattError('INGEST_ERR_CONNECT', `no connection to the broker ${this.opts.mqtt.url} within ${timeoutMs} ms`)),
        timeoutMs,
      )
    })
    try {
      await Promise.race([this.first, timeout])
    } catch (err) {
      this.closing = true
      this.client.end(true)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Stops handing on messages and disconnects. */
  async close(): Promise<void> {
    this.closing = true
    await this.client.endAsync()
  }

  /** Stops handing on messages (those still coming stay with the broker). */
  stopTaking(): void {
    this.closing = true
  }

  // One filter per SUBSCRIBE: aedes-persistence-redis 11.2 never answers a persistent session's
  // SUBSCRIBE that carries two filters (the Redis-backed broker cluster), every broker takes this.
  private subscribe(i: number, done: () => void, fail: (err: Error) => void): void {
    const filter = this.filters[i]
    if (filter === undefined) {
      done()
      return
    }
    this.client.subscribe(filter, { qos: 1 }, (err, granted) => {
      // [MQTT-3.9.3] SUBACK return code 0x80 means the subscription was refused.
      const refused = granted?.filter((g) => g.qos !== 1 && g.qos !== 0) ?? []
      if (!err && refused.length === 0) {
        this.subscribe(i + 1, done, fail)
        return
      }
      const hint =
        this.opts.config.sharedGroup === undefined
          ? ''
          : " (shared subscriptions need a broker that has them — EMQX, HiveMQ, Mosquitto; with PlantWatt's broker use ingest.partition)"
      const error = new PlantWattError(
        'INGEST_ERR_SUBSCRIBE',
        `subscription to ${filter} refused: ${err ? describeError(err) : refused.map((g) => g.topic).join(', ')}${hint}`,
        { cause: err },
      )
      this.opts.logger.error({ err: error.message }, 'cannot subscribe')
      fail(error)
    })
  }
}

function clientOptions(opts: SubscriberOptions): IClientOptions {
  return {
    clientId: opts.clientId,
    // Retained status: whoever subscribes to pw/sys/ingest/# sees every instance, and the broker
    // replaces it with this will when the instance vanishes without a goodbye.
    ...(opts.will ? { will: { ...opts.will, qos: 0 as const, retain: true } } : {}),
    username: opts.mqtt.username,
    password: opts.mqtt.password,
    keepalive: opts.mqtt.keepaliveS,
    reconnectPeriod: opts.mqtt.reconnectPeriodMs,
    // mqtt.js gives up for good after a CONNACK refusal unless told otherwise: a broker that refuses
    // for a while (restarting, auth back end down: return code 3) would leave ingest disconnected
    // forever. At start a refusal still fails startIngest (INGEST_ERR_CONNECT).
    reconnectOnConnackError: true,
    // [MQTT-3.1.2-4] a persistent session: QoS 1 messages published while ingest is away are
    // queued by the broker and delivered when it comes back with the same client id.
    clean: false,
    protocolVersion: 4,
    resubscribe: false,
    // mqtt.js logs every packet through `debug`; unless DEBUG asks for it, skip even the calls.
    ...(process.env.DEBUG ? {} : { log: () => undefined }),
  }
}
