/**
 * Ingest as a Sparkplug B 3.0 primary host application (§5.3, "Sparkplug Host Application Session
 * Establishment"): its own MQTT session whose will is `spBv1.0/STATE/<host id>`
 * `{"online":false,"timestamp":t}` and which, once connected and subscribed to that topic, publishes
 * `{"online":true,"timestamp":t}` — the same t, both QoS 1 and retained. Edge nodes configured with
 * this primary host id (Ignition Edge, Neuron …) send data only while it says online and buffer
 * otherwise. Its own session because MQTT allows one will per connection, and ingest's telemetry
 * session carries ingest's status. The host is born after ingest has subscribed to the namespace.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../../core/logger.ts'
import type { MqttClientConfig } from '../../core/mqtt.ts'
import { hostStatePayload, hostStateTopic, parseHostState } from '../../core/sparkplug-state.ts'

export interface SparkplugHostStateOptions {
  mqtt: MqttClientConfig
  /** The telemetry session's client id; this session is `<clientId>-sparkplug-host`. */
  clientId: string
  hostId: string
  logger: Logger
  now?: () => number
}

export class SparkplugHostState {
  /** The session (public for fault tests that break its socket). */
  readonly client: MqttClient
  private readonly topic: string
  private readonly now: () => number
  /** The timestamp of the session being set up or in force: the will's and the birth's. */
  private timestamp: number
  private closing = false
  /** Online states published (births, and answers to an offline for this host). */
  births = 0

  constructor(private readonly o: SparkplugHostStateOptions) {
    this.topic = hostStateTopic(o.hostId)
    this.now = o.now ?? Date.now
    this.timestamp = this.now()
    const options: IClientOptions = {
      clientId: `${o.clientId}-sparkplug-host`,
      username: o.mqtt.username,
      password: o.mqtt.password,
      keepalive: o.mqtt.keepaliveS,
      reconnectPeriod: o.mqtt.reconnectPeriodMs,
      reconnectOnConnackError: true,
      clean: true,
      protocolVersion: 4,
      will: { topic: this.topic, payload: hostStatePayload(false, this.timestamp), qos: 1, retain: true },
    }
    this.client = connect(o.mqtt.url, options)
    this.client.on('connect', () => this.born())
    // Each new session gets a new timestamp in its will (mqtt.js sends options.will on every CONNECT).
    this.client.on('close', () => {
      if (this.closing) return
      this.timestamp = Math.max(this.now(), this.timestamp + 1)
      if (this.client.options.will) this.client.options.will.payload = hostStatePayload(false, this.timestamp)
    })
    this.client.on('error', (err) => o.logger.warn({ err: err.message, topic: this.topic }, 'Sparkplug host state session'))
    // A will of an older session arriving after this session's birth (or anyone's offline for this
    // host id) would tell the nodes we are gone: say online again (§5.3).
    this.client.on('message', (topic, payload) => {
      if (topic !== this.topic || this.closing) return
      const state = parseHostState(payload)
      if (state && !state.online) this.publishOnline()
    })
  }

  private born(): void {
    this.client.subscribe(this.topic, { qos: 1 }, (err) => {
      if (err) {
        this.o.logger.warn({ err: err.message, topic: this.topic }, 'cannot subscribe to the own Sparkplug STATE topic')
        return
      }
      this.publishOnline()
    })
  }

  private publishOnline(): void {
    this.births++
    this.client.publish(this.topic, hostStatePayload(true, this.timestamp), { qos: 1, retain: true }, (err) => {
      if (err && !this.closing) this.o.logger.warn({ err: err.message, topic: this.topic }, 'Sparkplug host STATE not published')
      else if (!err) this.o.logger.info({ topic: this.topic, timestamp: this.timestamp }, 'Sparkplug primary host online')
    })
  }

  /** Says offline (the same timestamp as this session's birth), then disconnects cleanly (no will). */
  async close(): Promise<void> {
    this.closing = true
    if (this.client.connected) {
      await this.client.publishAsync(this.topic, hostStatePayload(false, this.timestamp), { qos: 1, retain: true }).catch(() => undefined)
    }
    await this.client.endAsync()
  }
}
