import { silentLogger, type Logger } from '../core/logger.ts'
import { DAY_MS } from '../core/duration.ts'
import type { PlantModel } from '../core/plant.ts'
import type { MqttConnectionError } from '../core/mqtt.ts'
import type { EventLog } from '../storage/events.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { BaselineLearner } from './baseline-learner.ts'
import { AlertBrokerLink, type AlertMqttOptions } from './broker-link.ts'
import { AlertEngine, type Alert, type AlertTransition } from './engine.ts'
import { RecordedDrops } from './recorded-drops.ts'
import type { AlertNotification } from './events.ts'
import { EventWriter } from './event-writer.ts'
import { ExternalEvents } from './external-events.ts'
import { Escalator, recordedEscalations } from './escalation.ts'
import { AlertNotifier } from './notifier.ts'
import { createChannels, type SecretSource } from './notify/config.ts'
import { ChannelHub } from './notify/hub.ts'
import type { ChannelStats } from './notify/queue.ts'
import { WebhookSender, type WebhookStats } from './notify.ts'
import { restoreLastSeen, restoreOpenAlerts } from './restore.ts'
import { SilenceBook } from './silences.ts'
import { SystemAlerts, withSystemAlerts } from './system-alerts.ts'
import { durationMs, validateAlertsConfig, type ResolvedRule } from './rules.ts'
import { TelemetryFeed } from './telemetry-feed.ts'

/**
 * The alert service: subscribes to every device's `data` channel, feeds the engine, and for every
 * transition appends an `alert_event` to the event log, publishes it on the device's `alert`
 * channel (pw/v1/{e}/{s}/{l}/{d}/alert, QoS 1), queues it for the webhooks and calls `onEvent`.
 *
 * Acknowledgements and resolutions made through the API are events appended to the same log by the
 * API process; the service reads new acknowledged/cleared events every `pollEventsMs` and applies
 * them (so auto-resolve and notifications follow). At start it rebuilds open alerts from the log,
 * takes each device's newest point in the store as "last seen" (offline detection across restarts),
 * and learns the anomaly and standby baselines from the store; it re-learns every `relearnEvery` of
 * those rules and whenever a `baseline_revision` event appears in the log.
 *
 * System alerts (system-alerts.ts): each ingest instance's retained state (`pw/sys/ingest/{id}`)
 * opens a `storage-fault` alert while its store writes fail and clears it once they succeed — told
 * like any alert. Their events wait in memory (EventWriter retries) while the store is failing.
 */
export interface AlertServiceOptions {
  /** Broker connection (core/mqtt.ts MqttClientConfig); the user needs the broker role `service`. */
  mqtt: AlertMqttOptions
  store: TelemetryStore
  events: EventLog
  plant: PlantModel
  /** Rule list as in the config file (`alerts.rules`), validated here: ALERTS_ERR_CONFIG lists every problem. */
  rules: readonly unknown[]
  /** Webhooks as in the config file (`alerts.webhooks`). */
  webhooks?: readonly unknown[]
  /** Robot and e-mail channels (`alerts.channels`) and escalation rules (`alerts.escalation`), validated here. */
  channels?: readonly unknown[]
  escalation?: readonly unknown[]
  /** Where the channels' secrets are read (…Env, …File). Default process.env and the files. */
  secrets?: SecretSource
  /** Further keys of the `alerts:` section (pollEventsMs, tickMs, restoreLookback). */
  settings?: { pollEventsMs?: number; tickMs?: number; restoreLookback?: string }
  /** Called for every transition (the API's live stream); exceptions are logged, never thrown. */
  onEvent?: (n: AlertNotification) => void
  logger?: Logger
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number
  /** How long start waits for the broker. Default 30 000 ms. */
  connectTimeoutMs?: number
  /** How long close waits for the event log to take the events still queued (a failing store: then logged, not written). Default 10 000 ms. */
  closeTimeoutMs?: number
}

export interface AlertServiceStats {
  /** Connected to the broker and not refused (CONNACK 4/5, or a refused alert publish that closed the connection). */
  connected: boolean
  /** Connections lost since start. */
  disconnects: number
  /** The last connection failure (ALERTS_ERR_MQTT_…), kept after recovery. */
  lastConnectionError?: MqttConnectionError
  samples: number
  badMessages: number
  openAlerts: number
  transitions: number
  eventLogFailures: number
  pendingEvents: number
  baselines: number
  baselineLearnedAt: number | null
  webhooks: WebhookStats[]
  /** Robot and e-mail channels: queue, deliveries, last coded error. */
  channels: ChannelStats[]
  /** Transitions kept from webhooks and channels by a silence. */
  silenced: number
  escalations: number
  /** Ingest state messages read (system alerts), and those that could not be read. */
  ingestStates: number
  badIngestStates: number
}

export interface RunningAlertService {
  engine: AlertEngine
  rules: readonly ResolvedRule[]
  stats(): AlertServiceStats
  openAlerts(): Alert[]
  /** Acknowledge / resolve in process (same effect as through the API). */
  acknowledge(id: string, user: string, comment?: string): Promise<AlertNotification>
  resolve(id: string, user: string, comment?: string): Promise<AlertNotification>
  /** Re-learns the baselines from the store now. */
  relearn(): Promise<void>
  /** Reads acknowledgements/resolutions from the event log now (otherwise every pollEventsMs). */
  pollEvents(): Promise<void>
  /** Evaluates time-based conditions now (otherwise every tickMs). */
  tick(): void
  /** Resolves when pending event-log appends and webhook deliveries are done. */
  flush(): Promise<void>
  close(): Promise<void>
}

/**
 * Starts the alert service: rebuilds its state (open alerts, last-seen times, baselines), connects,
 * and from then on feeds the engine from the live stream and tells every transition.
 */
export async function startAlertService(opts: AlertServiceOptions): Promise<RunningAlertService> {
  const logger = opts.logger ?? silentLogger()
  const now = opts.now ?? Date.now
  const { config, rules } = validateAlertsConfig(
    { rules: opts.rules, webhooks: opts.webhooks ?? [], channels: opts.channels ?? [], escalation: opts.escalation ?? [], ...opts.settings },
    'alerts',
  )
  const channels = createChannels(config.channels, opts.plant.timezone, opts.secrets)
  const drops = new RecordedDrops(opts.events, now, logger)
  const engine = new AlertEngine({ plant: opts.plant, rules, explainsDrop: (key, q, from, to) => drops.explains(key, q, from, to) })
  const system = new SystemAlerts({ now })
  const both = withSystemAlerts(engine, system)

  // State from before this start.
  const startedAt = now()
  await restoreOpenAlerts(both, opts.events, { start: startedAt - durationMs(config.restoreLookback), stop: startedAt + 1 }, logger)
  await restoreLastSeen(engine, opts.store, startedAt - DAY_MS, logger)
  const learner = new BaselineLearner({ engine, store: opts.store, plant: opts.plant, rules, now, logger })
  await learner.relearn()

  // Live stream → engine → transitions → event log, alert channel, webhooks, onEvent.
  const webhooks = new WebhookSender(config.webhooks, logger)
  const writer = new EventWriter(opts.events, logger)
  const broker = new AlertBrokerLink(opts.mqtt, { logger, connectTimeoutMs: opts.connectTimeoutMs ?? 30_000 })
  const hub = new ChannelHub(channels, logger, now)
  const silences = new SilenceBook(opts.events, now, logger)
  await silences.refresh()
  const escalator = new Escalator({ rules: config.escalation, hub, events: writer, silenced: (n, t) => silences.silenceOf(n, t) !== undefined, logger })
  const notifier = new AlertNotifier({
    engine,
    events: writer,
    broker,
    webhooks,
    channels: hub,
    silences,
    escalator,
    onEvent: opts.onEvent,
    logger,
    timezone: opts.plant.timezone,
  })
  notifier.restore(both.openAlerts(), await recordedEscalations(opts.events, startedAt - durationMs(config.restoreLookback), logger), startedAt)
  const feed = new TelemetryFeed(engine, (list) => notifier.notifyAll(list), logger)
  const route = (topic: string, payload: Buffer): void =>
    SystemAlerts.accepts(topic) ? notifier.notifyAll(system.receive(topic, payload)) : feed.receive(topic, payload)
  broker.onMessage(route)
  try {
    await broker.ready()
  } catch (err) {
    webhooks.close()
    hub.close()
    throw err
  }

  // Time: conditions that need no sample, what the API appended, baselines growing stale.
  const tick = (): void => {
    const t = now()
    notifier.notifyAll(engine.tick(t))
    escalator.check(t)
  }
  const ticker = setInterval(tick, config.tickMs)
  const external = new ExternalEvents({
    events: opts.events,
    startedAt,
    now,
    isOwn: (id) => writer.isOwn(id),
    apply: (e) => {
      const t = system.has(e.alertId) ? system.applyExternal(e) : engine.applyExternal(e)
      if (t) notifier.notify(t, false)
    },
    onBaselineRevision: () => learner.relearn(),
    logger,
  })
  external.start(config.pollEventsMs)
  learner.start()
  silences.start(config.pollEventsMs)
  drops.start(config.pollEventsMs)

  async function byHand(transition: () => AlertTransition): Promise<AlertNotification> {
    const n = notifier.notify(transition(), true)
    await writer.flush()
    return n
  }
  async function close(): Promise<void> {
    clearInterval(ticker)
    drops.stop()
    learner.stop()
    await silences.stop()
    await external.stop()
    await drainWithin(writer, opts.closeTimeoutMs ?? 10_000, logger)
    writer.close()
    webhooks.close()
    hub.close()
    await broker.close()
  }
  let closing: Promise<void> | undefined

  return {
    engine,
    rules,
    stats: () => serviceStats({ broker, feed, notifier, writer, engine, system, learner, webhooks, hub, escalator }),
    openAlerts: () => both.openAlerts(),
    acknowledge: (id, user, comment = '') => byHand(() => (system.has(id) ? system : engine).acknowledge(id, { user, comment, ts: now() })),
    resolve: (id, user, comment = '') => byHand(() => (system.has(id) ? system : engine).resolve(id, { user, comment, ts: now() })),
    relearn: () => learner.relearn(),
    pollEvents: () => external.poll(),
    tick,
    async flush() {
      await writer.drain()
      await webhooks.idle()
      await hub.idle()
    },
    close: () => (closing ??= close()),
  }
}

/** The parts of a running service its stats are read from. */
interface ServiceParts {
  broker: AlertBrokerLink
  feed: TelemetryFeed
  notifier: AlertNotifier
  writer: EventWriter
  engine: AlertEngine
  system: SystemAlerts
  learner: BaselineLearner
  webhooks: WebhookSender
  hub: ChannelHub
  escalator: Escalator
}

function serviceStats(p: ServiceParts): AlertServiceStats {
  return {
    ...p.broker.status(),
    samples: p.feed.samples,
    badMessages: p.feed.badMessages,
    transitions: p.notifier.transitions,
    eventLogFailures: p.writer.failures,
    openAlerts: p.engine.openAlerts().length + p.system.openAlerts().length,
    pendingEvents: p.writer.pendingCount,
    baselines: p.engine.baselineBook.anomaly.size,
    baselineLearnedAt: p.learner.learnedAt,
    webhooks: p.webhooks.stats(),
    channels: p.hub.stats(),
    silenced: p.notifier.silenced,
    escalations: p.escalator.escalated,
    ingestStates: p.system.states,
    badIngestStates: p.system.badStates,
  }
}

/**
 * Waits up to `timeoutMs` for the event log to take what is queued. A store that still refuses
 * writes (the storage fault itself) must not hold the stop: what is left is logged, not written.
 */
async function drainWithin(writer: EventWriter, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const drained = await Promise.race([
    writer.drain().then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs)
    }),
  ])
  clearTimeout(timer)
  if (!drained)
    logger.error(
      { queuedEvents: writer.pendingCount, eventLogFailures: writer.failures },
      `the event log still refuses writes after ${timeoutMs} ms: the alert events in the batch being retried and those queued are not written (their notifications were sent)`,
    )
}
