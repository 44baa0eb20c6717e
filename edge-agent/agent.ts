import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { validateConfig, type ConfigProblem } from '../core/config.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import type { MqttClientConfig } from '../core/mqtt.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import { EdgeConfigSchema, type EdgeConfig, type EdgeDeviceConfig } from './config.ts'
import type { Driver } from './driver.ts'
import { BUILTIN_DRIVERS, createDriver, type DriverFactory } from './drivers.ts'
import { createDiskOutbox } from './disk-outbox.ts'
import { busKey, busLocation } from './modbus/client.ts'
import { createMemoryOutbox, deviceKey, type Outbox } from './outbox.ts'
import { DevicePoller, type LastError } from './poller.ts'
import { Publisher, stateMessage, type StateCounters } from './publisher.ts'

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

/** Per-device counters, as `status()` reports them. */
export interface DeviceStatus {
  /** `enterprise/site/line/device` */
  key: string
  address: DeviceAddress
  driver: string
  endpoint: string
  /** The driver holds a working connection to the device. */
  connected: boolean
  reads: number
  readErrors: number
  /** Points reported bad, summed over all reads. */
  pointErrors: number
  /** Values handed on for publishing (good or uncertain), summed over all reads. */
  values: number
  /** Poll ticks skipped because a poll overran its interval. */
  overruns: number
  /** Epoch ms of the last successful read. */
  lastReadTs: number | null
  lastError: LastError | null
  /** Samples delivered to the broker (acknowledged for QoS 1). */
  publishedSamples: number
  publishedMessages: number
  /** `seq` of the next data message (one past the last delivered). */
  nextSeq: number
  outboxDepth: number
  dropped: number
}

export interface AgentStatus {
  agentId: string
  /** The agent's own retained state topic (carries the MQTT last will), if it has devices. */
  stateTopic: string | null
  mqtt: { url: string; connected: boolean; publishedMessages: number; publishFailures: number }
  outbox: { depth: number; dropped: number; maxSamples: number }
  devices: DeviceStatus[]
}

export interface RunningEdgeAgent {
  status(): AgentStatus
  /** Stops polling, delivers what it can within `closeDrainMs`, publishes offline states, disconnects. */
  close(): Promise<void>
}

/**
 * Where the agent announces itself: `pw/v1/{e}/{s}/{l}/{agentId}/state`, with e/s/l of the first
 * configured device. MQTT allows one will per connection, so this topic carries the will; each
 * device's own state names the agent (`agent`), which links a device to the agent's liveness.
 */
export function agentStateAddress(config: EdgeConfig): DeviceAddress | undefined {
  const first = config.devices[0]
  return first ? { enterprise: first.enterprise, site: first.site, line: first.line, device: config.agentId } : undefined
}

/** Cross-field checks the schema cannot express; every problem in one EDGE_ERR_CONFIG. */
function checkConfig(config: EdgeConfig, registry: Readonly<Record<string, DriverFactory>>): { drivers: Driver[] } {
  const problems: ConfigProblem[] = []
  const seen = new Map<string, number>()
  const agent = agentStateAddress(config)
  const drivers: Driver[] = []
  const buses = new Map<string, { index: number; settings: string }>()
  config.devices.forEach((d, i) => {
    if (d.driver === 'modbus' && d.connection.transport !== 'tcp') {
      // Devices on one bus share one port: its line settings must agree.
      const location = busLocation(d.connection)
      const key = busKey(location)
      const settings = JSON.stringify(location)
      const first = buses.get(key)
      if (!first) buses.set(key, { index: i, settings })
      else if (first.settings !== settings) problems.push({ path: `/devices/${i}/connection`, message: `bus ${key} is configured with other line settings at /devices/${first.index}/connection` })
    }
    const key = deviceKey(d)
    const dup = seen.get(key)
    if (dup !== undefined) problems.push({ path: `/devices/${i}`, message: `device ${key} is already configured at /devices/${dup}` })
    seen.set(key, i)
    if (agent && d.enterprise === agent.enterprise && d.site === agent.site && d.line === agent.line && d.device === agent.device) {
      problems.push({ path: `/devices/${i}/device`, message: `device id ${d.device} equals agentId, whose state topic ${buildTopic(agent, 'state')} it would share` })
    }
    try {
      drivers.push(createDriver(d as EdgeDeviceConfig, registry))
    } catch (err) {
      problems.push({ path: `/devices/${i}`, message: describeError(err) })
    }
  })
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')
    throw new PlantWattError('EDGE_ERR_CONFIG', `edge: ${problems.length} problem(s)\n${lines}`, { details: problems })
  }
  return { drivers }
}

interface DeviceEntry {
  key: string
  address: DeviceAddress
  poller: DevicePoller
  publishedSamples: number
  publishedMessages: number
  nextSeq: number
}

/**
 * Starts an edge agent: one poller per device, an outbox, and an MQTT publisher. Returns without
 * waiting for the broker: samples are buffered until it is reachable. Throws EDGE_ERR_CONFIG (all
 * problems at once) when a device cannot be set up; does no device I/O before returning.
 */
export async function startEdgeAgent(options: EdgeAgentOptions): Promise<RunningEdgeAgent> {
  const config = validateConfig(EdgeConfigSchema, options.config, 'edge') as EdgeConfig
  const logger = options.logger ?? silentLogger()
  const { drivers } = checkConfig(config, options.drivers ?? BUILTIN_DRIVERS)
  const outbox =
    options.outbox ??
    (config.buffer === 'disk'
      ? createDiskOutbox({ dir: config.bufferDir, file: `${config.agentId}.sqlite`, maxSamples: config.outboxMaxSamples, sync: config.bufferSync })
      : createMemoryOutbox({ maxSamples: config.outboxMaxSamples }))
  const agentAddress = agentStateAddress(config)
  const agentId = config.agentId
  const m = options.mqtt

  const clientOptions: IClientOptions = {
    clientId: m.clientId ?? `plantwatt-edge-${agentId}-${hostname().toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`,
    keepalive: m.keepaliveS,
    reconnectPeriod: m.reconnectPeriodMs,
    connectTimeout: 10_000,
    clean: true,
    protocolVersion: 4, // MQTT 3.1.1: what Aedes and every broker we list speak
    // A refused CONNACK (broker restarting, its user store not loaded yet) must not end the retries:
    // mqtt.js stops reconnecting after one unless told otherwise, and the agent would buffer forever.
    reconnectOnConnackError: true,
  }
  if (m.username !== undefined) clientOptions.username = m.username
  const password = m.password ?? process.env.PLANTWATT_MQTT_PASSWORD
  if (password !== undefined) clientOptions.password = password
  if (agentAddress) {
    // The will's ts is when the agent connected: the broker sends it unchanged when the agent dies.
    clientOptions.will = { topic: buildTopic(agentAddress, 'state'), payload: stateMessage('offline', agentId), qos: 1, retain: true }
  }
  const client: MqttClient = connect(m.url, clientOptions)

  let publishedMessages = 0
  let publishFailures = 0
  const entries = new Map<string, DeviceEntry>()
  const publisher = new Publisher({
    client,
    outbox,
    maxSamplesPerMessage: config.maxSamplesPerMessage,
    qos: config.publishQos,
    logger,
    onDelivered(batch) {
      publishedMessages++
      const e = entries.get(batch.key)
      if (e) {
        e.publishedMessages++
        e.publishedSamples += batch.samples.length
        e.nextSeq = batch.seq + 1
      }
    },
    onFailed() {
      publishFailures++
    },
  })

  config.devices.forEach((d, i) => {
    const address: DeviceAddress = { enterprise: d.enterprise, site: d.site, line: d.line, device: d.device }
    const key = deviceKey(address)
    const driver = drivers[i] as Driver
    const poller = new DevicePoller(
      d as EdgeDeviceConfig,
      driver,
      {
        onSample(sample) {
          outbox.push(address, sample)
          publisher.schedule()
        },
        onConnectionChange(connected) {
          void publisher.publishState(address, connected ? 'online' : 'offline', agentId, countersOf(key))
        },
      },
      logger.child({ device: key, driver: driver.kind }),
    )
    // A disk outbox continues numbering where the last run stopped.
    entries.set(key, { key, address, poller, publishedSamples: 0, publishedMessages: 0, nextSeq: outbox.nextSeq(key) })
  })

  const countersOf = (key: string): StateCounters => {
    const e = entries.get(key)
    const c = e?.poller.counters
    return {
      reads: c?.reads ?? 0,
      readErrors: c?.readErrors ?? 0,
      pointErrors: c?.pointErrors ?? 0,
      published: e?.publishedSamples ?? 0,
      bufferDepth: outbox.depth(key),
      dropped: outbox.dropped(key),
    }
  }
  /** The agent's own counters: its devices' summed (buffer depth and drops of the whole outbox). */
  const agentCounters = (): StateCounters => {
    const sum: StateCounters = { reads: 0, readErrors: 0, pointErrors: 0, published: 0, bufferDepth: outbox.depth(), dropped: outbox.dropped() }
    for (const e of entries.values()) {
      sum.reads += e.poller.counters.reads
      sum.readErrors += e.poller.counters.readErrors
      sum.pointErrors += e.poller.counters.pointErrors
      sum.published += e.publishedSamples
    }
    return sum
  }
  /** Retained state with counters of the agent and of every device it has reached or tried to poll. */
  const publishStates = (): void => {
    if (agentAddress) void publisher.publishState(agentAddress, 'online', agentId, agentCounters())
    for (const e of entries.values()) {
      const polled = e.poller.counters.reads + e.poller.counters.readErrors > 0
      // A device that went down while the broker was away would otherwise keep a stale 'online'.
      if (e.poller.connected || polled) void publisher.publishState(e.address, e.poller.connected ? 'online' : 'offline', agentId, countersOf(e.key))
    }
  }

  let wasConnected = false
  client.on('connect', () => {
    logger.info({ url: m.url }, wasConnected ? 'reconnected to the broker' : 'connected to the broker')
    wasConnected = true
    // Birth: the agent, then each device's current state (a broker restart may have lost retained ones).
    publishStates()
    publisher.schedule()
  })
  client.on('offline', () => logger.warn({ url: m.url }, 'broker unreachable; buffering samples'))
  client.on('error', (err) => logger.warn({ url: m.url, err: describeError(err) }, 'mqtt error'))

  for (const e of entries.values()) e.poller.start()
  // Counters go stale between status changes: republish every state periodically (only while connected).
  const statusTimer = setInterval(() => {
    if (client.connected) publishStates()
  }, config.statusIntervalMs)
  statusTimer.unref()
  logger.info({ agentId, devices: entries.size }, 'edge agent started')

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    clearInterval(statusTimer)
    await Promise.all([...entries.values()].map((e) => e.poller.close()))
    if (client.connected) {
      const drained = await publisher.drain(options.closeDrainMs ?? 2000)
      if (!drained) logger.warn({ depth: outbox.depth() }, 'closing with undelivered samples')
      const deadline = sleep(1000)
      const offline = [...entries.values()].map((e) => publisher.publishState(e.address, 'offline', agentId, countersOf(e.key)))
      if (agentAddress) offline.push(publisher.publishState(agentAddress, 'offline', agentId, agentCounters()))
      await Promise.race([Promise.all(offline), deadline])
    }
    publisher.close()
    // A clean DISCONNECT (not forced) so the broker discards the will [MQTT-3.1.2-10]; forced only
    // when the broker does not answer, and then the will correctly reports the agent offline.
    const ended = client.connected ? await Promise.race([client.endAsync(false).then(() => true), sleep(1000).then(() => false)]) : false
    if (!ended) await client.endAsync(true)
    await outbox.close()
    logger.info({ agentId }, 'edge agent stopped')
  }

  return {
    status(): AgentStatus {
      return {
        agentId,
        stateTopic: agentAddress ? buildTopic(agentAddress, 'state') : null,
        mqtt: { url: m.url, connected: client.connected, publishedMessages, publishFailures },
        outbox: { depth: outbox.depth(), dropped: outbox.dropped(), maxSamples: config.outboxMaxSamples },
        devices: [...entries.values()].map((e) => ({
          key: e.key,
          address: { ...e.address },
          driver: e.poller.driver.kind,
          endpoint: e.poller.driver.endpoint,
          connected: e.poller.connected,
          reads: e.poller.counters.reads,
          readErrors: e.poller.counters.readErrors,
          pointErrors: e.poller.counters.pointErrors,
          values: e.poller.counters.values,
          overruns: e.poller.counters.overruns,
          lastReadTs: e.poller.counters.lastReadTs ?? null,
          lastError: e.poller.counters.lastError ? { ...e.poller.counters.lastError } : null,
          publishedSamples: e.publishedSamples,
          publishedMessages: e.publishedMessages,
          nextSeq: e.nextSeq,
          outboxDepth: outbox.depth(e.key),
          dropped: outbox.dropped(e.key),
        })),
      }
    },
    close() {
      closing ??= close()
      return closing
    },
  }
}
