/**
 * The agent as a Sparkplug B 3.0 edge node (`publisher: sparkplug`): NBIRTH and DBIRTH with every
 * metric (name, alias, datatype, unit), DDATA drained from the outbox as samples are read, NDEATH as
 * the MQTT will with bdSeq (the NBIRTH carries the same), seq 0–255 wrapping, and a new birth on
 * NCMD `Node Control/Rebirth`. Payloads are encoded by Eclipse Tahu's sparkplug-payload.
 *
 * With a primary host (`primaryHostId`, §5.3 / §7.4 of Sparkplug B 3.0): the node subscribes to
 * `spBv1.0/STATE/<id>` and is born only once the host says online; when it says offline the node
 * sends NDEATH and holds its samples in the outbox (the disk outbox keeps them over restarts) until
 * the host is back, then births again and sends the backlog flagged historical. A STATE whose
 * timestamp is older than the last one seen is ignored (a late will of the host's earlier session).
 */
import type { IClientOptions, MqttClient } from 'mqtt'
import { decodePayload, encodePayload, type UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { describeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { Sample } from '../../core/payload.ts'
import { isQuantity, quantityInfo } from '../../core/quantities.ts'
import { hostStateTopic, parseHostState } from '../../core/sparkplug-state.ts'
import type { DeviceEntry } from '../device-table.ts'
import type { Outbox, OutboxBatch } from '../outbox.ts'
import type { SparkplugIdentity } from './config.ts'

const NAMESPACE = 'spBv1.0'
const REBIRTH = 'Node Control/Rebirth'
/** OPC DA quality codes in the `Quality` property, as Ignition reads them: bad 0, uncertain 64 (good: no property). */
const QUALITY_CODE = { bad: 0, uncertain: 64 } as const

/** One canonical quantity of a device, as its DBIRTH declares it. */
interface DeviceMetric {
  alias: number
  /** The newest value published (null: bad or never read). */
  value: number | null
  ts: number
}

interface SparkplugDevice {
  id: string
  metrics: Map<string, DeviceMetric>
  /** A DBIRTH with every current metric went out on this connection (and no DDEATH since). */
  born: boolean
}

export interface SparkplugEdgeNodeOptions {
  identity: SparkplugIdentity
  outbox: Outbox
  maxSamplesPerMessage: number
  logger: Logger
  /** Called once per delivered DDATA (written to the socket: Sparkplug data is QoS 0). */
  onDelivered(batch: OutboxBatch): void
  onFailed(batch: OutboxBatch, err: Error): void
}

export class SparkplugEdgeNode {
  private client: MqttClient | undefined
  /** Birth/death sequence: one per MQTT session, in the will's NDEATH and the NBIRTH. */
  private bdSeq = 0
  private seq = 0
  /** When this session's NBIRTH went out (epoch ms). */
  private bornAt = 0
  /** Alias 0 is bdSeq, 1 the rebirth control; device metrics from 2 (unique within the node). */
  private nextAlias = 2
  private readonly devices = new Map<string, SparkplugDevice>()
  private inFlight = 0
  private scheduled = false
  private closed = false
  private idleWaiters: (() => void)[] = []
  /** Without a primary host always true; with one, what its newest STATE said (false until heard). */
  private hostOnline: boolean
  private hostTimestamp = Number.NEGATIVE_INFINITY

  constructor(private readonly o: SparkplugEdgeNodeOptions) {
    this.hostOnline = o.identity.primaryHostId === undefined
  }

  private get stateTopic(): string | undefined {
    const id = this.o.identity.primaryHostId
    return id === undefined ? undefined : hostStateTopic(id)
  }

  /** The primary host's STATE: born when it comes online, NDEATH and hold when it goes offline. */
  private hostState(payload: Buffer): void {
    const state = parseHostState(payload)
    if (state === undefined) {
      this.o.logger.warn({ topic: this.stateTopic }, 'Sparkplug host STATE that is not JSON with online and timestamp: ignored')
      return
    }
    if (state.timestamp < this.hostTimestamp) return
    this.hostTimestamp = state.timestamp
    if (state.online === this.hostOnline) return
    this.hostOnline = state.online
    this.o.logger.info({ host: this.o.identity.primaryHostId, online: state.online }, 'Sparkplug primary host state')
    if (state.online) this.announceAll()
    else {
      this.client?.publish(this.topic('NDEATH'), this.ndeath(), { qos: 1, retain: false })
      this.bornAt = 0
      for (const d of this.devices.values()) d.born = false
    }
  }

  private topic(type: string, device?: string): string {
    const { groupId, edgeNodeId } = this.o.identity
    return `${NAMESPACE}/${groupId}/${type}/${edgeNodeId}${device === undefined ? '' : `/${device}`}`
  }

  private ndeath(): Buffer {
    return Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: 'bdSeq', type: 'Int64', value: this.bdSeq }] }))
  }

  /** The connection's options with NDEATH as the will ([tck-id-topics-ndeath-payload]: bdSeq; QoS 1, not retained). */
  clientOptions(base: IClientOptions): IClientOptions {
    return { ...base, will: { topic: this.topic('NDEATH'), payload: this.ndeath(), qos: 1, retain: false } }
  }

  /** Takes over the agent's connection: births on every connect, a new bdSeq for every new session. */
  attach(client: MqttClient): this {
    this.client = client
    client.on('close', () => {
      // The will of the session that just ended carried this bdSeq; the next session gets the next one.
      this.bdSeq = (this.bdSeq + 1) % 256
      if (client.options.will) client.options.will.payload = this.ndeath()
      for (const d of this.devices.values()) d.born = false
      this.bornAt = 0
      // The host's STATE is heard again (retained) on the next session before any birth.
      if (this.stateTopic !== undefined) this.hostOnline = false
    })
    client.on('message', (topic, payload) => {
      if (topic === this.topic('NCMD')) this.command(payload)
      else if (topic === this.stateTopic) this.hostState(payload)
    })
    return this
  }

  private command(payload: Buffer): void {
    let metrics: UMetric[]
    try {
      metrics = decodePayload(payload).metrics ?? []
    } catch (err) {
      this.o.logger.warn({ err: describeError(err) }, 'Sparkplug NCMD that is not a Sparkplug payload: ignored')
      return
    }
    if (metrics.some((m) => m.name === REBIRTH && m.value === true)) {
      this.o.logger.info({ node: this.o.identity.edgeNodeId }, 'Sparkplug rebirth requested')
      this.announceAll()
    }
  }

  /** NBIRTH (seq 0, this session's bdSeq), then a DBIRTH for every device read so far; subscribes to NCMD. */
  announceAll(): void {
    const client = this.client
    if (!client?.connected || this.closed) return
    client.subscribe(this.topic('NCMD'), { qos: 0 })
    if (this.stateTopic !== undefined) client.subscribe(this.stateTopic, { qos: 1 })
    if (!this.hostOnline) return
    this.seq = 0
    this.bornAt = Date.now()
    const metrics: UMetric[] = [
      { name: 'bdSeq', alias: 0, type: 'Int64', value: this.bdSeq },
      { name: REBIRTH, alias: 1, type: 'Boolean', value: false },
    ]
    this.send(this.topic('NBIRTH'), { timestamp: this.bornAt, seq: 0, metrics })
    for (const d of this.devices.values()) this.birth(d)
    this.schedule()
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 256
    return this.seq
  }

  private send(topic: string, payload: Parameters<typeof encodePayload>[0], done?: (err?: Error) => void): void {
    // Sparkplug B 3.0: births and data are QoS 0, not retained.
    this.client?.publish(topic, Buffer.from(encodePayload(payload)), { qos: 0, retain: false }, done)
  }

  /** DBIRTH: every metric with its datatype, alias, unit (engUnit) and newest value. */
  private birth(d: SparkplugDevice): void {
    const metrics: UMetric[] = []
    for (const [name, m] of d.metrics) {
      const unit = isQuantity(name) ? quantityInfo(name).unit : ''
      metrics.push({ name, alias: m.alias, type: 'Double', value: m.value, timestamp: m.ts, properties: { engUnit: { type: 'String', value: unit } } })
    }
    this.send(this.topic('DBIRTH', d.id), { timestamp: Date.now(), seq: this.nextSeq(), metrics })
    d.born = true
  }

  private device(batch: OutboxBatch): SparkplugDevice {
    let d = this.devices.get(batch.key)
    if (d === undefined) {
      d = { id: this.o.identity.deviceIds.get(batch.key) ?? batch.address.device, metrics: new Map(), born: false }
      this.devices.set(batch.key, d)
    }
    // A quantity not declared yet needs a new DBIRTH before it may appear in DDATA.
    for (const s of batch.samples) {
      for (const q of [...Object.keys(s.values), ...Object.keys(s.quality ?? {})]) {
        if (d.metrics.has(q)) continue
        d.metrics.set(q, { alias: this.nextAlias++, value: null, ts: s.ts })
        d.born = false
      }
    }
    return d
  }

  /**
   * DDATA of a batch: each sample's values by alias with its ts; a bad value as null with Quality 0,
   * an uncertain one with Quality 64; samples read before this session's NBIRTH (a backlog replayed
   * after an outage) flagged is_historical.
   */
  private data(d: SparkplugDevice, samples: readonly Sample[]): UMetric[] {
    const metrics: UMetric[] = []
    for (const s of samples) {
      const historical = s.ts < this.bornAt ? { isHistorical: true } : {}
      for (const [q, m] of d.metrics) {
        const quality = s.quality?.[q]
        const value = s.values[q]
        if (quality === 'bad') {
          metrics.push({
            alias: m.alias,
            type: 'Double',
            value: null,
            timestamp: s.ts,
            ...historical,
            properties: { Quality: { type: 'Int32', value: QUALITY_CODE.bad } },
          })
          m.value = null
        } else if (value !== undefined) {
          const metric: UMetric = { alias: m.alias, type: 'Double', value, timestamp: s.ts, ...historical }
          if (quality === 'uncertain') metric.properties = { Quality: { type: 'Int32', value: QUALITY_CODE.uncertain } }
          metrics.push(metric)
          m.value = value
        } else continue
        m.ts = s.ts
      }
    }
    return metrics
  }

  /** Publishes what can be published now (coalesced to one pass per tick). */
  schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.pump()
    })
  }

  private pump(): void {
    const client = this.client
    // Data only after this session's NBIRTH (with a primary host: while it is online).
    while (!this.closed && client?.connected && this.hostOnline && this.bornAt > 0) {
      const batch = this.o.outbox.take(this.o.maxSamplesPerMessage)
      if (!batch) break
      const d = this.device(batch)
      if (!d.born) this.birth(d)
      this.inFlight++
      this.send(this.topic('DDATA', d.id), { timestamp: Date.now(), seq: this.nextSeq(), metrics: this.data(d, batch.samples) }, (err) => {
        this.inFlight--
        if (err) {
          this.o.outbox.release(batch)
          this.o.onFailed(batch, err)
          d.born = false
        } else {
          this.o.outbox.ack(batch)
          this.o.onDelivered(batch)
        }
        this.schedule()
        this.notifyIdle()
      })
    }
    this.notifyIdle()
  }

  /** A device that went away: DDEATH (its next data comes with a new DBIRTH). */
  deviceChanged(entry: DeviceEntry, connected: boolean): void {
    const d = this.devices.get(entry.key)
    if (connected || !d?.born || !this.client?.connected) return
    this.send(this.topic('DDEATH', d.id), { timestamp: Date.now(), seq: this.nextSeq() })
    d.born = false
  }

  /** Births are sent on connect and rebirth only: nothing periodic. */
  startPeriodic(_intervalMs: number, _connected: () => boolean): void {}
  stopPeriodic(): void {}

  /** Intentional disconnect: NDEATH first ([tck-id-operational-behavior-edge-node-intentional-offline]). */
  async announceOffline(timeoutMs: number): Promise<void> {
    const client = this.client
    if (!client?.connected) return
    await Promise.race([
      new Promise<void>((resolve) => client.publish(this.topic('NDEATH'), this.ndeath(), { qos: 1, retain: false }, () => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ])
  }

  /** Resolves when the outbox is empty and nothing is in flight, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const idle = () => this.inFlight === 0 && this.o.outbox.depth() === 0
    if (idle()) return true
    this.schedule()
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (!idle()) return
        clearTimeout(timer)
        this.idleWaiters = this.idleWaiters.filter((w) => w !== check)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== check)
        resolve(idle())
      }, timeoutMs)
      this.idleWaiters.push(check)
    })
  }

  private notifyIdle(): void {
    for (const w of [...this.idleWaiters]) w()
  }

  close(): void {
    this.closed = true
  }
}
