import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { DeadLetter, DeadLetterLog } from '../core/dead-letter.ts'
import { describeError, isPlantWattError, PlantWattError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC, ingestStateTopic, type MqttClientConfig } from '../core/mqtt.ts'
import { decodePayload } from '../core/payload.ts'
import { maxLinesBytes, scanPayloadLines, type LinesResult } from '../core/payload-scan.ts'
import { deviceKey, listPlantDevices, type PlantModel } from '../core/plant.ts'
import { addressTags, channelFilter, parseTopic, type TopicParts } from '../core/topic.ts'
import { linePrefix, toLines } from '../storage/influxdb/index.ts'
import { TELEMETRY_MEASUREMENT, type LineChunk, type TelemetryPoint, type TelemetryStore, type WriteConflict } from '../storage/store.ts'
import type { IngestConfig } from './config.ts'
import { conflictDeadLetter, conflictsOfWrite, screenLines, screenPoints, type SampleConflict, type ScreenedLines } from './conflicts.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { LineSlab } from './line-slab.ts'
import { RecentSamples } from './recent-samples.ts'
import { partitionOf, payloadToPoints } from './telemetry.ts'

/** Counters since start. */
export interface IngestStats {
  /** Connected to the broker now. */
  connected: boolean
  /** Messages taken from the broker (data and dead-letter topic). */
  received: number
  /** Data messages whose points were written. */
  writtenMessages: number
  /** Samples written, not counting those set aside as conflicts. */
  writtenSamples: number
  /** TelemetryPoints written (one per sample). */
  writtenPoints: number
  /** Store writes retried after a failure. */
  retried: number
  /** Dead letters recorded, per reason (broker-diverted and ingest's own). */
  deadLettered: Record<string, number>
  /** Messages of devices owned by another partition, acknowledged without writing. */
  skipped: number
  /** Messages taken but not yet written and acknowledged. */
  inFlight: number
  /** How long the oldest message in flight has waited, ms (0 when none): grows while the store is down. */
  lagMs: number
  /**
   * Samples set aside (dead letter INGEST_ERR_SAMPLE_CONFLICT) because their device and ts already
   * had another value for one of their fields: the first value is kept.
   */
  conflicts: number
  /** Times an established connection to the broker was lost (not counting close()). */
  disconnects: number
  /**
   * The last connection problem: INGEST_ERR_BROKER_REFUSED (CONNACK refusal, with its reason) or
   * INGEST_ERR_DISCONNECTED (the broker or the network closed the connection, e.g. another client
   * took over the session). `at`: epoch ms.
   */
  lastConnectionError?: { code: string; message: string; at: number }
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
}

/** A message taken from the broker, waiting to be written (if it has points) and acknowledged. */
interface Pending {
  /** Set for QoS 1 messages: the id to PUBACK. */
  messageId: number | undefined
  /** The connection it arrived on: a PUBACK is only meaningful on that connection. */
  connection: number
  /** What to write: line protocol when the store takes it (InfluxDB), else points. */
  points: TelemetryPoint[]
  lines: LineChunk | undefined
  /** Points or lines to write. */
  rows: number
  samples: number
  receivedAt: number
  topic: string
}

/** What one message gives to write: points, or the same as line protocol for stores that take it. */
interface Taken {
  points: TelemetryPoint[]
  lines: LineChunk | undefined
  samples: number
}

const DeadLetterSchema = Type.Object(
  {
    ts: Type.Integer({ minimum: 0 }),
    reason: Type.String({ minLength: 1, maxLength: 200 }),
    message: Type.String(),
    topic: Type.String(),
    payload: Type.String(),
    payloadBytes: Type.Integer({ minimum: 0 }),
    source: Type.String({ maxLength: 50 }),
  },
  { additionalProperties: false },
)
const checkDeadLetter = Compile(DeadLetterSchema)

const DEAD_LETTER_COPY_BYTES = 64 * 1024
const TOPIC_CACHE_SIZE = 100_000
const DEAD_LETTER_WARN_INTERVAL_MS = 10_000

/**
 * Passed to mqtt.js's handleMessage callback for QoS 1 messages: with an error it skips its
 * automatic PUBACK (mqtt 5.16 handlers/publish.js) and goes on reading, so the PUBACK can be sent
 * once the message is written. customHandleAcks cannot do this: mqtt.js only honours it on
 * MQTT 5 (Aedes speaks 3.1.1), and it runs inside the serial packet pump, so holding it would stop
 * every further packet until the write.
 */
const DEFER_ACK = new Error('PUBACK deferred until the message is written')

interface AckSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void): void
}

function defaultClientId(partition: IngestConfig['partition']): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9_-]/g, '-')
  return `plantwatt-ingest-${host}${partition ? `-p${partition.index}` : ''}`
}

function unknownDeviceError(key: string): PlantWattError {
  return new PlantWattError('INGEST_ERR_UNKNOWN_DEVICE', `device ${key} is not in the plant model (plant.strict is on)`)
}

function payloadCopy(payload: Buffer): string {
  return payload.subarray(0, DEAD_LETTER_COPY_BYTES).toString('utf8')
}

/**
 * Subscribes (persistent session, QoS 1) to telemetry and to the broker's dead-letter topic,
 * validates every message again (the broker may be one that does not), writes in batches and
 * acknowledges each message only once its points are in the store: a crash redelivers, never loses.
 */
export async function startIngest(opts: StartIngestOptions): Promise<RunningIngest> {
  const { config, store } = opts
  const logger = opts.logger ?? createLogger('ingest')
  const partition = config.partition
  if (partition && partition.index >= partition.count) {
    throw new PlantWattError('INGEST_ERR_CONFIG', `ingest.partition.index ${partition.index} must be below partition.count ${partition.count}`)
  }
  if (partition && config.sharedGroup !== undefined) {
    throw new PlantWattError('INGEST_ERR_CONFIG', 'ingest.partition and ingest.sharedGroup split the load two ways: set one of them')
  }
  // With a shared group the broker hands each message (the broker's dead letters too) to one member.
  const share = config.sharedGroup === undefined ? '' : `$share/${config.sharedGroup}/`
  const ownsDeadLetters = opts.deadLetters === undefined
  const deadLetters = opts.deadLetters ?? createDeadLetterLog({ file: config.deadLetterFile, memory: config.deadLetterMemory, logger })
  const knownDevices = opts.plant?.strict ? new Set(listPlantDevices(opts.plant).map(deviceKey)) : undefined
  const dataFilter = channelFilter('data')

  /** Stores that take line protocol get lines built straight from the payload's bytes. */
  const writeLines = store.writeLines?.bind(store)
  const slab = new LineSlab()
  const scanned: LinesResult = { end: 0, samples: 0 }
  /** Valid data topics seen, parsed (and their line prefix, UTF-8, and window table): a device publishes to the same topic all day. */
  const topics = new Map<string, { address: TopicParts; key: string; prefix: Buffer | undefined; recent: Map<number, number> | undefined }>()
  const counters = { received: 0, writtenMessages: 0, writtenSamples: 0, writtenPoints: 0, retried: 0, skipped: 0, conflicts: 0, disconnects: 0 }
  let lastConnectionError: IngestStats['lastConnectionError']
  /**
   * A store that tells conflicts exactly (writeKeepFirst) answers for all its history; in front of
   * any other, the window of recent samples does.
   */
  const writeKeepFirst = store.writeKeepFirst?.bind(store)
  const recent = writeKeepFirst ? undefined : new RecentSamples(config.conflictWindowSamples)
  const sampleConflicts: SampleConflict[] = []
  const screened: ScreenedLines = { end: 0, lines: 0 }
  const deadLettered: Record<string, number> = {}
  const lastWarned = new Map<string, number>()

  const queue: Pending[] = []
  let queuedPoints = 0
  let writingBatch: Pending[] = []
  let writing: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined
  let unsettled = 0
  /** The mqtt.js callback of the last message taken while at the in-flight bound. */
  let held: (() => void) | undefined
  let connection = 0
  let closing = false
  const stopRetrying = new AbortController()

  function record(entry: DeadLetter): void {
    deadLettered[entry.reason] = (deadLettered[entry.reason] ?? 0) + 1
    deadLetters.add(entry)
    // One warning per reason per interval: a flood of poison must not flood the log.
    const now = Date.now()
    if (now - (lastWarned.get(entry.reason) ?? 0) >= DEAD_LETTER_WARN_INTERVAL_MS) {
      lastWarned.set(entry.reason, now)
      logger.warn({ reason: entry.reason, topic: entry.topic.slice(0, 200), source: entry.source, total: deadLettered[entry.reason] }, `dead letter: ${entry.message}`)
    }
  }

  function deadLetterFrom(err: unknown, topic: string, payload: Buffer): DeadLetter {
    const coded = isPlantWattError(err) ? err : new PlantWattError('INGEST_ERR_INTERNAL', describeError(err), { cause: err })
    return { ts: Date.now(), reason: coded.code, message: coded.message, topic, payload: payloadCopy(payload), payloadBytes: payload.length, source: 'ingest' }
  }

  /** Dead-letters and counts the conflicts found in one message (in `sampleConflicts`); returns how many. */
  function setAside(topic: string, device: string): number {
    const n = sampleConflicts.length
    for (const c of sampleConflicts) record(conflictDeadLetter(topic, device, c))
    counters.conflicts += n
    sampleConflicts.length = 0
    return n
  }

  /** Turns one message into the points or lines to write; anything invalid is recorded as a dead letter. */
  function take(topic: string, payload: Buffer): Taken {
    const none: Taken = { points: [], lines: undefined, samples: 0 }
    if (topic === DEAD_LETTER_TOPIC) {
      // With partitions, one instance keeps the broker's dead letters so they are counted once.
      if (partition && partition.index !== 0) {
        counters.skipped++
        return none
      }
      let envelope: unknown
      try {
        envelope = JSON.parse(payload.toString('utf8'))
      } catch {
        envelope = undefined
      }
      if (checkDeadLetter.Check(envelope)) record(envelope)
      else record(deadLetterFrom(new PlantWattError('INGEST_ERR_DEAD_LETTER_ENVELOPE', `message on ${DEAD_LETTER_TOPIC} is not a dead-letter envelope`), topic, payload))
      return none
    }
    try {
      let known = topics.get(topic)
      if (known === undefined) {
        const parsed = parseTopic(topic)
        if (parsed.channel !== 'data') throw new PlantWattError('INGEST_ERR_CHANNEL', `ingest only stores the data channel, got ${JSON.stringify(topic)}`)
        const key = deviceKey(parsed)
        known = { address: parsed, key, prefix: writeLines ? Buffer.from(linePrefix(TELEMETRY_MEASUREMENT, addressTags(parsed))) : undefined, recent: recent?.device(key) }
        if (topics.size >= TOPIC_CACHE_SIZE) topics.clear()
        topics.set(topic, known)
      }
      const { address, key, prefix, recent: window } = known
      if (partition && partitionOf(key, partition.count) !== partition.index) {
        counters.skipped++
        return none
      }
      // Checked after the payload, so a malformed payload is dead-lettered for what is wrong with it.
      const unknownDevice = knownDevices !== undefined && !knownDevices.has(key)
      if (prefix !== undefined && payload.length <= config.maxPayloadBytes) {
        // The common case without JSON.parse: the scanner vouches for the payload (it declines
        // anything unusual, which then takes the full decode below) and writes its lines as bytes.
        const { buf, offset } = slab.reserve(maxLinesBytes(payload.length, prefix.length))
        if (scanPayloadLines(payload, prefix, buf, offset, scanned, config.maxPayloadBytes) === 1) {
          if (unknownDevice) throw unknownDeviceError(key)
          if (window === undefined) return { points: [], lines: slab.commit(scanned.end, scanned.samples), samples: scanned.samples }
          screenLines(recent as RecentSamples, window, buf, offset, scanned.end, prefix.length, sampleConflicts, screened)
          const conflicts = setAside(topic, key)
          return { points: [], lines: slab.commit(screened.end, screened.lines), samples: scanned.samples - conflicts }
        }
      }
      const decoded = decodePayload(payload, { maxBytes: config.maxPayloadBytes })
      if (unknownDevice) throw unknownDeviceError(key)
      let points = payloadToPoints(address, decoded)
      let samples = decoded.samples.length
      if (window !== undefined) {
        points = screenPoints(recent as RecentSamples, window, points, sampleConflicts)
        samples -= setAside(topic, key)
      }
      return prefix !== undefined ? { points: [], lines: slab.append(toLines(points)), samples } : { points, lines: undefined, samples }
    } catch (err) {
      record(deadLetterFrom(err, topic, payload))
      return none
    }
  }

  const clientId = opts.mqtt.clientId ?? defaultClientId(partition)
  const stateTopic = ingestStateTopic(clientId)
  const client: MqttClient = mqtt.connect(opts.mqtt.url, {
    clientId,
    // Retained status: whoever subscribes to pw/sys/ingest/# sees every instance, and the broker
    // replaces it with this will when the instance vanishes without a goodbye.
    ...(config.stateIntervalMs > 0 ? { will: { topic: stateTopic, payload: Buffer.from(JSON.stringify({ clientId, connected: false })), qos: 0 as const, retain: true } } : {}),
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
  } satisfies IClientOptions)

  function acknowledge(entry: Pending): void {
    // [MQTT-4.4.0-1] after a reconnect the broker resends unacknowledged messages itself; a PUBACK
    // for an id of an earlier connection could acknowledge a different message.
    if (entry.messageId === undefined || entry.connection !== connection || !client.connected) return
    ;(client as unknown as AckSender)._sendPacket({ cmd: 'puback', messageId: entry.messageId })
  }

  function settle(count: number): void {
    unsettled -= count
    if (held && unsettled < config.maxInFlightMessages) {
      const resume = held
      held = undefined
      resume()
    }
  }

  async function writeWithRetry(write: () => Promise<void>, count: number): Promise<boolean> {
    let delayMs = config.retry.initialMs
    for (;;) {
      try {
        await write()
        return true
      } catch (err) {
        if (closing) {
          logger.warn({ err: describeError(err), points: count }, 'store write failed while closing: left unacknowledged for the broker to redeliver')
          return false
        }
        counters.retried++
        logger.warn({ err: describeError(err), points: count, retryInMs: delayMs }, 'store write failed; retrying the batch')
        // Half fixed, half random: instances that failed together do not retry together.
        const waitMs = delayMs / 2 + Math.random() * (delayMs / 2)
        await sleep(waitMs, undefined, { signal: stopRetrying.signal }).catch(() => undefined)
        delayMs = Math.min(delayMs * 2, config.retry.maxMs)
      }
    }
  }

  /** Takes the next batch off the queue: a run of point-less entries, or whole messages up to batchSize points. */
  function nextBatch(): Pending[] {
    const batch: Pending[] = []
    let points = 0
    if (queue[0] && queue[0].rows === 0) {
      while (queue[0] && queue[0].rows === 0) batch.push(queue.shift() as Pending)
      return batch
    }
    while (queue[0] && (batch.length === 0 || points + queue[0].rows <= config.batchSize)) {
      const entry = queue.shift() as Pending
      points += entry.rows
      batch.push(entry)
    }
    queuedPoints -= points
    return batch
  }

  /** Conflicts the store reported for a batch's points: each sample dead-lettered and not counted as written. */
  function setAsideWritten(batch: readonly Pending[], points: readonly TelemetryPoint[], reported: readonly WriteConflict[]): void {
    const byPoint = conflictsOfWrite(points, reported)
    let first = 0
    for (const entry of batch) {
      const next = first + entry.points.length
      for (let i = first; i < next; i++) {
        const c = byPoint.get(i)
        if (c === undefined) continue
        const tags = (points[i] as TelemetryPoint).tags
        record(conflictDeadLetter(entry.topic, `${tags.enterprise}/${tags.site}/${tags.line}/${tags.device}`, c))
        counters.conflicts++
        entry.samples--
      }
      first = next
    }
  }

  async function writeBatch(): Promise<void> {
    const batch = nextBatch()
    writingBatch = batch
    try {
      const points: TelemetryPoint[] = []
      const chunks: LineChunk[] = []
      let lines = 0
      for (const entry of batch) {
        for (const point of entry.points) points.push(point)
        if (entry.lines) {
          chunks.push(entry.lines)
          lines += entry.lines.lines
        }
      }
      let conflicts: WriteConflict[] = []
      const writePoints = writeKeepFirst ? () => writeKeepFirst(points).then((c) => void (conflicts = c)) : () => store.write(points)
      let written = points.length === 0 || (await writeWithRetry(writePoints, points.length))
      if (written && conflicts.length > 0) setAsideWritten(batch, points, conflicts)
      if (written && lines > 0 && writeLines) written = await writeWithRetry(() => writeLines(chunks), lines)
      if (written) {
        // The batch's PUBACKs leave in one socket write, not one syscall each.
        const stream = client.stream as { cork?(): void; uncork?(): void } | undefined
        stream?.cork?.()
        process.nextTick(() => stream?.uncork?.())
        for (const entry of batch) {
          if (entry.rows > 0) {
            counters.writtenMessages++
            counters.writtenSamples += entry.samples
            counters.writtenPoints += entry.rows
          }
          // [MQTT-4.6.0-2] PUBACKs go out in the order the PUBLISH packets arrived.
          acknowledge(entry)
        }
      }
    } catch (err) {
      logger.error({ err: describeError(err) }, 'batch failed; left unacknowledged for the broker to redeliver')
    } finally {
      writingBatch = []
      settle(batch.length)
    }
  }

  function startWrite(): void {
    if (writing || queue.length === 0) return
    if (timer) clearTimeout(timer)
    timer = undefined
    writing = writeBatch().finally(() => {
      writing = undefined
      schedule()
    })
  }

  function schedule(): void {
    if (writing || queue.length === 0) return
    // Dead letters and skipped messages have nothing to write: acknowledge them at once.
    if (queuedPoints >= config.batchSize || queue[0]?.rows === 0) {
      startWrite()
      return
    }
    timer ??= setTimeout(() => {
      timer = undefined
      startWrite()
    }, config.flushIntervalMs)
  }

  async function flush(): Promise<void> {
    while (queue.length > 0 || writing) {
      if (writing) await writing
      else startWrite()
    }
  }

  client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void): void => {
    // Not taken and not acknowledged: the persistent session keeps it for the next start.
    if (closing) return
    counters.received++
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload
    let taken: Taken
    try {
      taken = take(packet.topic, payload)
    } catch (err) {
      record(deadLetterFrom(err, packet.topic, payload))
      taken = { points: [], lines: undefined, samples: 0 }
    }
    const rows = taken.points.length + (taken.lines?.lines ?? 0)
    // QoS 2 never arrives (the subscription is QoS 1); should a broker send it, mqtt.js completes it.
    const ackLater = packet.qos === 1
    queue.push({ messageId: ackLater ? packet.messageId : undefined, connection, points: taken.points, lines: taken.lines, rows, samples: taken.samples, receivedAt: Date.now(), topic: packet.topic })
    queuedPoints += rows
    unsettled++
    schedule()
    const resume = (): void => callback(ackLater ? DEFER_ACK : undefined)
    // Backpressure: not calling back stops mqtt.js reading, so TCP and then the broker hold the rest.
    if (unsettled >= config.maxInFlightMessages) held = resume
    else resume()
  }

  const firstSubscription = deferred()
  const url = opts.mqtt.url
  /** The connection is up (CONNACK accepted) and its loss not yet counted. */
  let up = false
  /** The last error mqtt.js reported on this connection: why it closed, when it says. */
  let lastError: string | undefined
  client.on('connect', () => {
    up = true
    lastError = undefined
    connection++
    // One filter per SUBSCRIBE: aedes-persistence-redis 11.2 never answers a persistent session's
    // SUBSCRIBE that carries two filters (the Redis-backed broker cluster), every broker takes this.
    const filters = [`${share}${dataFilter}`, `${share}${DEAD_LETTER_TOPIC}`]
    const subscribeNext = (i: number): void => {
      const filter = filters[i]
      if (filter === undefined) {
        firstSubscription.resolve()
        return
      }
      client.subscribe(filter, { qos: 1 }, (err, granted) => {
        // [MQTT-3.9.3] SUBACK return code 0x80 means the subscription was refused.
        const refused = granted?.filter((g) => g.qos !== 1 && g.qos !== 0) ?? []
        if (err || refused.length > 0) {
          const hint = share ? ` (shared subscriptions need a broker that has them — EMQX, HiveMQ, Mosquitto; with PlantWatt's broker use ingest.partition)` : ''
          const error = new PlantWattError('INGEST_ERR_SUBSCRIBE', `subscription to ${filter} refused: ${err ? describeError(err) : refused.map((g) => g.topic).join(', ')}${hint}`, { cause: err })
          logger.error({ err: error.message }, 'cannot subscribe')
          firstSubscription.reject(error)
          return
        }
        subscribeNext(i + 1)
      })
    }
    subscribeNext(0)
  })
  client.on('close', () => {
    // That connection's packet pump is gone; the broker redelivers what it had not acknowledged.
    held = undefined
    if (!up) return
    up = false
    if (closing) return
    counters.disconnects++
    // MQTT 3.1.1 has no DISCONNECT from the server: a broker that closes the connection (another
    // client took over the session [MQTT-3.1.4-2], a restart, a kick) gives no reason on the wire.
    const reason = lastError ?? 'connection closed by the broker or the network (e.g. another client connected with the same client id)'
    lastConnectionError = { code: 'INGEST_ERR_DISCONNECTED', message: `disconnected from ${url}: ${reason}`, at: Date.now() }
    logger.warn({ url, disconnects: counters.disconnects, code: lastConnectionError.code, reason }, 'disconnected from the broker; reconnecting')
  })
  client.on('disconnect', (packet: { reasonCode?: number }) => {
    // MQTT 5 only: the server says why.
    lastError = `the broker sent DISCONNECT (reason code ${packet.reasonCode ?? 0})`
  })
  client.on('error', (err: Error & { code?: unknown }) => {
    logger.warn({ err: describeError(err) }, 'mqtt error')
    // A CONNACK refusal (bad credentials, not authorized) will not heal by retrying; a refused TCP
    // connection may (the broker may still be starting).
    if (typeof err.code === 'number') {
      // [MQTT-3.2.2.3] CONNACK return codes 1–5
      lastConnectionError = { code: 'INGEST_ERR_BROKER_REFUSED', message: `broker ${url} refused the connection: CONNACK return code ${err.code} (${err.message})`, at: Date.now() }
      logger.warn({ url, code: lastConnectionError.code, connack: err.code }, lastConnectionError.message)
      firstSubscription.reject(new PlantWattError('INGEST_ERR_CONNECT', `broker ${opts.mqtt.url} refused the connection: ${err.message}`, { cause: err }))
    } else {
      lastError = describeError(err)
    }
  })

  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000
  const timeout = setTimeout(() => {
    firstSubscription.reject(new PlantWattError('INGEST_ERR_CONNECT', `no connection to the broker ${opts.mqtt.url} within ${connectTimeoutMs} ms`))
  }, connectTimeoutMs)
  try {
    await firstSubscription.promise
  } catch (err) {
    closing = true
    client.end(true)
    if (ownsDeadLetters) await deadLetters.close()
    throw err
  } finally {
    clearTimeout(timeout)
  }
  logger.info({ url: opts.mqtt.url, clientId: client.options.clientId }, 'ingest subscribed')

  const stats = (): IngestStats => {
    const oldest = writingBatch[0]?.receivedAt ?? queue[0]?.receivedAt
    return {
      connected: client.connected,
      ...counters,
      deadLettered: { ...deadLettered },
      inFlight: unsettled,
      lagMs: oldest === undefined ? 0 : Date.now() - oldest,
      ...(lastConnectionError ? { lastConnectionError: { ...lastConnectionError } } : {}),
    }
  }
  const publishState = (extra: Record<string, unknown> = {}): Promise<void> =>
    new Promise((resolve) => {
      if (!client.connected) return resolve()
      const body = JSON.stringify({ ts: Date.now(), clientId, ...stats(), ...extra })
      client.publish(stateTopic, body, { qos: 0, retain: true }, (err) => {
        if (err) logger.debug({ err: describeError(err) }, `cannot publish ${stateTopic}`)
        resolve()
      })
    })
  const stateTimer = config.stateIntervalMs > 0 ? setInterval(() => void publishState(), config.stateIntervalMs) : undefined
  stateTimer?.unref()
  if (stateTimer) void publishState()

  let closed: Promise<void> | undefined
  return {
    deadLetters,
    stateTopic,
    stats,
    flush,
    close() {
      closed ??= (async () => {
        closing = true
        stopRetrying.abort()
        if (stateTimer) clearInterval(stateTimer)
        await flush()
        if (timer) clearTimeout(timer)
        if (stateTimer) await publishState({ connected: false })
        await client.endAsync()
        if (ownsDeadLetters) await deadLetters.close()
        logger.info('ingest stopped')
      })()
      return closed
    },
  }
}

/** Node 20 has no Promise.withResolvers. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
