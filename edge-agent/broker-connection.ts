import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { defaultClientId, MqttConnectionWatch, type MqttClientConfig, type MqttConnectionStatus } from '../core/mqtt.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import { stateMessage } from './publisher.ts'

/**
 * mqtt.js options of an agent's connection: its client id, credentials (password from the config,
 * else PLANTWATT_MQTT_PASSWORD), and the agent's last will on its state topic when it has one.
 */
export function edgeClientOptions(
  m: MqttClientConfig,
  agentId: string,
  agentAddress: DeviceAddress | undefined,
  env: NodeJS.ProcessEnv = process.env,
): IClientOptions {
  const options: IClientOptions = {
    clientId: m.clientId ?? defaultClientId(`edge-${agentId}`),
    keepalive: m.keepaliveS,
    reconnectPeriod: m.reconnectPeriodMs,
    connectTimeout: 10_000,
    clean: true,
    protocolVersion: 4, // MQTT 3.1.1: what Aedes and every broker we list speak
    // A refused CONNACK (broker restarting, its user store not loaded yet) must not end the retries:
    // mqtt.js stops reconnecting after one unless told otherwise, and the agent would buffer forever.
    reconnectOnConnackError: true,
  }
  if (m.username !== undefined) options.username = m.username
  const password = m.password ?? env.PLANTWATT_MQTT_PASSWORD
  if (password !== undefined) options.password = password
  if (agentAddress) {
    // The will's ts is when the agent connected: the broker sends it unchanged when the agent dies.
    options.will = { topic: buildTopic(agentAddress, 'state'), payload: stateMessage('offline', agentId), qos: 1, retain: true }
  }
  return options
}

/**
 * An edge agent's one broker connection (per gateway user): connects at construction and keeps
 * reconnecting, logs each change, and reports it (`status()`: connected, disconnects,
 * lastConnectionError as EDGE_ERR_MQTT_… through MqttConnectionWatch).
 */
export class EdgeBrokerConnection {
  readonly client: MqttClient
  private readonly watch: MqttConnectionWatch
  private wasConnected = false

  constructor(m: MqttClientConfig, options: IClientOptions, logger: Logger) {
    this.client = connect(m.url, options)
    this.watch = new MqttConnectionWatch(this.client, 'EDGE', m.url)
    this.client.on('connect', () => {
      logger.info({ url: m.url }, this.wasConnected ? 'reconnected to the broker' : 'connected to the broker')
      this.wasConnected = true
    })
    this.client.on('offline', () => logger.warn({ url: m.url }, 'broker unreachable; buffering samples'))
    this.client.on('error', (err) => logger.warn({ url: m.url, err: describeError(err) }, 'mqtt error'))
  }

  get connected(): boolean {
    return this.client.connected
  }

  /** Every (re)connection, after it is logged. */
  onConnect(handler: () => void): void {
    this.client.on('connect', handler)
  }

  status(): MqttConnectionStatus {
    return this.watch.status()
  }

  /**
   * A clean DISCONNECT (not forced) so the broker discards the will [MQTT-3.1.2-10]; forced only
   * when the broker does not answer within `timeoutMs`, and then the will correctly reports the
   * agent offline.
   */
  async close(timeoutMs = 1000): Promise<void> {
    this.watch.closing()
    const ended = this.client.connected ? await Promise.race([this.client.endAsync(false).then(() => true), sleep(timeoutMs).then(() => false)]) : false
    if (!ended) await this.client.endAsync(true)
  }
}
