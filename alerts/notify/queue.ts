import { setTimeout as sleep } from 'node:timers/promises'
import { describeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { NotifyError, type ChannelKind, type NotifyChannel, type NotifyMessage } from './channel.ts'

/** Delivery settings of one channel (config keys of `alerts.channels[]`, defaults there). */
export interface DeliveryOptions {
  /** Per attempt, ms: a hanging receiver is cut off. */
  timeoutMs: number
  /** Attempts per message before it is given up (and counted). */
  maxAttempts: number
  /** Wait before the 2nd attempt, ms; doubles (jittered) up to maxBackoffMs. */
  initialBackoffMs: number
  maxBackoffMs: number
  /** Messages waiting; beyond, the oldest is dropped (and counted). */
  queueSize: number
}

/** The last failure of a channel, as its coded error. */
export interface ChannelFailure {
  code: string
  message: string
  /** Epoch ms. */
  at: number
  /** The robot's errcode/code (ALERTS_ERR_NOTIFY_REJECTED), the HTTP status or the SMTP reply code. */
  robotCode?: number
  status?: number
}

export interface ChannelStats {
  id: string
  kind: ChannelKind
  queued: number
  delivered: number
  attempts: number
  retried: number
  /** Messages given up after their attempts (or at once when the refusal is final). */
  failed: number
  /** Messages pushed out of a full queue, or still queued at close. */
  dropped: number
  lastError: ChannelFailure | null
}

/**
 * One channel's bounded queue and its one worker. `push()` only enqueues, so a slow, hanging or
 * failing receiver never holds up detection. Each attempt is cut off after `timeoutMs`; a retryable
 * failure (timeout, 5xx, network, robot rate limit, SMTP 4xx) is retried with jittered doubling
 * backoff until `maxAttempts`; a final refusal (wrong signature or key, SMTP 5xx) is not retried.
 */
export class ChannelQueue {
  private readonly queue: NotifyMessage[] = []
  private readonly s: ChannelStats
  private running = false
  private readonly idleWaiters: (() => void)[] = []

  constructor(
    readonly channel: NotifyChannel,
    private readonly o: DeliveryOptions,
    private readonly stop: AbortSignal,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.s = { id: channel.id, kind: channel.kind, queued: 0, delivered: 0, attempts: 0, retried: 0, failed: 0, dropped: 0, lastError: null }
  }

  push(m: NotifyMessage): void {
    if (this.stop.aborted) return
    if (this.queue.length >= this.o.queueSize) {
      this.queue.shift()
      this.s.dropped++
    }
    this.queue.push(m)
    if (!this.running) void this.run()
  }

  stats(): ChannelStats {
    return { ...this.s, queued: this.queue.length, lastError: this.s.lastError ? { ...this.s.lastError } : null }
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** After the stop signal: what is still queued is dropped (counted). */
  dropQueued(): void {
    this.s.dropped += this.queue.length
    this.queue.length = 0
  }

  private async run(): Promise<void> {
    this.running = true
    try {
      while (this.queue.length > 0 && !this.stop.aborted) {
        const m = this.queue[0] as NotifyMessage
        const ok = await this.deliver(m)
        // It may have been pushed out of a full queue meanwhile (counted there).
        const stillQueued = this.queue[0] === m
        if (stillQueued) this.queue.shift()
        if (ok) this.s.delivered++
        else if (stillQueued && !this.stop.aborted) this.s.failed++
      }
    } finally {
      this.running = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  private async deliver(m: NotifyMessage): Promise<boolean> {
    const { o } = this
    let backoff = o.initialBackoffMs
    for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
      if (this.stop.aborted) return false
      this.s.attempts++
      try {
        await this.attempt(m)
        return true
      } catch (err) {
        const e = asNotifyError(err, this.channel.id)
        this.s.lastError = failureOf(e, this.now())
        const last = attempt === o.maxAttempts || !e.retry
        const log = { channel: this.channel.id, alertId: m.notification.alertId, code: e.code, attempt }
        if (last) {
          this.logger?.warn({ ...log, details: e.details }, `${e.message}; giving up on this message`)
          return false
        }
        this.s.retried++
        this.logger?.debug({ ...log, retryInMs: backoff }, `${e.message}; retrying`)
      }
      // Half fixed, half random: several services failing together do not retry together.
      await sleep(backoff / 2 + Math.random() * (backoff / 2), undefined, { signal: this.stop }).catch(() => undefined)
      backoff = Math.min(backoff * 2, o.maxBackoffMs)
    }
    return false
  }

  /**
   * One attempt, aborted after timeoutMs or at close. A timer and a controller held here, not
   * AbortSignal.any(AbortSignal.timeout(…)): a composed timeout signal can be garbage-collected
   * before it fires, leaving a hanging request hanging.
   */
  private async attempt(m: NotifyMessage): Promise<void> {
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${this.o.timeoutMs} ms`, 'TimeoutError')), this.o.timeoutMs)
    const onStop = (): void => ac.abort(this.stop.reason)
    this.stop.addEventListener('abort', onStop, { once: true })
    try {
      await this.channel.send(m, ac.signal)
    } finally {
      clearTimeout(timer)
      this.stop.removeEventListener('abort', onStop)
    }
  }
}

function asNotifyError(err: unknown, channel: string): NotifyError {
  if (err instanceof NotifyError) return err
  return new NotifyError('ALERTS_ERR_NOTIFY_HTTP', `channel ${channel}: ${describeError(err)}`, { retry: true, cause: err })
}

function failureOf(e: NotifyError, at: number): ChannelFailure {
  const d = (e.details ?? {}) as { robotCode?: unknown; status?: unknown; smtpCode?: unknown }
  const f: ChannelFailure = { code: e.code, message: e.message, at }
  if (typeof d.robotCode === 'number' && Number.isFinite(d.robotCode)) f.robotCode = d.robotCode
  if (typeof d.status === 'number') f.status = d.status
  if (typeof d.smtpCode === 'number') f.status = d.smtpCode
  return f
}
