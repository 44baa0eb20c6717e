import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { deviceKey } from '../core/plant.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { StoredEvent } from '../storage/events.ts'
import type { AlertEngine, AlertTransition } from './engine.ts'
import { notificationOf, transitionToEvent, type AlertNotification } from './events.ts'

export interface AlertNotifierOptions {
  engine: Pick<AlertEngine, 'nameOf'>
  /** Where events of the transitions go (EventWriter). */
  events: { add(event: StoredEvent): void }
  /** The `alert` channel of the device (AlertBrokerLink). */
  broker: { publishAlert(address: DeviceAddress, n: AlertNotification): void }
  /** Webhook queues (WebhookSender). */
  webhooks: { send(n: AlertNotification): void }
  /** Called for every transition (the API's live stream); exceptions are logged, never thrown. */
  onEvent?: ((n: AlertNotification) => void) | undefined
  logger: Logger
}

/**
 * Tells everyone of a transition: an `alert_event` to the event log (unless the event came from
 * the log), the device's `alert` channel, the webhooks, `onEvent`, and the log.
 */
export class AlertNotifier {
  /** Transitions told since start. */
  transitions = 0

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
    o.webhooks.send(n)
    if (o.onEvent) {
      try {
        o.onEvent(n)
      } catch (err) {
        o.logger.warn({ err: describeError(err) }, 'onEvent handler threw')
      }
    }
    o.logger.info({ alertId: n.alertId, event: n.event, rule: n.rule, device: deviceKey(n) }, n.text.en)
    return n
  }
}
