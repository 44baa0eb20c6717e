import type { AgentConfigState } from './central-config.ts'
import type { MqttClient } from 'mqtt'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { encodePayload } from '../core/payload.ts'
import { buildTopic, type DeviceAddress } from '../core/topic.ts'
import type { Outbox, OutboxBatch } from './outbox.ts'
import type { DeviceProfileError } from './profile-error.ts'

export type StateStatus = 'online' | 'offline'

/** Counters carried by a state message, since the agent started (the agent's own: summed over its devices). */
export interface StateCounters {
  /** Polls that returned a result. */
  reads: number
  /** Polls that failed as a whole. */
  readErrors: number
  /** Points reported bad, summed over all polls. */
  pointErrors: number
  /** Samples delivered to the broker (acknowledged for QoS 1). */
  published: number
  /** Samples waiting in the outbox. */
  bufferDepth: number
  /** Samples dropped because the outbox was full. */
  dropped: number
}

/** Body of a retained `state` message: the device (or agent) and which agent speaks for it. */
export interface StateMessage {
  status: StateStatus
  agent: string
  /** Epoch ms of the change (or of the periodic republish). */
  ts: number
  /** Absent only in the last will, which the broker sends as it was registered at connect. */
  counters?: StateCounters
  /**
   * Why the device is not (fully) read: its profile could not be loaded or validated (status then
   * offline), or its driver's current error (code and text, e.g. EDGE_ERR_OPCUA_CERTIFICATE) while it lasts.
   */
  error?: DeviceProfileError
  /** The agent's own state only: the configuration in force and the last central command refused (central-config.ts). */
  config?: AgentConfigState
}

export function stateMessage(
  status: StateStatus,
  agent: string,
  ts = Date.now(),
  counters?: StateCounters,
  error?: DeviceProfileError,
  config?: AgentConfigState,
): Buffer {
  const body: StateMessage = counters ? { status, agent, ts, counters: { ...counters } } : { status, agent, ts }
  if (error) body.error = { ...error, problems: error.problems.map((p) => ({ ...p })) }
  if (config) body.config = config
  return Buffer.from(JSON.stringify(body))
}

export interface PublisherOptions {
  client: MqttClient
  outbox: Outbox
  maxSamplesPerMessage: number
  /**
   * 0: publish each device's samples as soon as they are polled (one message per poll at steady
   * state). > 0: collect them and publish every publishIntervalMs (full batches of
   * maxSamplesPerMessage still leave at once, so a backlog replays at full speed).
   */
  publishIntervalMs?: number
  qos: 0 | 1
  logger: Logger
  /** Called once per delivered message (after PUBACK for QoS 1). */
  onDelivered(batch: OutboxBatch): void
  onFailed(batch: OutboxBatch, err: Error): void
}

/**
 * Drains the outbox into `data` messages: one message in flight per device (keeps order and lets
 * `seq` advance by one per delivered message), samples removed only once the broker acknowledged
 * them. While the client is disconnected nothing is taken; mqtt.js resends what was in flight
 * when it reconnects (QoS 1 messages stay in its outgoing store).
 */
export class Publisher {
  private inFlight = 0
  private closed = false
  private scheduled = false
  /** While draining for shutdown, the batching window no longer holds anything back. */
  private draining = false
  private idleWaiters: (() => void)[] = []
  private readonly ticker: NodeJS.Timeout | undefined

  constructor(private readonly o: PublisherOptions) {
    const interval = o.publishIntervalMs ?? 0
    this.ticker = interval > 0 ? setInterval(() => this.pump(1), interval) : undefined
  }

  /** Publishes what can be published now; cheap to call often (coalesced to one pass per tick). */
  schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      // Between the batching window's ticks only full batches go.
      this.pump(this.ticker && !this.draining ? this.o.maxSamplesPerMessage : 1)
    })
  }

  /** Sends one batch per device that has at least `min` samples pending and none in flight. */
  private pump(min: number): void {
    const { client, outbox } = this.o
    while (!this.closed && client.connected) {
      const batch = outbox.take(this.o.maxSamplesPerMessage, min)
      if (!batch) break
      this.send(batch)
    }
    this.notifyIdle()
  }

  private send(batch: OutboxBatch): void {
    this.inFlight++
    const body = encodePayload({ seq: batch.seq, samples: [...batch.samples] })
    this.o.client.publish(buildTopic(batch.address, 'data'), body, { qos: this.o.qos }, (err) => {
      this.inFlight--
      if (err) {
        this.o.outbox.release(batch)
        this.o.onFailed(batch, err)
        if (!this.closed) this.o.logger.warn({ device: batch.key, seq: batch.seq, err: describeError(err) }, 'publish failed; samples kept for retry')
      } else {
        this.o.outbox.ack(batch)
        this.o.onDelivered(batch)
      }
      this.schedule()
      this.notifyIdle()
    })
  }

  /** Resolves when the outbox is empty and nothing is in flight, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const idle = () => this.inFlight === 0 && this.o.outbox.depth() === 0
    if (idle()) return true
    this.draining = true
    this.schedule()
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== check)
        resolve(idle())
      }, timeoutMs)
      const check = () => {
        if (!idle()) return
        clearTimeout(timer)
        this.idleWaiters = this.idleWaiters.filter((w) => w !== check)
        resolve(true)
      }
      this.idleWaiters.push(check)
    })
  }

  private notifyIdle(): void {
    for (const w of [...this.idleWaiters]) w()
  }

  /** Retained state for a device or the agent; only sent while connected (the caller replays on connect). */
  publishState(
    address: DeviceAddress,
    status: StateStatus,
    agent: string,
    counters?: StateCounters,
    error?: DeviceProfileError,
    config?: AgentConfigState,
  ): Promise<void> {
    if (!this.o.client.connected) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.o.client.publish(buildTopic(address, 'state'), stateMessage(status, agent, Date.now(), counters, error, config), { qos: 1, retain: true }, (err) => {
        if (err && !this.closed) this.o.logger.warn({ device: address.device, err: describeError(err) }, 'state publish failed')
        resolve()
      })
    })
  }

  close(): void {
    this.closed = true
    if (this.ticker) clearInterval(this.ticker)
  }
}
