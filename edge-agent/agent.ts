import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { validateConfig } from '../core/config.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { MqttConnectionWatch, type MqttClientConfig, type MqttConnectionError } from '../core/mqtt.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import { EdgeConfigSchema, type EdgeConfig, type EdgeDeviceConfig } from './config.ts'
import { BUILTIN_DRIVERS, configuredEndpoint, type DriverFactory } from './drivers.ts'
import { createDiskOutbox } from './disk-outbox.ts'
import { createMemoryOutbox, deviceKey, type Outbox } from './outbox.ts'
import { DevicePoller, type LastError } from './poller.ts'
import type { DeviceProfileError } from './profile-error.ts'
import { agentStateAddress, checkEdgeDevices, type DeviceSetup } from './setup.ts'
import { Publisher, stateMessage, type StateCounters } from './publisher.ts'

export { agentStateAddress, checkEdgeDevices, type DeviceSetup }

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
  /** False when the device is left out of polling because its profile could not be loaded or validated. */
  polling: boolean
  /** Why the device is not polled: the profile's code, message and every problem (each with its code); null for a polled device. */
  profileError: DeviceProfileError | null
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
  mqtt: { url: string; username: string | null; connected: boolean; disconnects: number; lastConnectionError?: MqttConnectionError; publishedMessages: number; publishFailures: number }
  outbox: { depth: number; dropped: number; maxSamples: number }
  devices: DeviceStatus[]
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

interface DeviceEntry {
  key: string
  address: DeviceAddress
  driver: string
  endpoint: string
  /** Absent for a device left out of polling (`profileError` says why). */
  poller?: DevicePoller
  profileError?: DeviceProfileError
  publishedSamples: number
  publishedMessages: number
  nextSeq: number
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
  const config = validateConfig(EdgeConfigSchema, options.config, 'edge') as EdgeConfig
  const logger = options.logger ?? silentLogger()
  const setups = checkConfig(config, options.drivers ?? BUILTIN_DRIVERS)
  const startedAt = Date.now()
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
  const connection = new MqttConnectionWatch(client, 'EDGE', m.url)

  let publishedMessages = 0
  let publishFailures = 0
  const entries = new Map<string, DeviceEntry>()
  const publisher = new Publisher({
    client,
    outbox,
    maxSamplesPerMessage: config.maxSamplesPerMessage,
    publishIntervalMs: config.publishIntervalMs,
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
    const setup = setups[i] as DeviceSetup
    if (!setup.driver) {
      const profileError = setup.profileError
      const endpoint = configuredEndpoint(d as EdgeDeviceConfig)
      // Once, at start: the device stays out until the profile is fixed and the agent restarted.
      logger.error({ device: key, endpoint, profile: d.profile, code: profileError.code, problems: profileError.problems }, `device not polled: ${profileError.code}: ${profileError.message}`)
      entries.set(key, { key, address, driver: d.driver, endpoint, profileError, publishedSamples: 0, publishedMessages: 0, nextSeq: outbox.nextSeq(key) })
      return
    }
    const driver = setup.driver
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
    entries.set(key, { key, address, driver: driver.kind, endpoint: driver.endpoint, poller, publishedSamples: 0, publishedMessages: 0, nextSeq: outbox.nextSeq(key) })
  })

  const countersOf = (key: string): StateCounters => {
    const e = entries.get(key)
    const c = e?.poller?.counters
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
      if (!e.poller) continue
      sum.reads += e.poller.counters.reads
      sum.readErrors += e.poller.counters.readErrors
      sum.pointErrors += e.poller.counters.pointErrors
      sum.published += e.publishedSamples
    }
    return sum
  }
  /**
   * Retained state with counters of the agent and of every device it has reached or tried to poll,
   * and of every device it does not poll (offline, with the profile error).
   */
  const publishStates = (): void => {
    if (agentAddress) void publisher.publishState(agentAddress, 'online', agentId, agentCounters())
    for (const e of entries.values()) {
      if (!e.poller) {
        void publisher.publishState(e.address, 'offline', agentId, countersOf(e.key), e.profileError)
        continue
      }
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

  for (const e of entries.values()) e.poller?.start()
  // Counters go stale between status changes: republish every state periodically (only while connected).
  const statusTimer = setInterval(() => {
    if (client.connected) publishStates()
  }, config.statusIntervalMs)
  statusTimer.unref()
  const notPolled = [...entries.values()].filter((e) => !e.poller).length
  logger.info({ agentId, devices: entries.size - notPolled, notPolled }, 'edge agent started')

  const lastErrorOf = (e: DeviceEntry): LastError | null => {
    if (e.profileError) return { code: e.profileError.code, message: e.profileError.message, ts: startedAt }
    const last = e.poller?.counters.lastError
    return last ? { ...last } : null
  }

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    clearInterval(statusTimer)
    await Promise.all([...entries.values()].map((e) => e.poller?.close()))
    if (client.connected) {
      const drained = await publisher.drain(options.closeDrainMs ?? 2000)
      if (!drained) logger.warn({ depth: outbox.depth() }, 'closing with undelivered samples')
      const deadline = sleep(1000)
      const offline = [...entries.values()].map((e) => publisher.publishState(e.address, 'offline', agentId, countersOf(e.key), e.profileError))
      if (agentAddress) offline.push(publisher.publishState(agentAddress, 'offline', agentId, agentCounters()))
      await Promise.race([Promise.all(offline), deadline])
    }
    publisher.close()
    connection.closing()
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
        mqtt: { url: m.url, username: m.username ?? null, ...connection.status(), publishedMessages, publishFailures },
        outbox: { depth: outbox.depth(), dropped: outbox.dropped(), maxSamples: config.outboxMaxSamples },
        devices: [...entries.values()].map((e) => ({
          key: e.key,
          address: { ...e.address },
          driver: e.driver,
          endpoint: e.endpoint,
          connected: e.poller?.connected ?? false,
          reads: e.poller?.counters.reads ?? 0,
          readErrors: e.poller?.counters.readErrors ?? 0,
          pointErrors: e.poller?.counters.pointErrors ?? 0,
          values: e.poller?.counters.values ?? 0,
          overruns: e.poller?.counters.overruns ?? 0,
          lastReadTs: e.poller?.counters.lastReadTs ?? null,
          lastError: lastErrorOf(e),
          polling: e.poller !== undefined,
          profileError: e.profileError ? { ...e.profileError, problems: e.profileError.problems.map((p) => ({ ...p })) } : null,
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
