/**
 * The edge agent: reads devices through drivers (modbus/, opcua/, a registry in drivers.ts) as the
 * profiles say, keeps samples in an outbox (memory or disk) until the broker has them, and
 * publishes them with retained birth/death states. This file wires one agent together.
 */

import { validateConfig } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import type { MqttClientConfig, MqttConnectionError } from '../core/mqtt.ts'
import { buildTopic } from '../core/topic.ts'
import { EdgeBrokerConnection, edgeClientOptions } from './broker-connection.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { DeviceTable, type DeviceHooks, type DeviceStatus } from './device-table.ts'
import { applyHeapGrowth } from './heap-growth.ts'
import type { AgentConfigState } from './central-config.ts'
import { BUILTIN_DRIVERS, type DriverFactory } from './drivers.ts'
import { createDiskOutbox } from './disk-outbox.ts'
import { createMemoryOutbox, type Outbox, type OutboxBatch } from './outbox.ts'
import { agentStateAddress, checkEdgeDevices, type DeviceSetup } from './setup.ts'
import { Publisher } from './publisher.ts'
import { StateAnnouncer } from './state-announcer.ts'
import { sparkplugIdentity } from './sparkplug/config.ts'
import { SparkplugEdgeNode } from './sparkplug/node.ts'
import { CentralConfigChannel, loadStoredCentralConfig } from './central-channel.ts'

export { agentStateAddress, checkEdgeDevices, type DeviceSetup, type DeviceStatus }

export interface EdgeAgentOptions {
  config: EdgeConfig
  mqtt: MqttClientConfig
  logger?: Logger
  /** Driver registry. Default: the built-in drivers (modbus). */
  drivers?: Readonly<Record<string, DriverFactory>>
  /**
   * Where samples wait for the broker. Default from the config: `buffer: memory`, or `buffer: disk`
   * (`<bufferDir>/<agentId>.sqlite`), both bounded by `outboxMaxSamples`. Closed by `close()`.
   */
  outbox?: Outbox
  /** How long `close()` waits for buffered samples to be delivered, ms. Default 2000. */
  closeDrainMs?: number
}

export interface AgentStatus {
  agentId: string
  /** The agent's own retained state topic (carries the MQTT last will), if it has devices. */
  stateTopic: string | null
  /**
   * The broker connection. `connected` is false while the broker refuses the agent's user (CONNACK
   * 4/5: EDGE_ERR_MQTT_BAD_CREDENTIALS, EDGE_ERR_MQTT_NOT_AUTHORIZED) or its publishes (the broker
   * closes the connection: EDGE_ERR_MQTT_PUBLISH_REFUSED), even between reconnects.
   */
  mqtt: {
    url: string
    username: string | null
    connected: boolean
    disconnects: number
    lastConnectionError?: MqttConnectionError
    publishedMessages: number
    publishFailures: number
  }
  outbox: { depth: number; dropped: number; maxSamples: number }
  devices: DeviceStatus[]
  /** The configuration in force: the file's (version 0) or a central one, and the last command refused. */
  config: AgentConfigState
}

export interface RunningEdgeAgent {
  status(): AgentStatus
  /** Stops polling, delivers what it can within `closeDrainMs`, publishes offline states, disconnects. */
  close(): Promise<void>
}

function checkConfig(config: EdgeConfig, registry: Readonly<Record<string, DriverFactory>>): DeviceSetup[] {
  const { setups, problems } = checkEdgeDevices(config, registry)
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('EDGE_ERR_CONFIG', `edge: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  return setups
}

/** Where samples wait for the broker, as the config says: memory, or a file per agent in bufferDir. */
function outboxFor(config: EdgeConfig): Outbox {
  return config.buffer === 'disk'
    ? createDiskOutbox({ dir: config.bufferDir, file: `${config.agentId}.sqlite`, maxSamples: config.outboxMaxSamples, sync: config.bufferSync })
    : createMemoryOutbox({ maxSamples: config.outboxMaxSamples })
}

/**
 * Starts an edge agent: one poller per device, an outbox, and an MQTT publisher. Returns without
 * waiting for the broker: samples are buffered until it is reachable. Throws CORE_ERR_CONFIG for a
 * config that does not match the schema and EDGE_ERR_CONFIG for a mistake across devices or in a
 * device's settings (all problems at once). A device whose profile cannot be loaded or validated is
 * left out of polling and reported (status, retained state, one log line); the others are polled.
 * Does no device I/O before returning.
 */
export async function startEdgeAgent(options: EdgeAgentOptions): Promise<RunningEdgeAgent> {
  const fileConfig = validateConfig(EdgeConfigSchema, options.config, 'edge') as EdgeConfig
  const logger = options.logger ?? silentLogger()
  // Before the devices load their libraries and the heap grows (heap-growth.ts says why).
  applyHeapGrowth(fileConfig.heapGrowingPercent, logger)
  const registry = options.drivers ?? BUILTIN_DRIVERS
  // A central config applied in an earlier run wins over the file's devices (central-config.ts).
  const stored = fileConfig.publisher === 'sparkplug' ? undefined : await loadStoredCentralConfig(fileConfig, registry, logger)
  const config = stored?.config ?? fileConfig
  const setups = stored?.setups ?? checkConfig(config, registry)
  const { agentId } = config
  // From the file's devices: the agent keeps its address (and command topic) whatever a central config says.
  const agentAddress = agentStateAddress(fileConfig)
  const outbox = options.outbox ?? outboxFor(config)

  // Devices → outbox → publisher → broker; states beside them. `devices` is replaced when a central config is applied.
  let devices = new DeviceTable(outbox, Date.now())
  const sink = {
    maxSamplesPerMessage: config.maxSamplesPerMessage,
    logger,
    onDelivered: (batch: OutboxBatch) => devices.delivered(batch),
    onFailed: () => devices.failed(),
  }
  // publisher: sparkplug — the agent is a Sparkplug B edge node instead (edge-agent/sparkplug/).
  const sparkplug =
    config.publisher === 'sparkplug'
      ? new SparkplugEdgeNode({ ...sink, outbox, identity: sparkplugIdentity(config.sparkplug, agentId, config.devices) })
      : undefined
  const clientOptions = edgeClientOptions(options.mqtt, agentId, agentAddress)
  const broker = new EdgeBrokerConnection(options.mqtt, sparkplug?.clientOptions(clientOptions) ?? clientOptions, logger)
  let publisher: Publisher | SparkplugEdgeNode
  let states: StateAnnouncer | SparkplugEdgeNode
  if (sparkplug) publisher = states = sparkplug.attach(broker.client)
  else {
    const native = new Publisher({ ...sink, client: broker.client, outbox, publishIntervalMs: config.publishIntervalMs, qos: config.publishQos })
    publisher = native
    const table = {
      all: () => devices.all(),
      countersOf: (key: string) => devices.countersOf(key),
      agentCounters: () => devices.agentCounters(),
    }
    states = new StateAnnouncer({ publisher: native, devices: table, agentId, agentAddress, agentConfig: () => central?.state() ?? FILE_STATE })
  }
  const hooks: DeviceHooks = {
    onSample(address, sample) {
      outbox.push(address, sample)
      publisher.schedule()
    },
    onConnectionChange: (entry, connected) => states.deviceChanged(entry, connected),
  }
  devices.add(config, setups, hooks, logger)
  const FILE_STATE: AgentConfigState = { version: stored?.version ?? 0, source: stored ? 'central' : 'file', appliedAt: Date.now() }
  // Central configuration over the agent's command topic (native publisher only: a Sparkplug node is configured by its host).
  const central =
    agentAddress && !sparkplug
      ? new CentralConfigChannel({
          client: broker.client,
          agentAddress,
          base: fileConfig,
          current: FILE_STATE,
          currentConfig: config,
          registry,
          logger,
          apply: async (next, nextSetups) => {
            const old = devices
            await old.close()
            devices = new DeviceTable(outbox, Date.now())
            devices.add(next, nextSetups, hooks, logger)
            devices.start()
            states.announceAll()
          },
          announce: () => states.announceAll(),
        })
      : undefined
  broker.onConnect(() => {
    central?.subscribe()
    // Birth: the agent, then each device's current state (a broker restart may have lost retained ones).
    states.announceAll()
    publisher.schedule()
  })

  devices.start()
  states.startPeriodic(config.statusIntervalMs, () => broker.connected)
  logger.info({ agentId, devices: devices.size - devices.notPolled, notPolled: devices.notPolled }, 'edge agent started')

  async function close(): Promise<void> {
    states.stopPeriodic()
    await central?.close()
    await devices.close()
    if (broker.connected) {
      const drained = await publisher.drain(options.closeDrainMs ?? 2000)
      if (!drained) logger.warn({ depth: outbox.depth() }, 'closing with undelivered samples')
      await states.announceOffline(1000)
    }
    publisher.close()
    await broker.close()
    await outbox.close()
    logger.info({ agentId }, 'edge agent stopped')
  }
  let closing: Promise<void> | undefined

  return {
    status: (): AgentStatus => ({
      agentId,
      stateTopic: agentAddress ? buildTopic(agentAddress, 'state') : null,
      mqtt: {
        url: options.mqtt.url,
        username: options.mqtt.username ?? null,
        ...broker.status(),
        publishedMessages: devices.publishedMessages,
        publishFailures: devices.publishFailures,
      },
      outbox: { depth: outbox.depth(), dropped: outbox.dropped(), maxSamples: config.outboxMaxSamples },
      devices: devices.status(),
      config: central?.state() ?? FILE_STATE,
    }),
    close: () => (closing ??= close()),
  }
}
