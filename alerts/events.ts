import type { DeviceAddress } from '../core/topic.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import type { TagFilter } from '../storage/store.ts'
import { openedAtOfId, type Alert, type AlertEventType, type AlertState, type AlertTransition } from './engine.ts'
import { RULE_KINDS, SEVERITIES, type RuleKind, type Severity } from './rules.ts'
import { describeAlert, type AlertText } from './text.ts'
import { isSystemAlertKind, type SystemAlertKind } from './system-text.ts'
import { ESCALATION_KIND } from './escalation.ts'

/**
 * Alert transitions as stored events, and back. One event per transition, measurement/kind
 * `alert_event` (the Grafana alerts dashboard reads it):
 *   tags   enterprise, site, line, device, rule, severity, event (opened | acknowledged | cleared)
 *   fields alert_id, value, threshold, expected_low, expected_high, message (English), message_zh,
 *          user ('' for the engine), comment, rule_kind, quantity, opened_at
 * The state of an alert is the fold of its events: opened → firing, acknowledged, cleared → resolved.
 */

export const ALERT_EVENT_KIND = 'alert_event'

export function transitionToEvent(t: AlertTransition): StoredEvent {
  const a = t.alert
  const fields: Record<string, string | number> = {
    alert_id: a.id,
    value: a.value,
    message: t.text.en,
    message_zh: t.text.zh,
    user: t.user,
    comment: t.comment,
    rule_kind: a.ruleKind,
    quantity: a.quantity,
    opened_at: a.openedAt,
  }
  if (a.threshold !== undefined && Number.isFinite(a.threshold)) fields.threshold = a.threshold
  if (a.expectedLow !== undefined && Number.isFinite(a.expectedLow)) fields.expected_low = a.expectedLow
  if (a.expectedHigh !== undefined && Number.isFinite(a.expectedHigh)) fields.expected_high = a.expectedHigh
  return {
    kind: ALERT_EVENT_KIND,
    ts: t.ts,
    tags: { ...a.address, rule: a.rule, severity: a.severity, event: t.event },
    fields,
  }
}

/** One entry of an alert's history: its transitions, and each escalation sent (alerts/escalation.ts). */
export interface AlertHistoryEntry {
  event: AlertEventType | 'escalated'
  ts: number
  user: string
  comment: string
  value: number
  text: AlertText
}

export interface AlertRecord extends Alert {
  /** Text of the opening event. */
  text: AlertText
  history: AlertHistoryEntry[]
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const numOrUndef = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** The (alertId, event, ts, user, comment) of a stored alert event; undefined when it is not one. */
export function parseAlertEvent(e: StoredEvent): { alertId: string; event: AlertEventType; ts: number; user: string; comment: string } | undefined {
  const event = e.tags.event
  const alertId = e.fields.alert_id
  if (typeof alertId !== 'string' || (event !== 'opened' && event !== 'acknowledged' && event !== 'cleared')) return undefined
  return { alertId, event, ts: e.ts, user: str(e.fields.user), comment: str(e.fields.comment) }
}

/**
 * Folds alert events (any order) into alerts with their history. An alert whose `opened` event is
 * not among the events is left out (its start lies outside what was read).
 */
export function foldAlertEvents(events: readonly StoredEvent[]): AlertRecord[] {
  const sorted = [...events].sort((a, b) => a.ts - b.ts || order(a) - order(b))
  const byId = new Map<string, AlertRecord>()
  for (const e of sorted) {
    const parsed = parseAlertEvent(e)
    if (!parsed) continue
    const entry: AlertHistoryEntry = {
      event: parsed.event,
      ts: e.ts,
      user: parsed.user,
      comment: parsed.comment,
      value: numOrUndef(e.fields.value) ?? Number.NaN,
      text: { en: str(e.fields.message), zh: str(e.fields.message_zh) },
    }
    if (parsed.event === 'opened') {
      if (byId.has(parsed.alertId)) continue
      const ruleKind = str(e.fields.rule_kind)
      const severity = e.tags.severity ?? 'warning'
      const alert: AlertRecord = {
        id: parsed.alertId,
        rule: e.tags.rule ?? '',
        ruleKind: ((RULE_KINDS as readonly string[]).includes(ruleKind) || isSystemAlertKind(ruleKind) ? ruleKind : 'threshold') as RuleKind | SystemAlertKind,
        severity: ((SEVERITIES as readonly string[]).includes(severity) ? severity : 'warning') as Severity,
        address: { enterprise: e.tags.enterprise ?? '', site: e.tags.site ?? '', line: e.tags.line ?? '', device: e.tags.device ?? '' },
        quantity: str(e.fields.quantity),
        state: 'firing',
        openedAt: numOrUndef(e.fields.opened_at) ?? e.ts,
        value: entry.value,
        text: entry.text,
        history: [entry],
      }
      const threshold = numOrUndef(e.fields.threshold)
      const low = numOrUndef(e.fields.expected_low)
      const high = numOrUndef(e.fields.expected_high)
      if (threshold !== undefined) alert.threshold = threshold
      if (low !== undefined) alert.expectedLow = low
      if (high !== undefined) alert.expectedHigh = high
      byId.set(alert.id, alert)
      continue
    }
    const alert = byId.get(parsed.alertId)
    if (!alert || alert.state === 'resolved') continue
    alert.history.push(entry)
    if (parsed.event === 'acknowledged' && alert.state === 'firing') {
      alert.state = 'acknowledged'
      alert.acknowledgedAt = e.ts
      alert.acknowledgedBy = parsed.user
      if (parsed.comment) alert.comment = parsed.comment
    } else if (parsed.event === 'cleared') {
      alert.state = 'resolved'
      alert.resolvedAt = e.ts
      alert.resolvedBy = parsed.user
      if (!Number.isNaN(entry.value)) alert.value = entry.value
    }
  }
  return [...byId.values()].sort((a, b) => a.openedAt - b.openedAt)
}

function order(e: StoredEvent): number {
  return e.tags.event === 'opened' ? 0 : e.tags.event === 'acknowledged' ? 1 : 2
}

export interface AlertQuery {
  /** Alerts opened at or after (epoch ms). */
  start: number
  /** Alerts opened before (epoch ms). */
  stop: number
  /** Tags: enterprise, site, line, device, rule, severity. */
  filter?: TagFilter
  state?: AlertState
}

/**
 * Alerts opened in [start, stop) with their current state: the `opened` events of the range, then
 * every later event of the same scope to fold their acknowledgements and resolutions in.
 */
export async function loadAlerts(log: EventLog, q: AlertQuery): Promise<AlertRecord[]> {
  const opened = await log.query({ kind: ALERT_EVENT_KIND, start: q.start, stop: q.stop, filter: { ...q.filter, event: 'opened' } })
  if (opened.length === 0) return []
  const later = await log.query({ kind: ALERT_EVENT_KIND, start: q.start, filter: { ...q.filter, event: ['acknowledged', 'cleared'] } })
  const alerts = foldAlertEvents([...opened, ...later])
  return q.state ? alerts.filter((a) => a.state === q.state) : alerts
}

/** One alert by id with its history; undefined when unknown. */
export async function loadAlert(log: EventLog, id: string): Promise<AlertRecord | undefined> {
  const openedAt = openedAtOfId(id)
  if (!Number.isFinite(openedAt)) return undefined
  const events = await log.query({ kind: ALERT_EVENT_KIND, start: openedAt, fields: { alert_id: id } })
  const alert = foldAlertEvents(events).find((a) => a.id === id)
  if (!alert) return undefined
  // Escalations sent for it: who was told (channels, in `comment`), and when.
  const escalations = await log.query({ kind: ESCALATION_KIND, start: openedAt, fields: { alert_id: id } })
  for (const e of escalations) {
    alert.history.push({
      event: 'escalated',
      ts: e.ts,
      user: '',
      comment: `${str(e.tags.escalation)} → ${str(e.fields.channels)}`,
      value: Number.NaN,
      text: { en: str(e.fields.message), zh: str(e.fields.message_zh) },
    })
  }
  alert.history.sort((a, b) => a.ts - b.ts)
  return alert
}

/**
 * The event of an acknowledgement or resolution made by a person (the API), for an alert read from
 * the log. Its tags are the alert's, so it lands next to the engine's own events.
 */
export function manualEvent(
  alert: Alert,
  event: 'acknowledged' | 'cleared',
  by: { user: string; comment: string; ts: number; deviceName?: string },
): StoredEvent {
  const after: Alert = { ...alert, address: { ...alert.address } }
  if (event === 'acknowledged') {
    after.state = 'acknowledged'
    after.acknowledgedAt = by.ts
    after.acknowledgedBy = by.user
  } else {
    after.state = 'resolved'
    after.resolvedAt = by.ts
    after.resolvedBy = by.user
  }
  const text = describeAlert(after, event, by.deviceName ?? alert.address.device, by.user, by.comment)
  return transitionToEvent({ event, ts: by.ts, alert: after, user: by.user, comment: by.comment, text })
}

/** What every notification carries (MQTT `alert` channel, webhooks, the API's live stream). */
export interface AlertNotification extends DeviceAddress {
  type: 'alert'
  event: AlertEventType
  /** Epoch ms of the transition. */
  ts: number
  alertId: string
  state: AlertState
  deviceName: string
  rule: string
  ruleKind: RuleKind | SystemAlertKind
  severity: Severity
  quantity: string
  value: number
  threshold: number | null
  expectedLow: number | null
  expectedHigh: number | null
  openedAt: number
  user: string
  comment: string
  text: AlertText
}

export function notificationOf(t: AlertTransition, deviceName: string): AlertNotification {
  const a = t.alert
  return {
    type: 'alert',
    event: t.event,
    ts: t.ts,
    alertId: a.id,
    state: a.state,
    ...a.address,
    deviceName,
    rule: a.rule,
    ruleKind: a.ruleKind,
    severity: a.severity,
    quantity: a.quantity,
    value: a.value,
    threshold: a.threshold ?? null,
    expectedLow: a.expectedLow ?? null,
    expectedHigh: a.expectedHigh ?? null,
    openedAt: a.openedAt,
    user: t.user,
    comment: t.comment,
    text: t.text,
  }
}
