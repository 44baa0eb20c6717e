import { createServer, type IncomingMessage, type Server } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../broker/server.ts'
import { hashPassword } from '../broker/password.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { openEventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { AlertNotification } from '../alerts/events.ts'
import { startAlertService } from '../alerts/service.ts'
import { SILENCE_KIND, silenceCreatedEvent } from '../alerts/silences.ts'

/**
 * The alert service as `plantwatt up` starts it (real broker with the service's ACL, embedded store
 * and event log, a local webhook): an alert raised under a silence reaches the webhook only when the
 * silence expires, once, with the held-back text; a restart afterwards does not send it again.
 */

const logger = silentLogger()
const PLANT = validateConfig(PlantModelSchema, {
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main', name: '总表 Incomer' }] }] }] }],
})
const RULES = [{ id: 'power-high', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '0', severity: 'critical' }]
const SCRYPT_FAST = { N: 1024, r: 8, p: 1 }

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('alert service and silences', () => {
  it('sends an alert held back by a silence when the silence expires, once, and not again after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-silence-svc-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const users = [
      { username: 'alerts', passwordHash: await hashPassword('alerts-pw', SCRYPT_FAST), role: 'service' as const },
      { username: 'gw', passwordHash: await hashPassword('gw-pw', SCRYPT_FAST), role: 'gateway' as const, enterprise: 'acme' },
    ]
    const broker = await startBroker({ host: '127.0.0.1', port: 0, users, anonymous: 'never' }, { logger })
    cleanups.push(() => broker.close())
    const path = join(dir, 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    const events = await openEventLog({ backend: 'embedded', path })
    cleanups.push(async () => {
      await events.close()
      await store.close()
    })
    const received: AlertNotification[] = []
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString('utf8')))
      req.on('end', () => {
        received.push(JSON.parse(body) as AlertNotification)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections()
          server.close(() => r())
        }),
    )
    const hook = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`
    const start = () =>
      startAlertService({
        mqtt: { url: broker.url, username: 'alerts', password: 'alerts-pw', reconnectPeriodMs: 100 },
        store,
        events,
        plant: PLANT,
        rules: RULES,
        webhooks: [{ url: hook }],
        settings: { tickMs: 100, pollEventsMs: 60_000 }, // re-reads far apart: the expiry timer must do it
        logger,
      })

    const t0 = Date.now()
    const silenceEnd = t0 + 2500
    await events.append([
      silenceCreatedEvent({
        id: 's-x-00000c',
        enterprise: 'acme',
        site: 'wuhan',
        line: 'l1',
        start: t0 - 60_000,
        end: silenceEnd,
        reason: '检修',
        createdBy: 'li-wei',
        createdAt: t0 - 60_000,
      }),
    ])
    const first = await start()
    const gw = await mqtt.connectAsync(broker.url, { username: 'gw', password: 'gw-pw', reconnectPeriod: 0 })
    cleanups.push(() => gw.endAsync(true))
    await gw.publishAsync('pw/v1/acme/wuhan/l1/main/data', JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { active_power_kw: 150 } }] }), {
      qos: 1,
    })
    await waitFor('the alert opened', () => (first.stats().openAlerts === 1 ? true : undefined))
    await first.flush()
    expect(received).toEqual([]) // held back
    expect(first.stats().silenced).toBe(1)

    const told = await waitFor('the held-back alert at the webhook', () => received[0], 8000)
    expect(Date.now()).toBeGreaterThanOrEqual(silenceEnd)
    expect(told).toMatchObject({ event: 'opened', state: 'firing', rule: 'power-high', device: 'main', value: 150 })
    expect(told.ts).toBeGreaterThanOrEqual(silenceEnd)
    // The service hands the plant's time zone to the notifier: the opening time is the plant's local time.
    const since = new Date(told.openedAt).toLocaleString('sv-SE', { timeZone: PLANT.timezone, hour12: false })
    expect(told.text.en).toBe(
      `[alert] 总表 Incomer (l1): active_power_kw = 150, above the limit 100 (held back by silence s-x-00000c since ${since} for under 1 min; the silence is over and the alert is still not acknowledged)`,
    )
    const releases = await events.query({ kind: SILENCE_KIND, filter: { event: 'released' } })
    expect(releases.map((e) => [e.tags.silence, e.fields.alert_id])).toEqual([['s-x-00000c', told.alertId]])

    await first.close()
    const second = await start()
    cleanups.push(() => second.close())
    await new Promise((r) => setTimeout(r, 500))
    await second.flush()
    expect(second.stats().openAlerts).toBe(1)
    expect(received).toHaveLength(1) // not again
  }, 30_000)
})
