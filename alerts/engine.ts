import { forecastDemand } from '../analytics/demand.ts'
import { PlantWattError } from '../core/errors.ts'
import { deviceKey, lineKey, PlantDeviceIndex, type PlantDeviceEntry, type PlantModel } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { bandKw, baselineSlot, emptyBaselineBook, expectedPowerKw, rateOf, type BaselineBook, type DeviceBaseline } from './baseline.ts'
import { idleShare, judgeRegimeWindow } from './regimes.ts'
import { RecentWindows } from './regime-start.ts'
import { inShift, lineContexts, type LineContext } from './plant-context.ts'
import type { ResolvedRule, RuleKind, Severity } from './rules.ts'
import { describeAlert, type AlertText } from './text.ts'
import type { SystemAlertKind } from './system-text.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * The detection engine: pure and clock-free. Samples go in with `ingest(address, sample)` in time
 * order, the passing of time with `tick(now)`; both return the lifecycle transitions they caused.
 * The same engine runs live (alerts/service.ts) and in the evaluation (bench/alerts-eval.ts).
 *
 * Per (rule, device) one condition tracker:
 *   idle ──condition true for `for`──▶ firing ──ack──▶ acknowledged
 *   firing/acknowledged ──condition normal for `clearAfter`──▶ resolved (or by hand)
 * While an alert is open the condition can come and go without a new alert: a continuing or
 * flapping condition is one alert. "Normal" is stricter than "not abnormal" (deadband, or clearBand × the
 * band for anomalies, default 0.7), which damps flapping around a limit.
 */

export interface AlertSample {
  /** Epoch ms. */
  ts: number
  /** Canonical quantity → value. */
  values: Readonly<Record<string, number>>
}

export const ALERT_STATES = ['firing', 'acknowledged', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]
/** The `event` tag of alert events (dashboards/grafana expects these names). */
export const ALERT_EVENTS = ['opened', 'acknowledged', 'cleared'] as const
export type AlertEventType = (typeof ALERT_EVENTS)[number]

/** Who acknowledges or resolves an alert by hand, and when. */
export interface AlertActor {
  user: string
  comment?: string
  ts: number
}

/**
 * Marks an open alert acknowledged by `by` (device and system alerts alike) and returns it:
 * ALERTS_ERR_NOT_FOUND when it is not open, ALERTS_ERR_STATE when it is already acknowledged.
 */
export function markAcknowledged(alert: Alert | undefined, id: string, by: AlertActor): Alert {
  if (!alert) throw new PlantWattError('ALERTS_ERR_NOT_FOUND', `no open alert ${id}`)
  if (alert.state !== 'firing') throw new PlantWattError('ALERTS_ERR_STATE', `alert ${id} is already ${alert.state}`)
  alert.state = 'acknowledged'
  alert.acknowledgedAt = by.ts
  alert.acknowledgedBy = by.user
  if (by.comment) alert.comment = by.comment
  return alert
}

export interface Alert {
  /** Stable id: base-36 opening time, '-', hash of rule and device. */
  id: string
  rule: string
  /** The rule's kind, or a system alert's (system-text.ts: raised by the service, not a rule). */
  ruleKind: RuleKind | SystemAlertKind
  severity: Severity
  address: DeviceAddress
  quantity: string
  state: AlertState
  openedAt: number
  /** The value that triggered (opened) or the latest one (later events). */
  value: number
  /** The limit, or the expected value for anomalies. */
  threshold?: number
  /** Expected band (anomaly), or the normal range of a limit. */
  expectedLow?: number
  expectedHigh?: number
  acknowledgedAt?: number
  acknowledgedBy?: string
  comment?: string
  resolvedAt?: number
  resolvedBy?: string
  /** Anomaly: what the detector saw beyond the band — an unexpected start (alerts/regime-start.ts). */
  reason?: 'unexpected-start'
}

/** One lifecycle transition: what is stored, published and sent. */
export interface AlertTransition {
  event: AlertEventType
  /** Epoch ms. */
  ts: number
  /** The alert after the transition. */
  alert: Alert
  /** Who (acknowledged, resolved by hand); '' for the engine. */
  user: string
  comment: string
  text: AlertText
}

interface Observation {
  abnormal: boolean
  /** Normal enough to count towards auto-resolve (stricter than !abnormal). */
  normal: boolean
  /** When this state began (e.g. the start of the window it was measured over). */
  since: number
  value: number
  threshold?: number
  low?: number
  high?: number
  reason?: Alert['reason']
}

interface Tracker {
  rule: ResolvedRule
  address: DeviceAddress
  pendingSince?: number
  normalSince?: number
  alert?: Alert
}

interface DeviceState {
  address: DeviceAddress
  key: string
  entry: PlantDeviceEntry | undefined
  line: LineContext | undefined
  rules: ResolvedRule[]
  lastSeen: number
  /** The latest gaps between samples, ms (ring of GAP_MEMORY): the observed reporting interval. */
  gaps: number[]
  last: Map<string, { ts: number; value: number }>
  /** Rule id → per-rule memory (stuck value, anomaly window). */
  memo: Map<string, RuleMemo>
}

interface RuleMemo {
  stuckValue?: number
  stuckSince?: number
  stuckCount?: number
  windowStart?: number
  sum?: number
  n?: number
  recent?: RecentWindows
}

interface SiteDemand {
  enterprise: string
  site: string
  contractedKw: number
  timezone: string
  windowStart: number
  energyKwh: number
  meters: Map<string, { ts: number; kw: number }>
}

export interface EngineOptions {
  plant: PlantModel
  rules: readonly ResolvedRule[]
  baselines?: BaselineBook
  /** Anomaly windows close this long after their end (late samples). Default 60 000. */
  windowGraceMs?: number
  /**
   * Counter rule: true when a recorded meter event (replacement, reset, ratio change) of the device's
   * quantity lies in (fromTs, toTs] — that drop is explained and raises nothing (alerts/recorded-drops.ts).
   */
  explainsDrop?: (deviceKey: string, quantity: string, fromTs: number, toTs: number) => boolean
}

/** A drop within this share of the modulus below it to within it above 0 is a rollover (analytics/energy.ts). */
const ROLLOVER_BAND = 0.05

const DEMAND_WINDOW_MS = 900_000
/** Gaps remembered per device for its reporting interval (their median). */
const GAP_MEMORY = 15

/** Before a device's second sample its interval is unknown: assume the longest common one (15-minute meters, DTUs). */
const UNKNOWN_INTERVAL_MS = 900_000

/** Median of the device's recent gaps between samples, ms; UNKNOWN_INTERVAL_MS before two samples. */
function observedIntervalMs(d: Pick<DeviceState, 'gaps'>): number {
  if (d.gaps.length === 0) return UNKNOWN_INTERVAL_MS
  const s = [...d.gaps].sort((a, b) => a - b)
  return s[s.length >> 1] as number
}
/**
 * Stuck at low load: a reading whose last decimal is at least this share of its value is quantised
 * (at most 5 significant digits: 12.4 kW from 0.1 kWh per 15 minutes, 12.68 from 0.01 kWh, a scaled
 * integer register) and repeats at a steady idle — the low-load edge applies to it. A reading with
 * more digits (a float register, a computed mean) that repeats is stuck at any load.
 */
const COARSE_STEP = 1e-4

/** True when the reading's resolution (its last decimal) is at least COARSE_STEP of its value. */
export function isCoarse(v: number): boolean {
  if (v === 0 || !Number.isFinite(v)) return true
  const text = String(Number(v.toPrecision(12)))
  if (text.includes('e')) return false
  const decimals = text.split('.')[1]?.length ?? 0
  return 10 ** -decimals >= COARSE_STEP * Math.abs(v)
}
/** machine_state: 0 stopped, 1 idle (core/quantities.ts). */
const IDLE_STATES = new Set([0, 1])

function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Deterministic alert id: the same rule, device and opening time always give the same id. */
export function alertId(rule: string, address: DeviceAddress, openedAt: number): string {
  return `${openedAt.toString(36)}-${fnv1a(`${rule}|${deviceKey(address)}`).toString(36)}`
}

export const ALERT_ID_PATTERN = '^[0-9a-z]{1,12}-[0-9a-z]{1,8}$'

/** Opening time of an alert from its id; NaN for a malformed id. */
export function openedAtOfId(id: string): number {
  if (!new RegExp(ALERT_ID_PATTERN).test(id)) return Number.NaN
  return parseInt(id.slice(0, id.indexOf('-')), 36)
}

/** True when the rule watches the device (every key of its match agrees). */
export function matchesRule(rule: ResolvedRule, a: DeviceAddress, entry: PlantDeviceEntry | undefined): boolean {
  const m = rule.match
  if (m.enterprise !== undefined && m.enterprise !== a.enterprise) return false
  if (m.site !== undefined && m.site !== a.site) return false
  if (m.line !== undefined && m.line !== a.line) return false
  if (m.device !== undefined && m.device !== a.device) return false
  if (m.deviceKind !== undefined && entry?.kind !== m.deviceKind) return false
  if (m.mainMeter !== undefined && (entry?.mainMeter ?? false) !== m.mainMeter) return false
  return true
}

export class AlertEngine {
  private readonly rules: readonly ResolvedRule[]
  private readonly devices = new Map<string, DeviceState>()
  private readonly trackers = new Map<string, Tracker>()
  private readonly byId = new Map<string, Tracker>()
  /** Open alerts whose rule is no longer configured: kept so they can be acknowledged and resolved. */
  private readonly orphans = new Map<string, Alert>()
  private readonly plantDevices: PlantDeviceIndex
  private readonly lines: Map<string, LineContext>
  private readonly production = new Map<string, { ts: number; value: number }[]>()
  private readonly sites = new Map<string, SiteDemand>()
  private baselines: BaselineBook
  private readonly graceMs: number
  private readonly explainsDrop: EngineOptions['explainsDrop']
  /** Register modulus by `deviceKey|quantity` (plant model counterModulus). */
  private readonly moduli = new Map<string, number>()

  constructor(options: EngineOptions) {
    this.rules = options.rules
    this.explainsDrop = options.explainsDrop
    for (const e of options.plant.enterprises)
      for (const s of e.sites)
        for (const l of s.lines)
          for (const d of l.devices)
            for (const [q, m] of Object.entries(d.counterModulus ?? {}))
              this.moduli.set(`${deviceKey({ enterprise: e.id, site: s.id, line: l.id, device: d.id })}|${q}`, m)
    this.plantDevices = new PlantDeviceIndex(options.plant)
    this.lines = lineContexts(options.plant)
    this.baselines = options.baselines ?? emptyBaselineBook()
    this.graceMs = options.windowGraceMs ?? 60_000
    const demandRules = this.rules.filter((r) => r.kind === 'demand')
    if (demandRules.length > 0) {
      for (const l of this.lines.values()) {
        if (l.contractedDemandKw === undefined) continue
        const k = `${l.enterprise}/${l.site}`
        if (!this.sites.has(k))
          this.sites.set(k, {
            enterprise: l.enterprise,
            site: l.site,
            contractedKw: l.contractedDemandKw,
            timezone: l.timezone,
            windowStart: Number.NaN,
            energyKwh: 0,
            meters: new Map(),
          })
      }
    }
  }

  /** Replaces the learned baselines (after a re-learn or a baseline revision); open alerts stay. */
  setBaselines(book: BaselineBook): void {
    this.baselines = book
  }

  get baselineBook(): BaselineBook {
    return this.baselines
  }

  /**
   * Marks a device as seen at `ts` without a sample (e.g. its newest point in the store at start), so
   * offline is detected. `gapsMs`: gaps between its latest stored samples, oldest first — its
   * reporting interval from the first minute (otherwise 15 min is assumed until its second sample);
   * ignored once the device has gaps of its own.
   */
  seen(address: DeviceAddress, ts: number, gapsMs?: readonly number[]): void {
    const d = this.device(address)
    d.lastSeen = Math.max(d.lastSeen, ts)
    if (gapsMs && d.gaps.length === 0) d.gaps.push(...gapsMs.filter((g) => Number.isFinite(g) && g > 0).slice(-GAP_MEMORY))
  }

  /** Feeds one sample of one device; samples must come in time order per device. */
  ingest(address: DeviceAddress, sample: AlertSample): AlertTransition[] {
    const out: AlertTransition[] = []
    const d = this.device(address)
    const ts = sample.ts
    if (d.line?.production?.device === address.device) {
      const v = sample.values[d.line.production.quantity]
      if (v !== undefined) this.recordProduction(lineKey(address), ts, v)
    }
    for (const rule of d.rules) this.evaluateSample(rule, d, sample, out)
    for (const [q, v] of Object.entries(sample.values)) d.last.set(q, { ts, value: v })
    if (Number.isFinite(d.lastSeen) && ts > d.lastSeen) {
      d.gaps.push(ts - d.lastSeen)
      if (d.gaps.length > GAP_MEMORY) d.gaps.shift()
    }
    d.lastSeen = Math.max(d.lastSeen, ts)
    this.demandSample(d, sample, out)
    return out
  }

  /** Lets time pass: offline devices, anomaly windows that ended, demand forecasts. */
  tick(now: number): AlertTransition[] {
    const out: AlertTransition[] = []
    for (const d of this.devices.values()) {
      for (const rule of d.rules) {
        if (rule.kind === 'offline') {
          if (d.lastSeen === Number.NEGATIVE_INFINITY) continue
          // Resolution-aware: a device that reports every 15 min is late after missed × 15 min, not 5 min.
          const limit = rule.missed * Math.max(rule.intervalMs, observedIntervalMs(d))
          const gap = now - d.lastSeen
          // Offline by a tick: the condition began when the last interval was missed.
          if (gap > limit)
            this.observe(
              rule,
              d.address,
              now,
              { abnormal: true, normal: false, since: d.lastSeen + limit, value: gap / MINUTE_MS, threshold: limit / MINUTE_MS },
              out,
            )
        } else if (rule.kind === 'anomaly') {
          const m = d.memo.get(rule.id)
          if (m?.windowStart !== undefined && now >= m.windowStart + rule.windowMs + this.graceMs) this.closeWindow(rule, d, m, out)
        }
      }
    }
    for (const site of this.sites.values()) this.demandCheck(site, now, out)
    return out
  }

  /** Open alerts (firing or acknowledged). */
  openAlerts(): Alert[] {
    const out: Alert[] = []
    for (const t of this.trackers.values()) if (t.alert) out.push({ ...t.alert })
    for (const a of this.orphans.values()) out.push({ ...a })
    return out.sort((a, b) => a.openedAt - b.openedAt)
  }

  getAlert(id: string): Alert | undefined {
    const a = this.byId.get(id)?.alert ?? this.orphans.get(id)
    return a ? { ...a } : undefined
  }

  /** Acknowledges an open alert. ALERTS_ERR_NOT_FOUND / ALERTS_ERR_STATE (already acknowledged). */
  acknowledge(id: string, by: AlertActor): AlertTransition {
    const alert = markAcknowledged(this.byId.get(id)?.alert ?? this.orphans.get(id), id, by)
    return this.transition('acknowledged', by.ts, alert, by.user, by.comment ?? '')
  }

  /** Resolves an open alert by hand. ALERTS_ERR_NOT_FOUND when it is not open. */
  resolve(id: string, by: { user: string; comment?: string; ts: number }): AlertTransition {
    const tracker = this.byId.get(id)
    const alert = tracker?.alert ?? this.orphans.get(id)
    if (!alert) throw new PlantWattError('ALERTS_ERR_NOT_FOUND', `no open alert ${id}`)
    return this.close(tracker, alert, by.ts, by.user, by.comment ?? '')
  }

  /**
   * Applies a transition made elsewhere (the API appended it to the event log): acknowledged or
   * cleared. Returns the transition when it changed this engine's state, undefined otherwise.
   */
  applyExternal(event: { alertId: string; event: AlertEventType; ts: number; user: string; comment: string }): AlertTransition | undefined {
    const alert = this.byId.get(event.alertId)?.alert ?? this.orphans.get(event.alertId)
    if (!alert) return undefined
    if (event.event === 'acknowledged' && alert.state === 'firing') return this.acknowledge(event.alertId, event)
    if (event.event === 'cleared') return this.resolve(event.alertId, event)
    return undefined
  }

  /** Puts back alerts that were open when the service stopped (rebuilt from the event log). */
  restore(alerts: readonly Alert[]): void {
    for (const a of alerts) {
      if (a.state === 'resolved') continue
      const rule = this.rules.find((r) => r.id === a.rule)
      if (!rule) {
        this.orphans.set(a.id, { ...a })
        continue
      }
      const t = this.tracker(rule, a.address)
      if (t.alert) continue
      t.alert = { ...a }
      this.byId.set(a.id, t)
      if (rule.kind !== 'demand') this.device(a.address)
    }
  }

  /** Display name of a device (plant model), else its id. */
  nameOf(address: DeviceAddress): string {
    return this.plantDevices.get(address)?.name ?? address.device
  }

  // ---- internals ----

  private device(address: DeviceAddress): DeviceState {
    const key = deviceKey(address)
    let d = this.devices.get(key)
    if (!d) {
      const entry = this.plantDevices.get(address)
      const a = { enterprise: address.enterprise, site: address.site, line: address.line, device: address.device }
      d = {
        address: a,
        key,
        entry,
        line: this.lines.get(lineKey(a)),
        rules: this.rules.filter((r) => r.kind !== 'demand' && matchesRule(r, a, entry)),
        lastSeen: Number.NEGATIVE_INFINITY,
        gaps: [],
        last: new Map(),
        memo: new Map(),
      }
      this.devices.set(key, d)
    }
    return d
  }

  private tracker(rule: ResolvedRule, address: DeviceAddress): Tracker {
    const key = `${rule.id}|${deviceKey(address)}`
    let t = this.trackers.get(key)
    if (!t) {
      t = { rule, address: { ...address } }
      this.trackers.set(key, t)
    }
    return t
  }

  private memo(d: DeviceState, rule: ResolvedRule): RuleMemo {
    let m = d.memo.get(rule.id)
    if (!m) {
      m = {}
      d.memo.set(rule.id, m)
    }
    return m
  }

  private transition(event: AlertEventType, ts: number, alert: Alert, user: string, comment: string): AlertTransition {
    const snapshot = { ...alert, address: { ...alert.address } }
    return { event, ts, alert: snapshot, user, comment, text: describeAlert(snapshot, event, this.nameOf(alert.address), user, comment) }
  }

  private close(tracker: Tracker | undefined, alert: Alert, ts: number, user: string, comment: string): AlertTransition {
    alert.state = 'resolved'
    alert.resolvedAt = ts
    alert.resolvedBy = user
    if (tracker) {
      tracker.alert = undefined
      tracker.pendingSince = undefined
      tracker.normalSince = undefined
    }
    this.byId.delete(alert.id)
    this.orphans.delete(alert.id)
    return this.transition('cleared', ts, alert, user, comment)
  }

  /** The lifecycle step of one tracker for one observation at `ts`. */
  private observe(rule: ResolvedRule, address: DeviceAddress, ts: number, o: Observation, out: AlertTransition[]): void {
    const t = this.tracker(rule, address)
    const alert = t.alert
    if (!alert) {
      if (!o.abnormal) {
        t.pendingSince = undefined
        return
      }
      t.pendingSince ??= o.since
      if (ts - t.pendingSince < rule.forMs) return
      const opened: Alert = {
        id: alertId(rule.id, address, ts),
        rule: rule.id,
        ruleKind: rule.kind,
        severity: rule.severity,
        address: { ...address },
        quantity:
          rule.kind === 'anomaly' || rule.kind === 'standby' || rule.kind === 'demand'
            ? 'active_power_kw'
            : rule.kind === 'offline'
              ? 'minutes_since_data'
              : rule.kind === 'power_factor'
                ? 'power_factor'
                : rule.quantity,
        state: 'firing',
        openedAt: ts,
        value: o.value,
      }
      if (o.threshold !== undefined) opened.threshold = o.threshold
      if (o.low !== undefined) opened.expectedLow = o.low
      if (o.high !== undefined) opened.expectedHigh = o.high
      if (o.reason !== undefined) opened.reason = o.reason
      t.alert = opened
      t.normalSince = undefined
      this.byId.set(opened.id, t)
      out.push(this.transition('opened', ts, opened, '', ''))
      return
    }
    if (o.abnormal) {
      alert.value = o.value
      if (o.threshold !== undefined) alert.threshold = o.threshold
      if (o.low !== undefined) alert.expectedLow = o.low
      if (o.high !== undefined) alert.expectedHigh = o.high
    }
    if (!o.normal) {
      t.normalSince = undefined
      return
    }
    t.normalSince ??= o.since
    if (ts - t.normalSince < rule.clearAfterMs) return
    alert.value = o.value
    out.push(this.close(t, alert, ts, '', ''))
  }

  private evaluateSample(rule: ResolvedRule, d: DeviceState, s: AlertSample, out: AlertTransition[]): void {
    const ts = s.ts
    const v = s.values[rule.quantity]
    switch (rule.kind) {
      case 'threshold': {
        if (v === undefined) return
        const abnormal = (rule.above !== undefined && v > rule.above) || (rule.below !== undefined && v < rule.below)
        const normal = (rule.above === undefined || v <= rule.above - rule.deadband) && (rule.below === undefined || v >= rule.below + rule.deadband)
        const o: Observation = { abnormal, normal, since: ts, value: v }
        const limit = rule.above !== undefined && (rule.below === undefined || v > rule.above) ? rule.above : rule.below
        if (limit !== undefined) o.threshold = limit
        if (rule.below !== undefined) o.low = rule.below
        if (rule.above !== undefined) o.high = rule.above
        this.observe(rule, d.address, ts, o, out)
        return
      }
      case 'rate': {
        const prev = d.last.get(rule.quantity)
        if (v === undefined || !prev || ts <= prev.ts) return
        const perMin = Math.abs(v - prev.value) / ((ts - prev.ts) / MINUTE_MS)
        this.observe(
          rule,
          d.address,
          ts,
          { abnormal: perMin > rule.maxChangePerMin, normal: perMin <= rule.maxChangePerMin, since: ts, value: perMin, threshold: rule.maxChangePerMin },
          out,
        )
        return
      }
      case 'offline':
        // Data arrived: normal again.
        this.observe(
          rule,
          d.address,
          ts,
          {
            abnormal: false,
            normal: true,
            since: ts,
            value: Math.max(0, (ts - d.lastSeen) / MINUTE_MS),
            threshold: (rule.missed * Math.max(rule.intervalMs, observedIntervalMs(d))) / MINUTE_MS,
          },
          out,
        )
        return
      case 'stuck': {
        if (v === undefined) return
        const m = this.memo(d, rule)
        if (m.stuckValue === v) m.stuckCount = (m.stuckCount ?? 1) + 1
        else {
          m.stuckValue = v
          m.stuckSince = ts
          m.stuckCount = 1
        }
        const repeating = this.stuckRepeating(rule, d, m, ts, v)
        this.observe(
          rule,
          d.address,
          ts,
          { abnormal: repeating, normal: !repeating, since: m.stuckSince ?? ts, value: v, threshold: (ts - (m.stuckSince ?? ts)) / MINUTE_MS },
          out,
        )
        return
      }
      case 'counter': {
        const prev = d.last.get(rule.quantity)
        if (v === undefined || !prev) return
        // Quiet on a rollover at the register's modulus and on a drop a recorded meter event explains.
        const m = this.moduli.get(`${d.key}|${rule.quantity}`)
        const rollover = m !== undefined && prev.value >= m * (1 - ROLLOVER_BAND) && v <= m * ROLLOVER_BAND
        const back = v < prev.value && !rollover && !(this.explainsDrop?.(d.key, rule.quantity, prev.ts, ts) ?? false)
        this.observe(rule, d.address, ts, { abnormal: back, normal: !back, since: ts, value: v, threshold: prev.value }, out)
        return
      }
      case 'power_factor': {
        const pf = s.values.power_factor
        const p = s.values.active_power_kw
        if (pf === undefined || rule.below === undefined) return
        if (p !== undefined && Math.abs(p) <= rule.minPowerKw) return
        const a = Math.abs(pf)
        this.observe(
          rule,
          d.address,
          ts,
          { abnormal: a < rule.below, normal: a >= rule.below + rule.deadband, since: ts, value: a, threshold: rule.below, low: rule.below },
          out,
        )
        return
      }
      case 'standby':
        this.evaluateStandby(rule, d, s, out)
        return
      case 'anomaly': {
        const p = s.values.active_power_kw
        if (p === undefined) return
        const m = this.memo(d, rule)
        const start = Math.floor(ts / rule.windowMs) * rule.windowMs
        if (m.windowStart !== undefined && start !== m.windowStart) {
          if (start < m.windowStart) return // late sample of a closed window
          this.closeWindow(rule, d, m, out)
        }
        if (m.windowStart === undefined) {
          m.windowStart = start
          m.sum = 0
          m.n = 0
        }
        m.sum = (m.sum ?? 0) + p
        m.n = (m.n ?? 0) + 1
        return
      }
      case 'demand':
        return
    }
  }

  /** Standby: power above the idle level while the machine says idle, outside shifts, or in a slot the history shows idle. */
  private evaluateStandby(rule: ResolvedRule, d: DeviceState, s: AlertSample, out: AlertTransition[]): void {
    const ts = s.ts
    const p = s.values.active_power_kw
    if (p === undefined) return
    const idleKw = rule.idleKw ?? this.baselines.idleKw.get(d.key)
    if (idleKw === undefined) return
    const state =
      s.values.machine_state ??
      (d.last.get('machine_state') && ts - (d.last.get('machine_state')?.ts ?? 0) <= 300_000 ? d.last.get('machine_state')?.value : undefined)
    const idleByState = state !== undefined && IDLE_STATES.has(state)
    const outsideShift = d.line !== undefined && d.line.shifts.length > 0 && !inShift(d.line, ts)
    const idle = idleByState || outsideShift || this.idleBySchedule(rule, d, ts)
    const above = idle && p > idleKw
    this.observe(rule, d.address, ts, { abnormal: above, normal: !above, since: ts, value: p, threshold: idleKw, high: idleKw }, out)
  }

  /**
   * Stuck: at least minSamples equal values in a row (whatever the reporting interval), above
   * minPowerKw; at low load (≤ lowLoadKw, default the learned low-load edge, DeviceBaseline.lowLoadKw)
   * equal quantised readings (isCoarse) are a steady idle and must last lowLoadFor.
   */
  private stuckRepeating(rule: ResolvedRule, d: DeviceState, m: RuleMemo, ts: number, v: number): boolean {
    if ((m.stuckCount ?? 1) < rule.minSamples || Math.abs(v) <= rule.minPowerKw) return false
    const learned = rule.quantity === 'active_power_kw' ? this.baselines.anomaly.get(d.key)?.lowLoadKw : undefined
    const lowLoadKw = rule.lowLoadKw ?? learned
    if (lowLoadKw !== undefined && Math.abs(v) <= lowLoadKw && isCoarse(v)) return ts - (m.stuckSince ?? ts) >= rule.lowLoadForMs
    return true
  }

  /** Standby: a slot of the calendar week where the history was idle at least idleShare of the time. */
  private idleBySchedule(rule: ResolvedRule, d: DeviceState, ts: number): boolean {
    const b = this.baselines.anomaly.get(d.key)
    if (!b?.regimeSlots) return false
    return idleShare(b.regimeSlots, baselineSlot(b, ts)) >= rule.idleShare
  }

  /** Regime model: the window against the bands of the regimes its slot has shown. */
  private closeRegimeWindow(rule: ResolvedRule, d: DeviceState, b: DeviceBaseline, m: RuleMemo, start: number, mean: number, out: AlertTransition[]): void {
    const t = b.regimeSlots
    if (!t) return
    m.recent ??= new RecentWindows(rule.windowMs, t.restWindows ?? 0)
    const v = judgeRegimeWindow(t, baselineSlot(b, start), mean, {
      k: rule.k,
      minBandKw: rule.minBandKw,
      minRegimeShare: rule.minRegimeShare,
      direction: rule.direction,
      lowerRegimeNormal: rule.lowerRegimeNormal,
      recentKw: m.recent.before(start),
      minStartShare: rule.minStartShare,
      clearBand: rule.clearBand,
    })
    m.recent.push(start, mean)
    const o: Observation = { abnormal: v.abnormal, normal: v.normal, since: start, value: mean, threshold: v.expectedKw, low: v.lowKw, high: v.highKw }
    if (v.start) o.reason = 'unexpected-start'
    this.observe(rule, d.address, start + rule.windowMs, o, out)
  }

  private closeWindow(rule: ResolvedRule, d: DeviceState, m: RuleMemo, out: AlertTransition[]): void {
    const start = m.windowStart as number
    const n = m.n ?? 0
    const mean = n > 0 ? (m.sum ?? 0) / n : Number.NaN
    m.windowStart = undefined
    m.sum = 0
    m.n = 0
    if (!(n > 0)) return
    const b = this.baselines.anomaly.get(d.key)
    if (!b) return
    if (b.model === 'regime') {
      this.closeRegimeWindow(rule, d, b, m, start, mean, out)
      return
    }
    const rate = b.model === 'production' ? this.productionRate(lineKey(d.address), start, rule.windowMs) : undefined
    const expected = expectedPowerKw(b, start, rate)
    if (expected === undefined) return
    const band = bandKw(b, expected, rule.k, rule.minBandKw, rate, rule.minBandShare)
    const r = mean - expected
    const end = start + rule.windowMs
    const abnormal = rule.direction === 'above' ? r > band : rule.direction === 'below' ? r < -band : Math.abs(r) > band
    this.observe(
      rule,
      d.address,
      end,
      { abnormal, normal: Math.abs(r) < rule.clearBand * band, since: start, value: mean, threshold: expected, low: expected - band, high: expected + band },
      out,
    )
  }

  private recordProduction(lineKey: string, ts: number, value: number): void {
    let list = this.production.get(lineKey)
    if (!list) {
      list = []
      this.production.set(lineKey, list)
    }
    list.push({ ts, value })
    // Keep a few hours: enough for the longest window and its predecessor.
    const cutoff = ts - 6 * HOUR_MS
    let drop = 0
    while (drop < list.length && (list[drop] as { ts: number }).ts < cutoff) drop++
    if (drop > 0) list.splice(0, drop)
  }

  /**
   * Counter increase between the first and last sample inside the window, per hour — the same
   * quantity the baseline learned from the store (spread over count − 1 steps).
   */
  private productionRate(lineKey: string, start: number, windowMs: number): number | undefined {
    const list = this.production.get(lineKey)
    if (!list) return undefined
    let first: { ts: number; value: number } | undefined
    let last: { ts: number; value: number } | undefined
    let count = 0
    for (const p of list) {
      if (p.ts < start || p.ts >= start + windowMs) continue
      first ??= p
      last = p
      count++
    }
    if (!first || !last || last.value < first.value) return undefined
    return rateOf(last.value - first.value, count, windowMs)
  }

  private demandSample(d: DeviceState, s: AlertSample, out: AlertTransition[]): void {
    if (this.sites.size === 0 || !d.line || d.line.mainMeter !== d.address.device) return
    const site = this.sites.get(`${d.address.enterprise}/${d.address.site}`)
    const kw = s.values.active_power_kw
    if (!site || kw === undefined) return
    const ws = Math.floor(s.ts / DEMAND_WINDOW_MS) * DEMAND_WINDOW_MS
    if (ws !== site.windowStart) {
      site.windowStart = ws
      site.energyKwh = 0
      // The power held since the previous sample counts into the new window from its start.
      for (const m of site.meters.values()) if (m.ts < ws) m.ts = ws
    }
    const prev = site.meters.get(d.key)
    if (prev && s.ts > prev.ts) site.energyKwh += (prev.kw * (s.ts - prev.ts)) / HOUR_MS
    site.meters.set(d.key, { ts: s.ts, kw })
    this.demandCheck(site, s.ts, out)
  }

  private demandCheck(site: SiteDemand, now: number, out: AlertTransition[]): void {
    const rules = this.rules.filter(
      (r) => r.kind === 'demand' && matchesRule(r, { enterprise: site.enterprise, site: site.site, line: 'site', device: 'demand' }, undefined),
    )
    if (rules.length === 0 || Number.isNaN(site.windowStart)) return
    const elapsed = now - site.windowStart
    if (elapsed <= 0 || elapsed > DEMAND_WINDOW_MS) return
    let currentKw = 0
    let energy = site.energyKwh
    for (const m of site.meters.values()) {
      currentKw += m.kw
      if (now > m.ts) energy += (m.kw * (now - Math.max(m.ts, site.windowStart))) / HOUR_MS
    }
    const f = forecastDemand({ windowStart: site.windowStart, now, energySoFarKwh: energy, currentPowerKw: currentKw })
    const address = { enterprise: site.enterprise, site: site.site, line: 'site', device: 'demand' }
    for (const rule of rules) {
      if (elapsed < rule.minElapsedMs) continue
      const limit = site.contractedKw * rule.margin
      const over = f.projectedKw > limit
      this.observe(rule, address, now, { abnormal: over, normal: !over, since: now, value: f.projectedKw, threshold: limit, high: limit }, out)
    }
  }
}
