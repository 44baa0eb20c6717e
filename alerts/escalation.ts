import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import type { AlertNotification } from './events.ts'
import type { EscalationNote } from './notify/channel.ts'
import { escalationAfterMs, type EscalationConfig } from './notify/config.ts'

/**
 * Escalation: an alert still firing — neither acknowledged nor resolved — `after` its opening (or
 * the end of the silence that held it back, notifier.ts) is
 * sent to the channels its escalation rule names, once per (alert, rule), and the escalation is
 * recorded in the event log:
 *
 *   kind  `alert_escalation`
 *   tags  enterprise, site, line, device, rule (the alert's), severity, escalation (rule id)
 *   fields alert_id, after_ms, channels (comma-separated ids), message (English), message_zh
 *
 * Checked on every tick of the service; at start, escalations already recorded are not repeated.
 */

export const ESCALATION_KIND = 'alert_escalation'
const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const
/** Alerts waiting for escalation; beyond, the oldest is forgotten (memory bound). */
const MAX_PENDING = 100_000

interface Pending {
  n: AlertNotification
  /** Escalation rule id → due time (epoch ms); removed once escalated. */
  due: Map<string, number>
}

export interface EscalatorOptions {
  rules: readonly EscalationConfig[]
  /** Queues the escalation for the channels (ChannelHub.escalate); returns the ids it reached. */
  hub: { escalate(n: AlertNotification, note: EscalationNote, channelIds: readonly string[]): string[] }
  /** Where escalation events go (EventWriter). */
  events: { add(event: StoredEvent): void }
  /** True when a silence covers the alert's device now: its escalation waits for the silence's end. */
  silenced?: (n: AlertNotification, now: number) => boolean
  logger?: Logger
}

export class Escalator {
  /** Escalations sent since start. */
  escalated = 0
  private readonly pending = new Map<string, Pending>()
  private readonly rules: { config: EscalationConfig; afterMs: number }[]

  constructor(private readonly o: EscalatorOptions) {
    this.rules = o.rules.map((config) => ({ config, afterMs: escalationAfterMs(config.after) }))
  }

  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * Follows an alert's events: `opened` schedules the rules it matches, `acknowledged` and `cleared`
   * end the wait. `done`: rule ids already escalated for this alert (from the log, at start).
   * `from`: when the wait starts — the opening, or the end of the silence that held the alert back.
   */
  observe(n: AlertNotification, done: ReadonlySet<string> = new Set(), from: number = n.openedAt): void {
    if (n.event !== 'opened') {
      this.pending.delete(n.alertId)
      return
    }
    const due = new Map<string, number>()
    for (const r of this.rules) if (matches(r.config, n) && !done.has(r.config.id)) due.set(r.config.id, from + r.afterMs)
    if (due.size === 0) return
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next().value
      if (oldest !== undefined) this.pending.delete(oldest)
    }
    this.pending.set(n.alertId, { n, due })
  }

  /** Escalates what is due at `now`; returns how many escalations were sent. */
  check(now: number): number {
    let sent = 0
    for (const [id, p] of this.pending) {
      for (const r of this.rules) {
        const due = p.due.get(r.config.id)
        if (due === undefined || due > now) continue
        // Under a silence now: kept, and sent at the first check after the silence ends if the
        // alert is still neither acknowledged nor resolved (then it would have left `pending`).
        if (this.o.silenced?.(p.n, now)) continue
        p.due.delete(r.config.id)
        this.escalate(p.n, r.config, r.afterMs, now)
        sent++
      }
      if (p.due.size === 0) this.pending.delete(id)
    }
    return sent
  }

  private escalate(n: AlertNotification, rule: EscalationConfig, afterMs: number, now: number): void {
    const reached = this.o.hub.escalate(n, { rule: rule.id, afterMs }, rule.channels)
    this.escalated++
    const minutes = Math.round(afterMs / 60_000)
    const event: StoredEvent = {
      kind: ESCALATION_KIND,
      ts: now,
      tags: { enterprise: n.enterprise, site: n.site, line: n.line, device: n.device, rule: n.rule, severity: n.severity, escalation: rule.id },
      fields: {
        alert_id: n.alertId,
        after_ms: afterMs,
        channels: reached.join(','),
        message: `[escalation] not acknowledged for ${minutes} min: ${n.text.en}`,
        message_zh: `[升级] 告警 ${minutes} 分钟未确认：${n.text.zh}`,
      },
    }
    this.o.events.add(event)
    this.o.logger?.warn({ alertId: n.alertId, escalation: rule.id, channels: reached }, event.fields.message as string)
  }
}

function matches(r: EscalationConfig, n: AlertNotification): boolean {
  if (SEVERITY_RANK[n.severity] < SEVERITY_RANK[r.minSeverity]) return false
  const m = r.match
  return (
    (m.enterprise ?? n.enterprise) === n.enterprise &&
    (m.site ?? n.site) === n.site &&
    (m.line ?? n.line) === n.line &&
    (m.device ?? n.device) === n.device &&
    (m.rule ?? n.rule) === n.rule
  )
}

/** Alert id → escalation rule ids already recorded since `start` (so a restart does not repeat them). */
export async function recordedEscalations(log: Pick<EventLog, 'query'>, start: number, logger?: Logger): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>()
  try {
    for (const e of await log.query({ kind: ESCALATION_KIND, start })) {
      const id = e.fields.alert_id
      const rule = e.tags.escalation
      if (typeof id !== 'string' || rule === undefined) continue
      const set = out.get(id) ?? new Set<string>()
      set.add(rule)
      out.set(id, set)
    }
  } catch (err) {
    logger?.warn({ err: describeError(err) }, 'reading recorded escalations failed; open alerts may be escalated again')
  }
  return out
}
