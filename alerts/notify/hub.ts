import type { Logger } from '../../core/logger.ts'
import type { AlertNotification } from '../events.ts'
import type { EscalationNote } from './channel.ts'
import type { ResolvedChannel } from './config.ts'
import { ChannelQueue, type ChannelStats } from './queue.ts'

const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const

/**
 * The configured channels, each behind its own queue (queue.ts). `send` queues an alert event for
 * every `use: always` channel it passes (minSeverity, events); `escalate` queues an escalation for
 * the channels an escalation rule names, whatever their `use`. Never waits on a receiver.
 */
export class ChannelHub {
  private readonly queues: { channel: ResolvedChannel; queue: ChannelQueue }[]
  private readonly stop = new AbortController()

  constructor(channels: readonly ResolvedChannel[], logger?: Logger, now: () => number = Date.now) {
    this.queues = channels.map((c) => ({ channel: c, queue: new ChannelQueue(c.channel, c.delivery, this.stop.signal, logger, now) }))
  }

  get size(): number {
    return this.queues.length
  }

  send(n: AlertNotification): void {
    for (const { channel, queue } of this.queues) {
      const c = channel.config
      if (c.use !== 'always' || SEVERITY_RANK[n.severity] < SEVERITY_RANK[c.minSeverity] || !c.events.includes(n.event)) continue
      queue.push({ notification: n })
    }
  }

  /** Queues the escalation for the named channels; returns the ids it was queued for. */
  escalate(n: AlertNotification, escalation: EscalationNote, channelIds: readonly string[]): string[] {
    const out: string[] = []
    for (const { channel, queue } of this.queues) {
      if (!channelIds.includes(channel.config.id)) continue
      queue.push({ notification: n, escalation })
      out.push(channel.config.id)
    }
    return out
  }

  stats(): ChannelStats[] {
    return this.queues.map((q) => q.queue.stats())
  }

  /** Resolves when every queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.queue.idle()))
  }

  /** Aborts attempts in flight and drops what is queued (counted); closes SMTP transports. */
  close(): void {
    this.stop.abort()
    for (const { channel, queue } of this.queues) {
      queue.dropQueued()
      channel.channel.close?.()
    }
  }
}
