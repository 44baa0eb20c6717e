import { createServer, type IncomingMessage, type Server } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/server.ts'
import { hashPassword } from '../broker/password.ts'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { loadAlerts, manualEvent, type AlertNotification } from '../alerts/events.ts'
import { startAlertService, type RunningAlertService } from '../alerts/service.ts'

/**
 * The alert service against real parts: the broker (with a `service` user, so the ACL is what
 * production has), the embedded store and event log in a temporary file, and local HTTP servers as
 * webhooks — one that answers 500 twice before 200, one that never answers.
 */

const logger = silentLogger()
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            {
              id: 'l1',
              mainMeter: 'main',
              devices: [
                { id: 'main', name: '总表 Incomer', kind: 'meter' },
                { id: 'pump', kind: 'meter' },
              ],
            },
          ],
        },
      ],
    },
  ],
})
const RULES = [
  { id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0', severity: 'critical' },
  { id: 'offline', kind: 'offline', interval: '1s', missed: 2 },
]
const TOPIC = 'pw/v1/acme/wuhan/l1/main/data'
const SCRYPT_FAST = { N: 1024, r: 8, p: 1 }

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Hook {
  url: string
  received: AlertNotification[]
  requests: number
}

/** A webhook that answers `statuses` in turn (then 200), or never answers when `hang`. */
async function webhook(mode: { hang?: boolean; statuses?: number[] }): Promise<Hook> {
  const hook: Hook = { url: '', received: [], requests: 0 }
  const statuses = [...(mode.statuses ?? [])]
  const server: Server = createServer((req: IncomingMessage, res) => {
    hook.requests++
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      if (mode.hang) return // never answers
      const status = statuses.shift() ?? 200
      if (status === 200) hook.received.push(JSON.parse(body) as AlertNotification)
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const address = server.address()
  hook.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook?token=secret`
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return hook
}

interface Fixture {
  broker: RunningBroker
  store: TelemetryStore
  events: EventLog
  path: string
  serviceCreds: { username: string; password: string }
  publisher: MqttClient
  alertsSeen: { topic: string; n: AlertNotification }[]
}

async function fixture(brokerExtra: { validatePayloads?: boolean } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-alerts-svc-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'plantwatt.db')
  const users = [
    { username: 'alerts', passwordHash: await hashPassword('alerts-pw', SCRYPT_FAST), role: 'service' as const },
    { username: 'gw', passwordHash: await hashPassword('gw-pw', SCRYPT_FAST), role: 'gateway' as const, enterprise: 'acme' },
    { username: 'watcher', passwordHash: await hashPassword('watcher-pw', SCRYPT_FAST), role: 'ingest' as const },
  ]
  const broker = await startBroker({ host: '127.0.0.1', port: 0, users, anonymous: 'never', ...brokerExtra }, { logger })
  cleanups.push(() => broker.close())
  const store = createEmbeddedStore({ path })
  const events = await openEventLog({ backend: 'embedded', path })
  cleanups.push(async () => {
    await events.close()
    await store.close()
  })
  const publisher = await mqtt.connectAsync(broker.url, { username: 'gw', password: 'gw-pw', reconnectPeriod: 0 })
  const watcher = await mqtt.connectAsync(broker.url, { username: 'watcher', password: 'watcher-pw', reconnectPeriod: 0 })
  cleanups.push(
    () => publisher.endAsync(true),
    () => watcher.endAsync(true),
  )
  const alertsSeen: Fixture['alertsSeen'] = []
  watcher.on('message', (topic, payload) => alertsSeen.push({ topic, n: JSON.parse(payload.toString('utf8')) as AlertNotification }))
  await watcher.subscribeAsync('pw/v1/+/+/+/+/alert', { qos: 1 })
  return { broker, store, events, path, serviceCreds: { username: 'alerts', password: 'alerts-pw' }, publisher, alertsSeen }
}

async function service(f: Fixture, extra: { webhooks?: unknown[]; onEvent?: (n: AlertNotification) => void } = {}): Promise<RunningAlertService> {
  const s = await startAlertService({
    mqtt: { url: f.broker.url, ...f.serviceCreds, reconnectPeriodMs: 100 },
    store: f.store,
    events: f.events,
    plant: PLANT,
    rules: RULES,
    webhooks: extra.webhooks ?? [],
    settings: { tickMs: 100, pollEventsMs: 100 },
    ...(extra.onEvent ? { onEvent: extra.onEvent } : {}),
    logger,
  })
  cleanups.push(() => s.close())
  return s
}

const publish = (f: Fixture, kw: number, seq: number, topic = TOPIC): Promise<unknown> =>
  f.publisher.publishAsync(topic, JSON.stringify({ seq, samples: [{ ts: Date.now(), values: { active_power_kw: kw } }] }), { qos: 1 })

describe('alert service', () => {
  it('publishes on the alert channel, stores the event, calls onEvent, and retries a 500 webhook while a hanging one blocks nothing', async () => {
    const f = await fixture()
    const flaky = await webhook({ statuses: [500, 500] })
    const hanging = await webhook({ hang: true })
    const onEvent: AlertNotification[] = []
    const s = await service(f, {
      webhooks: [
        { url: hanging.url, timeoutMs: 300, maxAttempts: 2, initialBackoffMs: 20 },
        { url: flaky.url, timeoutMs: 2000, maxAttempts: 5, initialBackoffMs: 20 },
      ],
      onEvent: (n) => onEvent.push(n),
    })
    await publish(f, 150, 1)
    const opened = await waitFor('the opened alert on MQTT', () => f.alertsSeen.find((a) => a.n.event === 'opened'))
    expect(opened.topic).toBe('pw/v1/acme/wuhan/l1/main/alert')
    expect(opened.n).toMatchObject({
      type: 'alert',
      event: 'opened',
      state: 'firing',
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l1',
      device: 'main',
      deviceName: '总表 Incomer',
      rule: 'power-high',
      ruleKind: 'threshold',
      severity: 'critical',
      quantity: 'active_power_kw',
      value: 150,
      threshold: 100,
      expectedHigh: 100,
    })
    expect(opened.n.text).toEqual({
      zh: '[告警] 总表 Incomer (l1)：active_power_kw = 150，超过上限 100',
      en: '[alert] 总表 Incomer (l1): active_power_kw = 150, above the limit 100',
    })
    // Detection goes on while the hanging webhook holds its first attempt: back to normal → cleared.
    await publish(f, 50, 2)
    await waitFor('the cleared alert on MQTT', () => f.alertsSeen.find((a) => a.n.event === 'cleared'))
    expect(onEvent.map((n) => n.event)).toEqual(['opened', 'cleared'])
    // The flaky webhook got both after two 500s (3 attempts for the first, 1 for the second).
    await waitFor('both notifications at the flaky webhook', () => (flaky.received.length === 2 ? true : undefined))
    expect(flaky.received.map((n) => n.event)).toEqual(['opened', 'cleared'])
    expect(flaky.requests).toBe(4)
    // The hanging one: 2 attempts per notification, each cut off after 300 ms, then dropped.
    await s.flush()
    const [hangStats, flakyStats] = s.stats().webhooks
    expect(hangStats).toMatchObject({ url: hanging.url.split('?')[0], delivered: 0, failed: 2, attempts: 4, queued: 0 })
    expect(flakyStats).toMatchObject({ delivered: 2, retried: 2, failed: 0 })
    const stored = await loadAlerts(f.events, { start: 0, stop: Date.now() + 1 })
    expect(stored.map((a) => [a.rule, a.state, a.history.map((h) => h.event).join(',')])).toEqual([['power-high', 'resolved', 'opened,cleared']])
    expect(s.stats()).toMatchObject({ connected: true, samples: 2, badMessages: 0, openAlerts: 0, transitions: 2 })
  })

  it('honours an acknowledgement made through the event log (the API), and rebuilds open alerts after a restart', async () => {
    const f = await fixture()
    const first = await service(f)
    await publish(f, 150, 1)
    await waitFor('the opened alert', () => f.alertsSeen.find((a) => a.n.event === 'opened'))
    await first.flush()
    const [alert] = await loadAlerts(f.events, { start: 0, stop: Date.now() + 1 })
    if (!alert) throw new Error('no stored alert')
    // What POST /alerts/{id}/ack does: append an acknowledged event.
    await f.events.append([manualEvent(alert, 'acknowledged', { user: 'li.wei', comment: 'on it', ts: Date.now() })])
    await first.pollEvents()
    expect(first.openAlerts().map((a) => [a.id, a.state, a.acknowledgedBy])).toEqual([[alert.id, 'acknowledged', 'li.wei']])
    const ackMsg = await waitFor('the acknowledged notification', () => f.alertsSeen.find((a) => a.n.event === 'acknowledged'))
    expect(ackMsg.n).toMatchObject({ alertId: alert.id, user: 'li.wei', comment: 'on it', state: 'acknowledged' })
    // Acknowledging again in process is a conflict.
    const again = await first.acknowledge(alert.id, 'x').catch((e: unknown) => e)
    expect(isPlantWattError(again, 'ALERTS_ERR_STATE')).toBe(true)
    await first.close()

    const second = await service(f)
    expect(second.openAlerts().map((a) => [a.id, a.state])).toEqual([[alert.id, 'acknowledged']])
    // The restored alert resolves itself when the data is normal again: the same id, no new alert.
    await publish(f, 50, 2)
    const cleared = await waitFor('the cleared notification', () => f.alertsSeen.find((a) => a.n.event === 'cleared'))
    expect(cleared.n.alertId).toBe(alert.id)
    expect(f.alertsSeen.filter((a) => a.n.event === 'opened')).toHaveLength(1)
  })

  it('after a restart, a 1 s device already dead is offline after missed × interval (5 min), a 15-minute one after 75 min', async () => {
    const f = await fixture()
    // Before the restart: main reported every second for 30 s, pump every 15 minutes for 3 hours;
    // both stopped at T.
    const T = Date.now() - 10_000
    const at = (device: string, ts: number, seq: number) => ({
      measurement: 'telemetry',
      tags: { enterprise: 'acme', site: 'wuhan', line: 'l1', device },
      fields: { seq, active_power_kw: 50 },
      ts,
    })
    await f.store.write([
      ...Array.from({ length: 31 }, (_, i) => at('main', T - (30 - i) * 1000, i)),
      ...Array.from({ length: 13 }, (_, i) => at('pump', T - (12 - i) * 900_000, i)),
    ])
    let clock = T + 10_000
    const s = await startAlertService({
      mqtt: { url: f.broker.url, ...f.serviceCreds, reconnectPeriodMs: 100 },
      store: f.store,
      events: f.events,
      plant: PLANT,
      rules: [{ id: 'device-offline', kind: 'offline', interval: '1m', missed: 5 }],
      settings: { tickMs: 60_000, pollEventsMs: 60_000 },
      now: () => clock,
      logger,
    })
    cleanups.push(() => s.close())
    // [device, the offline limit in minutes (the alert's threshold)]
    const offline = () => s.openAlerts().map((a) => [a.address.device, a.threshold])
    // 4 min 59 s after the last sample: nothing yet.
    clock = T + 299_000
    s.tick()
    expect(offline()).toEqual([])
    // main's interval is 1 s (its stored gaps): 5 × max(1 min, 1 s) = 5 min. Before, 15 min was
    // assumed until a second sample: 5 × 15 min = 75 min.
    clock = T + 6 * 60_000
    s.tick()
    expect(offline()).toEqual([['main', 5]])
    // pump reports every 15 minutes: 5 × 15 min = 75 min.
    clock = T + 76 * 60_000
    s.tick()
    expect(offline()).toEqual([
      ['main', 5],
      ['pump', 75],
    ])
  })

  it('counts bad messages without stopping, and refuses to start on a bad rule config', async () => {
    // A broker that lets invalid payloads through (by default it dead-letters them itself).
    const f = await fixture({ validatePayloads: false })
    const s = await service(f)
    await f.publisher.publishAsync(TOPIC, 'not json', { qos: 1 })
    await publish(f, 150, 1)
    await waitFor('the opened alert', () => f.alertsSeen.find((a) => a.n.event === 'opened'))
    expect(s.stats().badMessages).toBe(1)
    const err = await startAlertService({
      mqtt: { url: f.broker.url },
      store: f.store,
      events: f.events,
      plant: PLANT,
      rules: [{ id: 'x', kind: 'threshold' }],
      logger,
    }).catch((e: unknown) => e)
    expect(isPlantWattError(err, 'ALERTS_ERR_CONFIG')).toBe(true)
    expect((err as { details: { path: string }[] }).details.map((d) => d.path).sort()).toEqual(['/rules/0/above', '/rules/0/quantity'])
  })
})
