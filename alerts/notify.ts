import { setTimeout as sleep } from 'node:timers/promises'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { AlertNotification } from './events.ts'
import { SEVERITIES, type WebhookConfig } from './rules.ts'

/**
 * Webhook delivery: one bounded queue and one worker per webhook. `send()` only enqueues, so a slow,
 * hanging or failing endpoint never holds up detection. Each attempt is cut off after `timeoutMs`;
 * a non-2xx answer or a network error is retried after initialBackoffMs, doubling up to maxBackoffMs
 * (with jitter), until maxAttempts; then the notification is dropped and counted. A full queue drops
 * its oldest entry (counted).
 */
export interface WebhookStats {
  url: string
  queued: number
  delivered: number
  attempts: number
  retried: number
  failed: number
  dropped: number
}

interface Target {
  config: WebhookConfig
  queue: AlertNotification[]
  stats: WebhookStats
  running: boolean
}

export class WebhookSender {
  private readonly targets: Target[]
  private readonly stop = new AbortController()
  private readonly idleWaiters: (() => void)[] = []

  constructor(
    configs: readonly WebhookConfig[],
    private readonly logger?: Logger,
  ) {
    this.targets = configs.map((config) => ({
      config,
      queue: [],
      running: false,
      // The URL may carry a token in its query: keep only origin and path for stats and logs.
      stats: { url: safeUrl(config.url), queued: 0, delivered: 0, attempts: 0, retried: 0, failed: 0, dropped: 0 },
    }))
  }

  send(n: AlertNotification): void {
    if (this.stop.signal.aborted) return
    for (const t of this.targets) {
      if (SEVERITIES.indexOf(n.severity) < SEVERITIES.indexOf(t.config.minSeverity)) continue
      if (t.queue.length >= t.config.queueSize) {
        t.queue.shift()
        t.stats.dropped++
      }
      t.queue.push(n)
      if (!t.running) void this.run(t)
    }
  }

  stats(): WebhookStats[] {
    return this.targets.map((t) => ({ ...t.stats, queued: t.queue.length }))
  }

  /** Resolves when every queue is empty (tests, orderly shutdown). */
  idle(): Promise<void> {
    if (this.targets.every((t) => !t.running)) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Stops the workers: attempts in flight are aborted, queued notifications are dropped (counted). */
  close(): void {
    this.stop.abort()
    for (const t of this.targets) {
      t.stats.dropped += t.queue.length
      t.queue.length = 0
    }
  }

  private async run(t: Target): Promise<void> {
    t.running = true
    try {
      while (t.queue.length > 0 && !this.stop.signal.aborted) {
        const n = t.queue[0] as AlertNotification
        const ok = await this.deliver(t, n)
        // The entry may have been dropped from a full queue meanwhile (counted there): remove it only
        // if still first.
        const stillQueued = t.queue[0] === n
        if (stillQueued) t.queue.shift()
        if (ok) t.stats.delivered++
        else if (stillQueued && !this.stop.signal.aborted) t.stats.failed++
      }
    } finally {
      t.running = false
      if (this.targets.every((x) => !x.running)) for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  private async deliver(t: Target, n: AlertNotification): Promise<boolean> {
    const c = t.config
    let backoff = c.initialBackoffMs
    for (let attempt = 1; attempt <= c.maxAttempts; attempt++) {
      if (this.stop.signal.aborted) return false
      t.stats.attempts++
      let why: string
      // A timer and a controller held here, not AbortSignal.any(AbortSignal.timeout(…)): a composed
      // timeout signal can be garbage-collected before it fires, leaving a hanging request hanging.
      const ac = new AbortController()
      const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${c.timeoutMs} ms`, 'TimeoutError')), c.timeoutMs)
      const onStop = (): void => ac.abort(this.stop.signal.reason)
      this.stop.signal.addEventListener('abort', onStop, { once: true })
      try {
        const res = await fetch(c.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...c.headers },
          body: JSON.stringify(n),
          signal: ac.signal,
        })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) return true
        why = `answered ${res.status}`
      } catch (err) {
        const name = (err as Error).name
        why = name === 'TimeoutError' ? `no answer within ${c.timeoutMs} ms` : describeError(err)
      } finally {
        clearTimeout(timer)
        this.stop.signal.removeEventListener('abort', onStop)
      }
      if (attempt === c.maxAttempts) {
        this.logger?.warn({ webhook: t.stats.url, alertId: n.alertId, attempts: attempt }, `webhook ${why}; giving up on this notification`)
        return false
      }
      t.stats.retried++
      this.logger?.debug({ webhook: t.stats.url, alertId: n.alertId, attempt, retryInMs: backoff }, `webhook ${why}; retrying`)
      // Half fixed, half random: several services failing together do not retry together.
      await sleep(backoff / 2 + Math.random() * (backoff / 2), undefined, { signal: this.stop.signal }).catch(() => undefined)
      backoff = Math.min(backoff * 2, c.maxBackoffMs)
    }
    return false
  }
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return '(invalid url)'
  }
}
