/**
 * startIngest: the wiring of ingest's parts — subscriber, message decoder (with the conflict
 * window), batch writer, ack sender, dead-letter sink, state publisher — and its counters.
 */
import type { DeadLetterLog } from '../core/dead-letter.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { ingestStateTopic, type MqttClientConfig } from '../core/mqtt.ts'
import type { PlantModel } from '../core/plant.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { AckSender } from './ack-sender.ts'
import { BatchWriter, type BatchWriterStats, type Pending } from './batch-writer.ts'
import type { IngestConfig } from './config.ts'
import { ConnectionTracker, type IngestConnectionError } from './connection.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { DeadLetterSink } from './dead-letter-sink.ts'
import { InFlightGate } from './in-flight.ts'
import { MessageDecoder } from './message-decoder.ts'
import { RecentSamples } from './recent-samples.ts'
import { checkSparkplugConfig, type Enqueue, SparkplugHost, type SparkplugHostStats, takeSparkplug } from './sparkplug/host.ts'
import { SparkplugHostState } from './sparkplug/host-state.ts'
import { StatePublisher } from './state-publisher.ts'
import { ingestClientId, Subscriber } from './subscriber.ts'

/** Counters since start. */
export interface IngestStats extends BatchWriterStats {
  /** Connected to the broker now. */
  connected: boolean
  /** Messages taken from the broker (data and dead-letter topic). */
  received: number
  /** Dead letters recorded, per reason (broker-diverted and ingest's own). */
  deadLettered: Record<string, number>
  /** Messages of devices owned by another partition, acknowledged without writing. */
  skipped: number
  /** Messages taken but not yet written and acknowledged. */
  inFlight: number
  /** Times an established connection to the broker was lost (not counting close()). */
  disconnects: number
  /**
   * The last connection problem: INGEST_ERR_BROKER_REFUSED (CONNACK refusal, with its reason) or
   * INGEST_ERR_DISCONNECTED (the broker or the network closed the connection, e.g. another client
   * took over the session). `at`: epoch ms.
   */
  lastConnectionError?: IngestConnectionError
  /** With ingest.sparkplug: NBIRTH/DBIRTH and NDEATH/DDEATH taken, NCMD rebirth requests sent. */
  sparkplug?: SparkplugHostStats
}

export interface RunningIngest {
  stats(): IngestStats
  /** Where stats() is published every stateIntervalMs (retained JSON with ts and clientId). */
  stateTopic: string
  deadLetters: DeadLetterLog
  /** Writes and acknowledges everything taken so far. */
  flush(): Promise<void>
  /** Stops taking messages, flushes, disconnects. */
  close(): Promise<void>
}

export interface StartIngestOptions {
  config: IngestConfig
  mqtt: MqttClientConfig
  store: TelemetryStore
  /** With `plant.strict`, telemetry of devices not in the model is dead-lettered. */
  plant?: PlantModel
  /** Default: a log built from config.deadLetterFile and config.deadLetterMemory (closed by close()). */
  deadLetters?: DeadLetterLog
  logger?: Logger
  /** How long startIngest waits for the first connection to the broker. Default 30 000 ms. */
  connectTimeoutMs?: number
  /**
   * Called after each batch is written with the devices it stored (each once), before the batch is
   * acknowledged: `plantwatt up` tells the API's live streams to read now (api/hub.ts). Must not throw.
   */
  onStored?: (devices: readonly StoredAddress[]) => void
}

/** A device of a written batch (its telemetry tags). */
export interface StoredAddress {
  enterprise: string
  site: string
  line: string
  device: string
}

/** The devices a written batch stored, each once (from the block's or the points' tags). */
export function storedAddresses(batch: readonly Pending[]): StoredAddress[] {
  const found = new Map<string, StoredAddress>()
  let last: Readonly<Record<string, string>> | undefined
  const add = (tags: Readonly<Record<string, string>>) => {
    if (tags === last) return
    last = tags
    const { enterprise, site, line, device } = tags
    if (enterprise === undefined || site === undefined || line === undefined || device === undefined) return
    const key = `${enterprise}/${site}/${line}/${device}`
    if (!found.has(key)) found.set(key, { enterprise, site, line, device })
  }
  for (const entry of batch) {
    if (entry.samples <= 0) continue
    if (entry.block) add(entry.block.tags)
    for (const point of entry.points) add(point.tags)
  }
  return [...found.values()]
}

function checkConfig(config: IngestConfig): void {
  const partition = config.partition
  if (partition && partition.index >= partition.count) {
    throw new PlantWattError('INGEST_ERR_CONFIG', `ingest.partition.index ${partition.index} must be below partition.count ${partition.count}`)
  }
  if (partition && config.sharedGroup !== undefined) {
    throw new PlantWattError('INGEST_ERR_CONFIG', 'ingest.partition and ingest.sharedGroup split the load two ways: set one of them')
  }
  if (config.sparkplug && config.sharedGroup !== undefined) {
    throw new PlantWattError('INGEST_ERR_CONFIG', 'ingest.sparkplug needs every message of a node (births, seq): not with sharedGroup (use partition)')
  }
  if (config.sparkplug) checkSparkplugConfig(config.sparkplug)
  if (config.sparkplug?.primaryHostId !== undefined && (partition?.count ?? 1) > 1) {
    throw new PlantWattError(
      'INGEST_ERR_CONFIG',
      'ingest.sparkplug.primaryHostId: one host state for several partitions would say offline when any one instance stops: set it only with one instance',
    )
  }
}

/**
 * Subscribes (persistent session, QoS 1) to telemetry and to the broker's dead-letter topic,
 * validates every message again (the broker may be one that does not), writes in batches and
 * acknowledges each message only once its points are in the store: a crash redelivers, never loses.
 *
 * A store that tells conflicts exactly (writeKeepFirst) gets points and answers for all its history;
 * in front of any other, a window of recent samples does, and a store with writeBlocks gets the
 * scanner's blocks.
 */
export async function startIngest(opts: StartIngestOptions): Promise<RunningIngest> {
  const { config, store } = opts
  checkConfig(config)
  const logger = opts.logger ?? createLogger('ingest')
  const deadLetters = opts.deadLetters ?? createDeadLetterLog({ file: config.deadLetterFile, memory: config.deadLetterMemory, logger })
  const closeDeadLetters = (): Promise<void> => (opts.deadLetters === undefined ? deadLetters.close() : Promise.resolve())
  const clientId = opts.mqtt.clientId ?? ingestClientId(config.partition)
  const stateTopic = ingestStateTopic(clientId)

  const sink = new DeadLetterSink(deadLetters, logger)
  const window = store.writeKeepFirst ? undefined : new RecentSamples(config.conflictWindowSamples)
  const decoder = new MessageDecoder({ config, plant: opts.plant, blocks: window !== undefined && store.writeBlocks !== undefined, window, sink })
  const will = config.stateIntervalMs > 0 ? { topic: stateTopic, payload: Buffer.from(JSON.stringify({ clientId, connected: false })) } : undefined
  const subscriber = new Subscriber({ mqtt: opts.mqtt, clientId, config, will, logger })
  const connection = new ConnectionTracker(subscriber.client, opts.mqtt.url, logger)
  const acks = new AckSender(subscriber.client)
  const gate = new InFlightGate(config.maxInFlightMessages)
  const onStored = opts.onStored
  const written = (batch: readonly Pending[]): void => {
    if (onStored) {
      try {
        onStored(storedAddresses(batch))
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'onStored failed; the batch is acknowledged all the same')
      }
    }
    acks.acknowledge(batch)
  }
  const writer = new BatchWriter({ config, store, sink, logger, written, settled: (n) => gate.settle(n) })
  let received = 0
  subscriber.client.on('close', () => gate.drop())
  const enqueue: Enqueue = (topic, { points, block, samples }, messageId, resume) => {
    const rows = points.length + (block?.samples ?? 0)
    writer.add({ messageId, connection: acks.connection, points, block, samples, rows, receivedAt: Date.now(), topic })
    gate.take(resume)
  }
  const sparkplug = config.sparkplug
    ? new SparkplugHost({ config: config.sparkplug, sink, logger, publish: (topic, payload, o) => void subscriber.client.publish(topic, payload, o) })
    : undefined
  subscriber.onMessage((topic, payload, messageId, resume) => {
    received++
    if (sparkplug?.accepts(topic)) takeSparkplug(sparkplug, (t, p) => decoder.take(t, p), enqueue, { topic, payload, messageId, resume })
    else enqueue(topic, decoder.take(topic, payload), messageId, resume)
  })

  try {
    await subscriber.subscribed(opts.connectTimeoutMs ?? 30_000)
  } catch (err) {
    connection.closing()
    await closeDeadLetters()
    throw err
  }
  logger.info({ url: opts.mqtt.url, clientId }, 'ingest subscribed')
  // Born as the Sparkplug primary host only once subscribed to the namespace (§5.3).
  const hostId = config.sparkplug?.primaryHostId
  const hostState = hostId === undefined ? undefined : new SparkplugHostState({ mqtt: opts.mqtt, clientId, hostId, logger })

  const stats = (): IngestStats => {
    const { conflicts, ...written } = writer.stats()
    return {
      connected: subscriber.client.connected,
      received,
      ...written,
      skipped: decoder.skipped,
      conflicts: decoder.conflicts + conflicts,
      disconnects: connection.disconnects,
      deadLettered: sink.stats(),
      inFlight: gate.count,
      ...(connection.lastError ? { lastConnectionError: { ...connection.lastError } } : {}),
      ...(sparkplug ? { sparkplug: sparkplug.stats() } : {}),
    }
  }
  const state = new StatePublisher(subscriber.client, stateTopic, clientId, stats, config.stateIntervalMs, logger)

  let closed: Promise<void> | undefined
  return {
    deadLetters,
    stateTopic,
    stats,
    flush: () => writer.flush(),
    close() {
      closed ??= (async () => {
        // Offline first, while still taking: nodes hold their data from here on, and what they sent
        // before hearing it (Sparkplug data is QoS 0) is still stored.
        await hostState?.close()
        subscriber.stopTaking()
        connection.closing()
        state.stop()
        await writer.close()
        await state.close()
        await subscriber.close()
        await closeDeadLetters()
        logger.info('ingest stopped')
      })()
      return closed
    },
  }
}
