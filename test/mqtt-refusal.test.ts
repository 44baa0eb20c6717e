import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { hashPassword, startBroker, type RunningBroker } from '../broker/index.ts'
import { startEdgeAgent, type RunningEdgeAgent } from '../edge-agent/index.ts'
import { build } from '../api/app.ts'
import { createStore } from '../storage/index.ts'
import type { EdgeConfig } from '../edge-agent/config.ts'

const logger = silentLogger()

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('a component the broker refuses says so', () => {
  let broker: RunningBroker | undefined
  let agent: RunningEdgeAgent | undefined
  afterAll(async () => {
    await agent?.close()
    await broker?.close()
  })

  it('an edge agent whose user may not publish for its devices: connected false across reconnects, EDGE_ERR_MQTT_PUBLISH_REFUSED, /health 503', async () => {
    const password = randomBytes(18).toString('base64url')
    broker = await startBroker(
      { port: 0, users: [{ username: 'gw-acme', passwordHash: await hashPassword(password), role: 'gateway', enterprise: 'acme', site: 'wuhan' }] },
      { logger },
    )
    // The user is a gateway of acme/wuhan; the device is another enterprise's: every publish is refused.
    const config = {
      agentId: 'edge',
      buffer: 'memory',
      statusIntervalMs: 10_000,
      devices: [
        {
          enterprise: 'other-co',
          site: 'x',
          line: 'l1',
          device: 'meter-1',
          driver: 'modbus',
          profile: 'eastron-sdm630',
          connection: { transport: 'tcp', host: '127.0.0.1', port: 1, unitId: 1, timeoutMs: 100 },
          pollIntervalMs: 1000,
        },
      ],
    } as unknown as EdgeConfig
    agent = await startEdgeAgent({ config, mqtt: { url: broker.url, username: 'gw-acme', password, keepaliveS: 30, reconnectPeriodMs: 200 }, logger })
    const running = agent
    const error = await waitFor('a refused publish', () => running.status().mqtt.lastConnectionError, 10_000)
    expect(error.code).toBe('EDGE_ERR_MQTT_PUBLISH_REFUSED')
    expect(error.message).toContain('pw/v1/other-co/x/l1/')
    expect(broker.stats().rejected).toBeGreaterThanOrEqual(1)

    // Each reconnect succeeds for a moment before the resent publish is refused again: the status
    // must not flicker to connected in between.
    const seen = new Set<boolean>()
    const until = Date.now() + 1500
    while (Date.now() < until) {
      seen.add(running.status().mqtt.connected)
      await new Promise((r) => setImmediate(r))
    }
    expect([...seen]).toEqual([false])
    expect(running.status().mqtt.disconnects).toBeGreaterThanOrEqual(2)
    expect(broker.stats().rejected).toBeGreaterThanOrEqual(2)

    const store = await createStore({ backend: 'embedded', path: ':memory:' })
    const api = await build({ store, status: () => ({ edge: running.status() }) })
    try {
      const res = await api.inject('/api/v1/health')
      expect(res.statusCode).toBe(503)
      const body = res.json() as { status: string; problems: { component: string; code: string; message: string }[] }
      expect(body.status).toBe('degraded')
      expect(body.problems).toEqual([expect.objectContaining({ component: 'edge', code: 'EDGE_ERR_MQTT_PUBLISH_REFUSED' })])
      expect(body.problems[0]?.message).toContain('waited for its PUBACK')
    } finally {
      await api.close()
      await store.close()
    }
  }, 30_000)
})
