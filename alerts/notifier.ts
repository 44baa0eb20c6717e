import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { deviceKey } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { StoredEvent } from '../storage/events.ts'
import type { Alert, AlertEngine, AlertTransition } from './engine.ts'
import { notificationOf, transitionToEvent, type AlertNotification } from './events.ts'
import type { Silence } from './silences.ts'
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
  /** Silences in force (silences.ts SilenceBook). */
  silences?: { silenceOf(address: DeviceAddress, ts: number): Silence | undefined } | undefined
  /** Escalation (escalation.ts Escalator): follows every alert event that is notified. */
  escalator?: { observe(n: AlertNotification, done?: ReadonlySet<string>): void } | undefined
  /** Called for every transition (the API's live stream); exceptions are logged, never thrown. */
  onEvent?: ((n: AlertNotification) => void) | undefined
  logger: Logger
}

/** Ids of alerts opened under a silence remembered; cleared beyond this many (memory bound). */
const MAX_SILENCED = 100_000

/**
 * Tells everyone of a transition: an `alert_event` to the event log (unless the event came from
 * the log), the device's `alert` channel, `onEvent` and the log — always; the webhooks, the robot
 * and e-mail channels and escalation — unless a silence covers the device at the transition, or
 * covered it when the alert opened (the whole alert is then silent). Nothing here waits on a
 * receiver: the webhooks and channels only queue.
 */
export class AlertNotifier {
  /** Transitions told since start. */
  transitions = 0
  /** Transitions not sent to webhooks and channels because of a silence. */
  silenced = 0
  /** Alert id → the silence it opened under. */
  private readonly silencedAlerts = new Map<string, string>()

  constructor(private readonly o: AlertNotifierOptions) {}

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
   * At start: alerts still firing (rebuilt from the log) wait for escalation again, except those
   * under a silence and the escalation rules already recorded for them (`done`, by alert id).
   */
  restore(alerts: readonly Alert[], done: ReadonlyMap<string, ReadonlySet<string>>, now: number): void {
    for (const a of alerts) {
      if (a.state !== 'firing' || this.o.silences?.silenceOf(a.address, a.openedAt) || this.o.silences?.silenceOf(a.address, now)) continue
      const name = this.o.engine.nameOf(a.address)
      const n = notificationOf({ event: 'opened', ts: a.openedAt, alert: a, user: '', comment: '', text: describeAlert(a, 'opened', name, '', '') }, name)
      this.o.escalator?.observe(n, done.get(a.id))
    }
  }

  /** The id of the silence that keeps this transition quiet, if any. */
  private silenceOf(n: AlertNotification): string | undefined {
    const openedUnder = this.silencedAlerts.get(n.alertId)
    if (openedUnder !== undefined) {
      if (n.event === 'cleared') this.silencedAlerts.delete(n.alertId)
      return openedUnder
    }
    const s = this.o.silences?.silenceOf(n, n.ts)
    if (s && n.event === 'opened') {
      if (this.silencedAlerts.size >= MAX_SILENCED) this.silencedAlerts.clear()
      this.silencedAlerts.set(n.alertId, s.id)
    }
    return s?.id
  }
}
