/**
 * Ingest as a Sparkplug B 3.0 host application: keeps each edge node's births (aliases, datatypes,
 * bdSeq) and seq, maps metrics onto PlantWatt devices and canonical quantities, and hands each
 * message on as native data payloads — which then take the same path as native telemetry
 * (MessageDecoder → BatchWriter, PUBACK once stored). What cannot be mapped is dead-lettered.
 */
import type { DeadLetter } from '../../core/dead-letter.ts'
import { PlantWattError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { encodePayload, type Quality, type Sample } from '../../core/payload.ts'
import { buildTopic, type DeviceAddress } from '../../core/topic.ts'
import type { DeadLetterSink } from '../dead-letter-sink.ts'
import type { Taken } from '../message-decoder.ts'
import { BirthCertificate, NodeRecord } from './births.ts'
import { decodeSparkplug, metricNumber, rebirthCommand, type SparkplugPayload } from './codec.ts'
import type { SparkplugIngestConfig } from './config.ts'
import { SparkplugMapping } from './mapping.ts'
import { isSparkplugTopic, parseSparkplugTopic, sparkplugTopic, type SparkplugTopic } from './topic.ts'

/** A native data message made of a Sparkplug message: topic and JSON payload. */
export interface NativeMessage {
  topic: string
  payload: Buffer
}

export interface SparkplugHostOptions {
  config: SparkplugIngestConfig
  sink: DeadLetterSink
  /** Sends an NCMD (QoS 0) or a retained device state (QoS 1). */
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): void
  logger: Logger
  now?: () => number
}

export interface SparkplugHostStats {
  births: number
  deaths: number
  rebirthRequests: number
}

const NONE: NativeMessage[] = []

/** Node-level metrics every Sparkplug node has, which carry no telemetry. */
function isControlMetric(name: string): boolean {
  return name === 'bdSeq' || name.startsWith('Node Control/') || name.startsWith('Device Control/')
}

/** Sparkplug's Quality property (OPC DA codes, as Ignition sends them) as a PlantWatt quality. */
export function qualityOfCode(code: number | undefined): Quality {
  if (code === undefined || (code >= 192 && code <= 255)) return 'good'
  return code >= 64 && code < 192 ? 'uncertain' : 'bad'
}

/** The checks the mapping rules make of themselves (INGEST_ERR_CONFIG), for a start that opens nothing first. */
export function checkSparkplugConfig(config: SparkplugIngestConfig): void {
  void new SparkplugMapping(config.mapping, config.enterprises)
}

export class SparkplugHost {
  private readonly nodes = new Map<string, NodeRecord>()
  private readonly mapping: SparkplugMapping
  private readonly now: () => number
  private readonly counters: SparkplugHostStats = { births: 0, deaths: 0, rebirthRequests: 0 }

  constructor(private readonly o: SparkplugHostOptions) {
    this.mapping = new SparkplugMapping(o.config.mapping, o.config.enterprises)
    this.now = o.now ?? Date.now
  }

  /** True for the Sparkplug B namespace: those messages are this host's to take. */
  accepts(topic: string): boolean {
    return isSparkplugTopic(topic)
  }

  stats(): SparkplugHostStats {
    return { ...this.counters }
  }

  /** The native messages of one Sparkplug message; never throws (what cannot be stored is dead-lettered). */
  take(topic: string, payload: Buffer): NativeMessage[] {
    try {
      const t = parseSparkplugTopic(topic)
      if (t === undefined) {
        // Host applications' STATE (§4.1.2) is not telemetry.
        if (topic.startsWith('spBv1.0/STATE/')) return NONE
        throw new PlantWattError('INGEST_ERR_SPARKPLUG_TOPIC', `not a Sparkplug B edge node or device topic: ${JSON.stringify(topic.slice(0, 200))}`)
      }
      // Commands go to nodes, from hosts (this one among them).
      if (t.type === 'NCMD' || t.type === 'DCMD') return NONE
      return this.takeMessage(t, decodeSparkplug(payload))
    } catch (err) {
      this.o.sink.recordError(err, topic, payload)
      return NONE
    }
  }

  private takeMessage(t: SparkplugTopic, p: SparkplugPayload): NativeMessage[] {
    const key = `${t.group}/${t.node}`
    // [tck-id-payloads-sequence-num-req-nbirth] every message but NDEATH carries seq 0–255.
    if (t.type !== 'NDEATH' && (p.seq === undefined || p.seq > 255))
      throw new PlantWattError('INGEST_ERR_SPARKPLUG_PAYLOAD', `${t.type} without a seq of 0–255 (got ${p.seq ?? 'none'})`)
    if (t.type === 'NBIRTH') return this.nodeBirth(t, key, p)
    const node = this.nodes.get(key)
    if (t.type === 'NDEATH') {
      this.nodeDeath(t, node, p)
      return NONE
    }
    if (node?.birth === undefined) throw this.needsRebirth(t, node, 'INGEST_ERR_SPARKPLUG_NO_BIRTH', `${t.type} before the node's NBIRTH`)
    if (!node.follows(p.seq)) {
      const expected = (node.seq + 1) % 256
      node.forget()
      throw this.needsRebirth(t, node, 'INGEST_ERR_SPARKPLUG_SEQ', `${t.type} seq ${p.seq} where ${expected} was due: births no longer trusted`)
    }
    switch (t.type) {
      case 'NDATA':
        return this.values(t, node.birth, p)
      case 'DBIRTH':
        return this.deviceBirth(t, node, p)
      case 'DDEATH':
        this.deviceDeath(t, node)
        return NONE
      default: {
        const birth = node.devices.get(t.device ?? '')
        if (birth === undefined) throw this.needsRebirth(t, node, 'INGEST_ERR_SPARKPLUG_NO_BIRTH', `DDATA before the device's DBIRTH`)
        return this.values(t, birth, p)
      }
    }
  }

  private nodeBirth(t: SparkplugTopic, key: string, p: SparkplugPayload): NativeMessage[] {
    const node = this.nodes.get(key) ?? new NodeRecord()
    this.nodes.set(key, node)
    node.forget()
    const bdSeq = p.metrics.find((m) => m.name === 'bdSeq')
    node.bdSeq = bdSeq === undefined ? undefined : metricNumber(bdSeq, bdSeq.datatype ?? 0)
    node.seq = p.seq ?? 0
    node.birth = new BirthCertificate(p.metrics)
    this.counters.births++
    const out = this.values(t, node.birth, p)
    this.announce(t, node.birth, 'online')
    return out
  }

  private deviceBirth(t: SparkplugTopic, node: NodeRecord, p: SparkplugPayload): NativeMessage[] {
    const birth = new BirthCertificate(p.metrics)
    node.devices.set(t.device ?? '', birth)
    this.counters.births++
    const out = this.values(t, birth, p)
    this.announce(t, birth, 'online')
    return out
  }

  private nodeDeath(t: SparkplugTopic, node: NodeRecord | undefined, p: SparkplugPayload): void {
    if (node === undefined) return
    const bdSeq = p.metrics.find((m) => m.name === 'bdSeq')
    const dying = bdSeq === undefined ? undefined : metricNumber(bdSeq, bdSeq.datatype ?? 0)
    // [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline] an NDEATH
    // whose bdSeq is not the current NBIRTH's is the will of an older session.
    if (node.bdSeq !== undefined && dying !== undefined && dying !== node.bdSeq) return
    this.counters.deaths++
    for (const [device, birth] of node.devices) this.announce({ ...t, device }, birth, 'offline')
    if (node.birth) this.announce(t, node.birth, 'offline')
    node.forget()
  }

  private deviceDeath(t: SparkplugTopic, node: NodeRecord): void {
    const birth = node.devices.get(t.device ?? '')
    if (birth === undefined) return
    this.counters.deaths++
    this.announce(t, birth, 'offline')
    node.devices.delete(t.device ?? '')
  }

  /** Dead-letters data the host cannot read, and asks the node for its births again (rate-limited). */
  private needsRebirth(t: SparkplugTopic, node: NodeRecord | undefined, code: string, why: string): PlantWattError {
    const now = this.now()
    const record = node ?? new NodeRecord()
    if (node === undefined) this.nodes.set(`${t.group}/${t.node}`, record)
    let asked = ''
    if (this.o.config.rebirth === 'request' && now - record.lastRebirthAt >= this.o.config.rebirthIntervalMs) {
      record.lastRebirthAt = now
      this.counters.rebirthRequests++
      this.o.publish(sparkplugTopic({ group: t.group, type: 'NCMD', node: t.node }), rebirthCommand(now), { qos: 0, retain: false })
      asked = '; rebirth requested'
      this.o.logger.info({ group: t.group, node: t.node, reason: code }, 'Sparkplug rebirth requested')
    }
    return new PlantWattError(code, `${t.group}/${t.node}${t.device ? `/${t.device}` : ''}: ${why}${asked}`)
  }

  /** The retained state of every PlantWatt device a birth maps to. */
  private announce(t: SparkplugTopic, birth: BirthCertificate, status: 'online' | 'offline'): void {
    const body = Buffer.from(JSON.stringify({ status, agent: `sparkplug:${t.group}/${t.node}`, ts: this.now() }))
    for (const key of birth.devices) {
      const [enterprise, site, line, device] = key.split('/') as [string, string, string, string]
      this.o.publish(buildTopic({ enterprise, site, line, device }, 'state'), body, { qos: 1, retain: true })
    }
  }

  /** The metrics' values as native messages, one per PlantWatt device; unmapped metrics dead-lettered together. */
  private values(t: SparkplugTopic, birth: BirthCertificate, p: SparkplugPayload): NativeMessage[] {
    const byDevice = new Map<string, { address: DeviceAddress; samples: Map<number, Sample> }>()
    const unmapped: { metric: string; reason: string }[] = []
    for (const m of p.metrics) {
      const declared = birth.lookup(m)
      const name = declared?.name ?? m.name ?? `alias ${m.alias ?? '?'}`
      if (declared === undefined) {
        unmapped.push({ metric: name, reason: 'not declared by its birth' })
        continue
      }
      if (isControlMetric(name)) continue
      declared.mapping ??= this.mapping.resolve({ group: t.group, node: t.node, device: t.device ?? '', metric: name })
      const result = declared.mapping
      if (result.mapped === undefined) {
        unmapped.push({ metric: name, reason: result.reason })
        continue
      }
      const { address, key, quantity, scale, offset } = result.mapped
      birth.devices.add(key)
      const raw = metricNumber(m, declared.datatype)
      if (raw === undefined && !m.isNull) {
        unmapped.push({ metric: name, reason: `datatype ${declared.datatype} is not a number` })
        continue
      }
      let entry = byDevice.get(key)
      if (entry === undefined) byDevice.set(key, (entry = { address, samples: new Map() }))
      const ts = m.timestamp ?? p.timestamp ?? this.now()
      let sample = entry.samples.get(ts)
      if (sample === undefined) entry.samples.set(ts, (sample = { ts, values: {} }))
      const quality = raw === undefined ? 'bad' : qualityOfCode(m.quality)
      if (quality !== 'bad') sample.values[quantity] = (raw as number) * scale + offset
      if (quality !== 'good') sample.quality = { ...sample.quality, [quantity]: quality }
    }
    if (unmapped.length > 0) this.deadLetterUnmapped(t, unmapped)
    const seq = p.seq ?? 0
    return [...byDevice.values()].map(({ address, samples }) => ({
      topic: buildTopic(address, 'data'),
      payload: encodePayload({ seq, samples: [...samples.values()].sort((a, b) => a.ts - b.ts) }),
    }))
  }

  private deadLetterUnmapped(t: SparkplugTopic, unmapped: { metric: string; reason: string }[]): void {
    const body = JSON.stringify({ group: t.group, node: t.node, device: t.device ?? null, type: t.type, metrics: unmapped })
    const entry: DeadLetter = {
      ts: this.now(),
      reason: 'INGEST_ERR_SPARKPLUG_UNMAPPED',
      message: `${unmapped.length} metric(s) not stored: ${unmapped.map((u) => `${JSON.stringify(u.metric)} (${u.reason})`).join(', ')}`.slice(0, 2000),
      topic: sparkplugTopic(t),
      payload: body,
      payloadBytes: Buffer.byteLength(body),
      source: 'ingest',
    }
    this.o.sink.record(entry)
  }
}

/** What the message decoder makes of one message (ingest's MessageDecoder.take). */
export type TakeNative = (topic: string, payload: Buffer) => Taken
/** Queues a taken message for the batch writer, with its PUBACK ticket and mqtt.js's resume callback. */
export type Enqueue = (topic: string, taken: Taken, messageId: number | undefined, resume: () => void) => void

const NOTHING: Taken = { points: [], block: undefined, samples: 0 }
const noop = (): void => undefined

/**
 * One Sparkplug message into the writer: each native message it became goes through the decoder;
 * only the last carries the PUBACK and resumes reading, so the message is acknowledged once all of
 * them are stored (the writer stores and acknowledges in arrival order). A message with nothing to
 * store (dead-lettered, a death, a command) is acknowledged as it is.
 */
export function takeSparkplug(
  host: SparkplugHost,
  decode: TakeNative,
  enqueue: Enqueue,
  message: { topic: string; payload: Buffer; messageId: number | undefined; resume: () => void },
): void {
  const native = host.take(message.topic, message.payload)
  if (native.length === 0) {
    enqueue(message.topic, NOTHING, message.messageId, message.resume)
    return
  }
  native.forEach((n, i) => {
    const last = i === native.length - 1
    enqueue(n.topic, decode(n.topic, n.payload), last ? message.messageId : undefined, last ? message.resume : noop)
  })
}
