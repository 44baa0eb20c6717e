import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { describeError, PlantWattError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { decodePayload } from '../core/payload.ts'
import type { PlantModel } from '../core/plant.ts'
import { MqttConnectionWatch, type MqttConnectionError } from '../core/mqtt.ts'
import { buildTopic, channelFilter, parseTopic } from '../core/topic.ts'
import { eventIdentity, type EventLog, type StoredEvent } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { learnBaselines } from './baseline.ts'
import { AlertEngine, type Alert, type AlertTransition } from './engine.ts'
import { ALERT_EVENT_KIND, loadAlerts, notificationOf, parseAlertEvent, transitionToEvent, type AlertNotification } from './events.ts'
import { WebhookSender, type WebhookStats } from './notify.ts'
import { durationMs, validateAlertsConfig, type ResolvedRule } from './rules.ts'

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
 */
export interface AlertServiceOptions {
  /** Broker connection (core/mqtt.ts MqttClientConfig); the user needs the broker role `service`. */
  mqtt: { url: string; username?: string; password?: string; clientId?: string; keepaliveS?: number; reconnectPeriodMs?: number }
  store: TelemetryStore
  events: EventLog
  plant: PlantModel
  /** Rule list as in the config file (`alerts.rules`), validated here: ALERTS_ERR_CONFIG lists every problem. */
  rules: readonly unknown[]
  /** Webhooks as in the config file (`alerts.webhooks`). */
  webhooks?: readonly unknown[]
  /** Further keys of the `alerts:` section (pollEventsMs, tickMs, restoreLookback). */
  settings?: { pollEventsMs?: number; tickMs?: number; restoreLookback?: string }
  /** Called for every transition (the API's live stream); exceptions are logged, never thrown. */
  onEvent?: (n: AlertNotification) => void
  logger?: Logger
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number
  /** How long start waits for the broker. Default 30 000 ms. */
  connectTimeoutMs?: number
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

const BASELINE_REVISION_KIND = 'baseline_revision'
/** Events appended by the API are read again this far back: clocks of processes differ a little. */
const POLL_OVERLAP_MS = 120_000

export async function startAlertService(opts: AlertServiceOptions): Promise<RunningAlertService> {
  const logger = opts.logger ?? silentLogger()
  const now = opts.now ?? Date.now
  const { config, rules } = validateAlertsConfig({ rules: opts.rules, webhooks: opts.webhooks ?? [], ...opts.settings }, 'alerts')
  const engine = new AlertEngine({ plant: opts.plant, rules })
  const webhooks = new WebhookSender(config.webhooks, logger)
  const counters = { samples: 0, badMessages: 0, transitions: 0, eventLogFailures: 0 }
  /** Identities of events this service appended, so the poll does not apply them twice. */
  const own = new Set<string>()
  const seenExternal = new Set<string>()
  let pending: StoredEvent[] = []
  let appending: Promise<void> | undefined
  let closed = false

  // ---- restore ----
  const lookbackMs = durationMs(config.restoreLookback)
  const startedAt = now()
  try {
    const open = await loadAlerts(opts.events, { start: startedAt - lookbackMs, stop: startedAt + 1 })
    engine.restore(open.filter((a) => a.state !== 'resolved'))
    logger.info({ restored: engine.openAlerts().length }, 'open alerts rebuilt from the event log')
  } catch (cause) {
    throw new PlantWattError('ALERTS_ERR_RESTORE', `cannot rebuild open alerts from the event log: ${describeError(cause)}`, { cause })
  }
  try {
    for (const row of await opts.store.latest({ measurement: TELEMETRY_MEASUREMENT, fields: ['seq'], since: startedAt - 86_400_000 })) {
      const t = row.tags
      if (t.enterprise && t.site && t.line && t.device) engine.seen({ enterprise: t.enterprise, site: t.site, line: t.line, device: t.device }, row.ts)
    }
  } catch (err) {
    logger.warn({ err: describeError(err) }, 'cannot read last-seen times from the store; offline detection starts with the first sample')
  }

  let learnedAt: number | null = null
  const needsBaselines = rules.some((r) => r.kind === 'anomaly' || r.kind === 'standby')
  async function relearn(): Promise<void> {
    if (!needsBaselines) return
    const t = now()
    try {
      engine.setBaselines(await learnBaselines({ store: opts.store, plant: opts.plant, rules, now: t }))
      learnedAt = t
      logger.info({ baselines: engine.baselineBook.anomaly.size }, 'baselines learned')
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'learning baselines failed; keeping the previous ones')
    }
  }
  await relearn()

  // ---- output ----
  function flushEvents(): Promise<void> {
    if (appending || pending.length === 0) return appending ?? Promise.resolve()
    const batch = pending
    pending = []
    appending = (async () => {
      let delayMs = 500
      for (;;) {
        try {
          await opts.events.append(batch)
          return
        } catch (err) {
          counters.eventLogFailures++
          logger.warn({ err: describeError(err), events: batch.length }, 'event log append failed; retrying')
          if (closed) return
          await new Promise((r) => setTimeout(r, delayMs))
          delayMs = Math.min(delayMs * 2, 30_000)
        }
      }
    })().finally(() => {
      appending = undefined
      if (pending.length > 0) void flushEvents()
    })
    return appending
  }

  function notify(t: AlertTransition, store: boolean): AlertNotification {
    counters.transitions++
    const n = notificationOf(t, engine.nameOf(t.alert.address))
    if (store) {
      const e = transitionToEvent(t)
      own.add(eventIdentity(e))
      if (own.size > 100_000) own.clear()
      pending.push(e)
      void flushEvents()
    }
    try {
      client.publish(buildTopic(t.alert.address, 'alert'), JSON.stringify(n), { qos: 1 }, (err) => {
        if (err) logger.warn({ err: describeError(err), alertId: n.alertId }, 'publishing the alert failed')
      })
    } catch (err) {
      logger.warn({ err: describeError(err), alertId: n.alertId }, 'publishing the alert failed')
    }
    webhooks.send(n)
    if (opts.onEvent) {
      try {
        opts.onEvent(n)
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'onEvent handler threw')
      }
    }
    logger.info({ alertId: n.alertId, event: n.event, rule: n.rule, device: `${n.enterprise}/${n.site}/${n.line}/${n.device}` }, n.text.en)
    return n
  }
  const handle = (list: AlertTransition[]): void => {
    for (const t of list) notify(t, true)
  }

  // ---- input ----
  const dataFilter = channelFilter('data')
  const client: MqttClient = mqtt.connect(opts.mqtt.url, {
    clientId: opts.mqtt.clientId ?? `plantwatt-alerts-${Math.random().toString(16).slice(2, 10)}`,
    username: opts.mqtt.username,
    password: opts.mqtt.password,
    keepalive: opts.mqtt.keepaliveS ?? 30,
    reconnectPeriod: opts.mqtt.reconnectPeriodMs ?? 1000,
    // Alerts look at the live stream; what was missed while away is not replayed (ingest stores it).
    clean: true,
    protocolVersion: 4,
  } satisfies IClientOptions)
  const connection = new MqttConnectionWatch(client, 'ALERTS', opts.mqtt.url)

  client.on('message', (topic, payload) => {
    try {
      const address = parseTopic(topic)
      if (address.channel !== 'data') return
      const decoded = decodePayload(payload)
      const samples = [...decoded.samples].sort((a, b) => a.ts - b.ts)
      const a = { enterprise: address.enterprise, site: address.site, line: address.line, device: address.device }
      for (const s of samples) {
        counters.samples++
        handle(engine.ingest(a, { ts: s.ts, values: s.values }))
      }
    } catch (err) {
      // Ingest dead-letters bad messages; here they are only counted.
      counters.badMessages++
      logger.debug({ err: describeError(err), topic: topic.slice(0, 200) }, 'message ignored')
    }
  })

  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PlantWattError('ALERTS_ERR_CONNECT', `no connection to the broker ${opts.mqtt.url} within ${opts.connectTimeoutMs ?? 30_000} ms`)), opts.connectTimeoutMs ?? 30_000)
    client.on('connect', () => {
      client.subscribe(dataFilter, { qos: 1 }, (err, granted) => {
        const refused = granted?.some((g) => g.qos !== 0 && g.qos !== 1)
        if (err || refused) {
          clearTimeout(timer)
          reject(new PlantWattError('ALERTS_ERR_SUBSCRIBE', `subscription to ${dataFilter} refused${err ? `: ${describeError(err)}` : ''}`, { cause: err }))
          return
        }
        clearTimeout(timer)
        resolve()
      })
    })
    client.on('error', (err: Error & { code?: unknown }) => {
      logger.warn({ err: describeError(err) }, 'mqtt error')
      if (typeof err.code === 'number') {
        clearTimeout(timer)
        reject(new PlantWattError('ALERTS_ERR_CONNECT', `broker ${opts.mqtt.url} refused the connection: ${err.message}`, { cause: err }))
      }
    })
  })
  try {
    await connected
  } catch (err) {
    client.end(true)
    webhooks.close()
    throw err
  }
  // Refused at start is fatal (above); once running, a refusal (users changed, broker restarted
  // before its users loaded) is retried and reported in stats() instead of ending the reconnects.
  client.options.reconnectOnConnackError = true

  // ---- timers ----
  let pollCursor = startedAt
  let revisionCursor = startedAt
  async function pollEvents(): Promise<void> {
    const t = now()
    try {
      const events = await opts.events.query({ kind: ALERT_EVENT_KIND, start: pollCursor - POLL_OVERLAP_MS, filter: { event: ['acknowledged', 'cleared'] } })
      for (const e of events) {
        const id = eventIdentity(e)
        if (own.has(id) || seenExternal.has(id)) continue
        seenExternal.add(id)
        const parsed = parseAlertEvent(e)
        if (!parsed) continue
        const tr = engine.applyExternal(parsed)
        if (tr) notify(tr, false)
      }
      if (seenExternal.size > 100_000) seenExternal.clear()
      pollCursor = t
      const revisions = await opts.events.query({ kind: BASELINE_REVISION_KIND, start: revisionCursor })
      if (revisions.length > 0) {
        revisionCursor = Math.max(...revisions.map((r) => r.ts)) + 1
        logger.info({ revisions: revisions.length }, 'baseline revised: re-learning')
        await relearn()
      }
    } catch (err) {
      logger.warn({ err: describeError(err) }, 'reading the event log failed; will retry')
    }
  }
  const tick = (): void => handle(engine.tick(now()))
  const tickTimer = setInterval(tick, config.tickMs)
  let polling: Promise<void> | undefined
  const pollTimer = setInterval(() => {
    polling ??= pollEvents().finally(() => (polling = undefined))
  }, config.pollEventsMs)
  const relearnMs = Math.min(...rules.filter((r) => r.kind === 'anomaly' || r.kind === 'standby').map((r) => r.relearnEveryMs), Infinity)
  const relearnTimer = Number.isFinite(relearnMs) && relearnMs > 0 ? setInterval(() => void relearn(), relearnMs) : undefined

  async function byHand(kind: 'acknowledge' | 'resolve', id: string, user: string, comment = ''): Promise<AlertNotification> {
    const t = kind === 'acknowledge' ? engine.acknowledge(id, { user, comment, ts: now() }) : engine.resolve(id, { user, comment, ts: now() })
    const n = notify(t, true)
    await flushEvents()
    return n
  }

  return {
    engine,
    rules,
    stats: () => ({
      ...connection.status(),
      ...counters,
      openAlerts: engine.openAlerts().length,
      pendingEvents: pending.length,
      baselines: engine.baselineBook.anomaly.size,
      baselineLearnedAt: learnedAt,
      webhooks: webhooks.stats(),
    }),
    openAlerts: () => engine.openAlerts(),
    acknowledge: (id, user, comment) => byHand('acknowledge', id, user, comment),
    resolve: (id, user, comment) => byHand('resolve', id, user, comment),
    relearn,
    pollEvents: async () => {
      await polling
      await pollEvents()
    },
    tick,
    async flush() {
      while (appending || pending.length > 0) await flushEvents()
      await webhooks.idle()
    },
    async close() {
      if (closed) return
      clearInterval(tickTimer)
      clearInterval(pollTimer)
      if (relearnTimer) clearInterval(relearnTimer)
      await polling
      while (appending || pending.length > 0) await flushEvents()
      closed = true
      webhooks.close()
      connection.closing()
      await client.endAsync()
    },
  }
}
