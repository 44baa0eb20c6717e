import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { AlertNotification } from './events.ts'
import { WebhookSender } from './notify.ts'
import { validateAlertsConfig } from './rules.ts'

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
})

const note = (i: number, severity: AlertNotification['severity'] = 'warning'): AlertNotification => ({
  type: 'alert',
  event: 'opened',
  ts: i,
  alertId: `a${i}-x`,
  state: 'firing',
  enterprise: 'e',
  site: 's',
  line: 'l',
  device: 'd',
  deviceName: 'd',
  rule: 'r',
  ruleKind: 'threshold',
  severity,
  quantity: 'active_power_kw',
  value: i,
  threshold: 1,
  expectedLow: null,
  expectedHigh: 1,
  openedAt: i,
  user: '',
  comment: '',
  text: { zh: '', en: '' },
})

describe('webhook sender', () => {
  it('bounds its queue against an endpoint that never answers: oldest dropped, the rest time out, send() never waits', async () => {
    server = createServer(() => undefined) // accepts, never answers
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as { port: number }).port
    const { config } = validateAlertsConfig({
      webhooks: [{ url: `http://127.0.0.1:${port}/h`, timeoutMs: 200, maxAttempts: 1, queueSize: 2, minSeverity: 'warning' }],
    })
    const sender = new WebhookSender(config.webhooks)
    for (let i = 1; i <= 5; i++) sender.send(note(i))
    sender.send(note(6, 'info')) // below minSeverity: not queued
    // 1 (in flight), 2 and 3 were pushed out by 3, 4 and 5: queue [4, 5].
    expect(sender.stats()[0]).toMatchObject({ queued: 2, dropped: 3 })
    await sender.idle()
    // 1 timed out but was already counted as dropped; 4 and 5 time out: 3 attempts, 2 failed.
    expect(sender.stats()[0]).toMatchObject({ queued: 0, dropped: 3, attempts: 3, failed: 2, delivered: 0 })
    sender.close()
  })
})
