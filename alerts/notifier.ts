import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { deviceKey } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { StoredEvent } from '../storage/events.ts'
import type { Alert, AlertEngine, AlertTransition } from './engine.ts'
import { notificationOf, transitionToEvent, type AlertNotification } from './events.ts'
import { localTime } from './notify/channel.ts'
import { silenceReleasedEvent, type Silence } from './silences.ts'
import { describeAlert } from './text.ts'

export interface AlertNotifierOptions {
  engine: Pick<AlertEngine, 'nameOf'>
  /** Where events of the transitions go (EventWriter). */
  events: { add(event: StoredEvent): void }
  /** The `alert` channel of the device (AlertBrokerLink). */
  broker: { publishAlert(address: DeviceAddress, n: AlertNotification): void }
  /** Webhook queues (WebhookSender). */
  webhooks: { send(n: AlertNotification): void }
  /** Robot and e-mail channel queues (notify/hub.ts ChannelHub). */
  channels?: { send(n: AlertNotification): void } | undefined
  /**
   * Silences in force (silences.ts SilenceBook). `watch` (optional) calls back after each refresh and
   * at each silence's end: the alerts a silence held back are released then; `releasedAt` says which
   * were released before a restart.
   */
  silences?:
    | {
        silenceOf(address: DeviceAddress, ts: number): Silence | undefined
        watch?(listener: (now: number) => void): void
        releasedAt?(alertId: string): number | undefined
      }
    | undefined
  /** Escalation (escalation.ts Escalator): follows every alert event that is notified; `from` starts its clock. */
  escalator?: { observe(n: AlertNotification, done?: ReadonlySet<string>, from?: number): void } | undefined
  /** The plant's zone: the text of a released alert gives its local opening time (without: only how long it was held). */
  timezone?: string | undefined
  /** Called for every transition (the API's live stream); exceptions are logged, never thrown. */
  onEvent?: ((n: AlertNotification) => void) | undefined
  logger: Logger
}

/** Alerts opened under a silence remembered; cleared beyond this many (memory bound). */
const MAX_SILENCED = 100_000

/** An alert opened under a silence: which silence, and its latest event. */
interface Held {
  silence: string
  last: AlertNotification
}

/**
 * Tells everyone of a transition: an `alert_event` to the event log (unless the event came from
 * the log), the device's `alert` channel, `onEvent` and the log — always; the webhooks, the robot
 * and e-mail channels and escalation — unless a silence covers the device at the transition, or
 * covered it when the alert opened (the alert is then held back). When no silence covers the device
 * any more (the silence expired or was deleted) and a held-back alert is still firing — not
 * acknowledged, not resolved — it is told then, once, to the webhooks and channels (its text says
 * which silence held it since when), its escalation clock starts at that moment, the release is
 * recorded (silences.ts `released`), and its later events are told as any other's. One acknowledged
 * under the silence stays quiet to its end. Nothing here waits on a receiver: the webhooks and
 * channels only queue.
 */
export class AlertNotifier {
  /** Transitions told since start. */
  transitions = 0
  /** Transitions not sent to webhooks and channels because of a silence. */
  silenced = 0
  /** Alerts held back by a silence and told when it ended. */
  released = 0
  /** Alert id → the silence it opened under and its latest event. */
  private readonly held = new Map<string, Held>()

  constructor(private readonly o: AlertNotifierOptions) {
    o.silences?.watch?.((now) => this.releaseHeld(now))
  }

  /** Number of alerts held back by a silence now. */
  get heldCount(): number {
    return this.held.size
  }

  /** Each transition of the list, with its event stored. */
  notifyAll(list: readonly AlertTransition[]): void {
    for (const t of list) this.notify(t, true)
  }

  /** `store`: false for a transition read from the event log (the API appended its event). */
  notify(t: AlertTransition, store: boolean): AlertNotification {
    const { o } = this
    this.transitions++
    const n = notificationOf(t, o.engine.nameOf(t.alert.address))
    if (store) o.events.add(transitionToEvent(t))
    o.broker.publishAlert(t.alert.address, n)
    const silence = this.silenceOf(n)
    if (silence === undefined) {
      o.webhooks.send(n)
      o.channels?.send(n)
      o.escalator?.observe(n)
    } else {
      this.silenced++
      // An acknowledgement or resolution still ends a wait for escalation begun before the silence.
      if (n.event !== 'opened') o.escalator?.observe(n)
    }
    if (o.onEvent) {
      try {
        o.onEvent(n)
      } catch (err) {
        o.logger.warn({ err: describeError(err) }, 'onEvent handler threw')
      }
    }
    const log = { alertId: n.alertId, event: n.event, rule: n.rule, device: deviceKey(n), ...(silence ? { silence } : {}) }
    o.logger.info(log, silence ? `${n.text.en} (silenced)` : n.text.en)
    return n
  }

  /**
   * At start: alerts still firing (rebuilt from the log) wait for escalation again, except the
   * escalation rules already recorded for them (`done`, by alert id); those opened under a silence
   * not yet released are held again (and released now if the silence has ended).
   */
  restore(alerts: readonly Alert[], done: ReadonlyMap<string, ReadonlySet<string>>, now: number): void {
    const { silences } = this.o
    for (const a of alerts) {
      if (a.state === 'resolved') continue
      const name = this.o.engine.nameOf(a.address)
      const n = notificationOf({ event: 'opened', ts: a.openedAt, alert: a, user: '', comment: '', text: describeAlert(a, 'opened', name, '', '') }, name)
      const openedUnder = silences?.silenceOf(a.address, a.openedAt)
      const releasedAt = silences?.releasedAt?.(a.id)
      // Held back and not yet released: held again (released below, or when its silence ends).
      if (openedUnder && releasedAt === undefined) this.hold(n, openedUnder.id)
      // Under a silence now (opened before it): the Escalator holds what falls due until its end.
      else if (a.state === 'firing') this.o.escalator?.observe(n, done.get(a.id), releasedAt ?? a.openedAt)
    }
    this.releaseHeld(now)
  }

  /**
   * Tells the alerts held back by a silence that no longer covers their device at `now`, if still
   * firing (see the class). Called by the SilenceBook's `watch`; returns how many were told.
   */
  releaseHeld(now: number): number {
    const { o } = this
    let told = 0
    for (const [id, h] of this.held) {
      if (h.last.state !== 'firing' || o.silences?.silenceOf(h.last, now)) continue
      this.held.delete(id)
      const n = releasedNotification(h, now, o.timezone)
      o.webhooks.send(n)
      o.channels?.send(n)
      o.escalator?.observe(n, undefined, now)
      o.events.add(silenceReleasedEvent(h.silence, h.last, now))
      this.released++
      told++
      o.logger.info({ alertId: id, silence: h.silence, device: deviceKey(n) }, n.text.en)
    }
    return told
  }

  /** The id of the silence that keeps this transition quiet, if any. */
  private silenceOf(n: AlertNotification): string | undefined {
    const h = this.held.get(n.alertId)
    if (h !== undefined) {
      if (n.event === 'cleared') this.held.delete(n.alertId)
      else h.last = n
      return h.silence
    }
    const s = this.o.silences?.silenceOf(n, n.ts)
    if (s && n.event === 'opened') this.hold(n, s.id)
    return s?.id
  }

  private hold(n: AlertNotification, silence: string): void {
    if (this.held.size >= MAX_SILENCED) this.held.clear()
    this.held.set(n.alertId, { silence, last: n })
  }
}

/**
 * The opening told late: now, its text saying which silence held it back, for how long and — with
 * the plant's zone — since when (a time in another zone would mislead the operators).
 */
function releasedNotification(h: Held, now: number, timezone: string | undefined): AlertNotification {
  const n = h.last
  const minutes = Math.max(0, Math.round((now - n.openedAt) / 60_000))
  const [hh, mm] = [Math.floor(minutes / 60), minutes % 60]
  const zhFor = minutes === 0 ? '不到 1 分钟' : hh === 0 ? `${mm} 分钟` : mm === 0 ? `${hh} 小时` : `${hh} 小时 ${mm} 分钟`
  const enFor = minutes === 0 ? 'under 1 min' : hh === 0 ? `${mm} min` : mm === 0 ? `${hh} h` : `${hh} h ${mm} min`
  const since = timezone === undefined ? undefined : localTime(n.openedAt, timezone)
  return {
    ...n,
    event: 'opened',
    state: 'firing',
    ts: now,
    text: {
      zh: `${n.text.zh}（静默 ${h.silence}${since ? ` 自 ${since} 起` : ' '}暂缓通知 ${zhFor}；静默已结束，告警仍未确认）`,
      en: `${n.text.en} (held back by silence ${h.silence}${since ? ` since ${since}` : ''} for ${enFor}; the silence is over and the alert is still not acknowledged)`,
    },
  }
}
