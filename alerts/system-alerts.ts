import { PlantWattError } from '../core/errors.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { alertId, markAcknowledged, type Alert, type AlertActor, type AlertEngine, type AlertEventType, type AlertTransition } from './engine.ts'
import type { Severity } from './rules.ts'
import { describeAlert, type AlertText } from './text.ts'
import { SYSTEM_ENTERPRISE } from './system-text.ts'

/** Where ingest instances publish their state (core/mqtt.ts ingestStateTopic): the alert service subscribes. */
export const INGEST_STATE_FILTER = 'pw/sys/ingest/+'
const INGEST_STATE_PREFIX = 'pw/sys/ingest/'

/** The rule id of storage-fault alerts (also their kind). */
export const STORAGE_FAULT_RULE = 'storage-fault'

/** What the service reads of ingest's retained state message (ingest/ingest.ts IngestStats, with ts and clientId). */
export interface IngestState {
  clientId: string
  /** false in the will and the last message at a stop: the store's state is then unknown. */
  connected?: boolean
  /** Present while store writes fail. */
  storeError?: { code: string; message: string; since: number }
}

/** The state message of an ingest instance; undefined when the payload is not one (ignored, counted by the caller). */
export function parseIngestState(topic: string, payload: Buffer): IngestState | undefined {
  if (!topic.startsWith(INGEST_STATE_PREFIX)) return undefined
  let body: unknown
  try {
    body = JSON.parse(payload.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof body !== 'object' || body === null) return undefined
  const b = body as Record<string, unknown>
  const clientId = typeof b.clientId === 'string' && b.clientId !== '' ? b.clientId : topic.slice(INGEST_STATE_PREFIX.length)
  const state: IngestState = { clientId }
  if (typeof b.connected === 'boolean') state.connected = b.connected
  const e = b.storeError
  if (typeof e === 'object' && e !== null) {
    const { code, message, since } = e as Record<string, unknown>
    if (typeof code !== 'string' || code === '') return undefined
    state.storeError = {
      code,
      message: typeof message === 'string' ? message.slice(0, 500) : '',
      since: typeof since === 'number' && Number.isFinite(since) ? since : Number.NaN,
    }
  }
  return state
}

/** The address of an ingest instance's system alerts: system/storage/ingest/{client id as an id}. */
export function ingestAlertAddress(clientId: string): DeviceAddress {
  const id =
    clientId
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 64) || 'ingest'
  return { enterprise: SYSTEM_ENTERPRISE, site: 'storage', line: 'ingest', device: id }
}

export interface SystemAlertsOptions {
  /** Severity of storage-fault alerts. Default critical. */
  severity?: Severity
  /** Clock, epoch ms. */
  now: () => number
}

/**
 * System alerts of the service: a storage-fault alert per ingest instance, opened when its state
 * message reports a store error (disk full, read-only, corrupt, I/O), cleared by itself when a
 * state message of the connected instance reports none (ingest writes and acknowledges again).
 * A state that says the instance disconnected changes nothing: whether the store recovered is then
 * unknown. Acknowledged and resolved by hand like any alert; their transitions go through the same
 * notifier (event log, MQTT, webhooks, channels, escalation).
 */
export class SystemAlerts {
  /** State messages read, and those that could not be read. */
  states = 0
  badStates = 0
  /** Address key (device id) → open alert. */
  private readonly open = new Map<string, Alert>()
  /** Address key → when its last alert was resolved: a fault reported since before then opens at `now` (a new id). */
  private readonly closedAt = new Map<string, number>()

  constructor(private readonly o: SystemAlertsOptions) {}

  /** True for an alert this book raised (by rule and address), open or not. */
  static owns(a: Pick<Alert, 'rule' | 'address'>): boolean {
    return a.rule === STORAGE_FAULT_RULE && a.address.enterprise === SYSTEM_ENTERPRISE
  }

  /** True for a topic of ingest's state. */
  static accepts(topic: string): boolean {
    return topic.startsWith(INGEST_STATE_PREFIX)
  }

  /** One ingest state message: the transitions it causes (none for a repeat or a bad message). */
  receive(topic: string, payload: Buffer): AlertTransition[] {
    const state = parseIngestState(topic, payload)
    if (state === undefined) {
      this.badStates++
      return []
    }
    this.states++
    return this.ingestState(state)
  }

  /** The transitions of one ingest state. */
  ingestState(state: IngestState): AlertTransition[] {
    if (state.connected === false) return []
    const address = ingestAlertAddress(state.clientId)
    const alert = this.open.get(address.device)
    const now = this.o.now()
    const err = state.storeError
    if (err !== undefined) {
      const closed = this.closedAt.get(address.device) ?? Number.NEGATIVE_INFINITY
      const since = Number.isFinite(err.since) && err.since <= now && err.since > closed ? err.since : now
      if (alert) {
        alert.value = (now - alert.openedAt) / 60_000
        if (alert.quantity === err.code) return []
        // Another fault while the first lasts (full, then corrupt): a new alert says so.
        return [this.close(alert, now, '', ''), this.opened(address, err.code, err.message, now)]
      }
      return [this.opened(address, err.code, err.message, since)]
    }
    return alert ? [this.close(alert, now, '', '')] : []
  }

  openAlerts(): Alert[] {
    return [...this.open.values()].map((a) => ({ ...a, address: { ...a.address } }))
  }

  has(id: string): boolean {
    return this.byId(id) !== undefined
  }

  /** Acknowledges an open system alert. ALERTS_ERR_NOT_FOUND / ALERTS_ERR_STATE. */
  acknowledge(id: string, by: AlertActor): AlertTransition {
    const alert = markAcknowledged(this.byId(id), id, by)
    return this.transition('acknowledged', by.ts, alert, by.user, by.comment ?? '')
  }

  /** Resolves an open system alert by hand (a fault still reported opens a new one with the next state). */
  resolve(id: string, by: { user: string; comment?: string; ts: number }): AlertTransition {
    const alert = this.byId(id)
    if (!alert) throw new PlantWattError('ALERTS_ERR_NOT_FOUND', `no open alert ${id}`)
    return this.close(alert, by.ts, by.user, by.comment ?? '')
  }

  /** An acknowledgement or resolution appended by the API; undefined when not one of these alerts' or no change. */
  applyExternal(e: { alertId: string; event: AlertEventType; ts: number; user: string; comment: string }): AlertTransition | undefined {
    const alert = this.byId(e.alertId)
    if (!alert) return undefined
    if (e.event === 'acknowledged' && alert.state === 'firing') return this.acknowledge(e.alertId, e)
    if (e.event === 'cleared') return this.resolve(e.alertId, e)
    return undefined
  }

  /** Puts back the open system alerts rebuilt from the event log at start. */
  restore(alerts: readonly Alert[]): void {
    for (const a of alerts) if (a.state !== 'resolved' && SystemAlerts.owns(a)) this.open.set(a.address.device, { ...a, address: { ...a.address } })
  }

  private byId(id: string): Alert | undefined {
    for (const a of this.open.values()) if (a.id === id) return a
    return undefined
  }

  private opened(address: DeviceAddress, code: string, message: string, ts: number): AlertTransition {
    const alert: Alert = {
      id: alertId(STORAGE_FAULT_RULE, address, ts),
      rule: STORAGE_FAULT_RULE,
      ruleKind: 'storage-fault',
      severity: this.o.severity ?? 'critical',
      address,
      quantity: code,
      state: 'firing',
      openedAt: ts,
      value: (this.o.now() - ts) / 60_000,
    }
    this.open.set(address.device, alert)
    const t = this.transition('opened', ts, alert, '', '')
    // The opening text carries the store's own words too (the other events name the code).
    if (message === '') return t
    const text: AlertText = { zh: `${t.text.zh}（存储报告：${message}）`, en: `${t.text.en} (the store says: ${message})` }
    return { ...t, text }
  }

  private close(alert: Alert, ts: number, user: string, comment: string): AlertTransition {
    alert.state = 'resolved'
    alert.resolvedAt = ts
    alert.resolvedBy = user
    alert.value = (ts - alert.openedAt) / 60_000
    this.open.delete(alert.address.device)
    this.closedAt.set(alert.address.device, ts)
    const t = this.transition('cleared', ts, alert, user, comment)
    if (user !== '') return t
    const minutes = alert.value.toFixed(1)
    return {
      ...t,
      text: {
        zh: `[已恢复] ${alert.address.device} (${alert.address.line})：存储恢复写入（${alert.quantity}），采集服务重新确认数据，故障持续 ${minutes} 分钟`,
        en: `[resolved] ${alert.address.device} (${alert.address.line}): the store accepts writes again (${alert.quantity}), ingest acknowledges again; the fault lasted ${minutes} min`,
      },
    }
  }

  private transition(event: AlertEventType, ts: number, alert: Alert, user: string, comment: string): AlertTransition {
    const snapshot = { ...alert, address: { ...alert.address } }
    return { event, ts, alert: snapshot, user, comment, text: describeAlert(snapshot, event, alert.address.device, user, comment) }
  }
}

/** The open alerts of the engine and of the system alerts together: restored from one log, listed as one. */
export function withSystemAlerts(
  engine: Pick<AlertEngine, 'restore' | 'openAlerts'>,
  system: SystemAlerts,
): { restore(alerts: readonly Alert[]): void; openAlerts(): Alert[] } {
  return {
    restore(alerts) {
      engine.restore(alerts.filter((a) => !SystemAlerts.owns(a)))
      system.restore(alerts)
    },
    openAlerts: () => [...engine.openAlerts(), ...system.openAlerts()].sort((a, b) => a.openedAt - b.openedAt),
  }
}
