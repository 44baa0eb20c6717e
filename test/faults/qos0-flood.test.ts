import mqtt from 'mqtt'
import { expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { startBroker } from '../../broker/index.ts'
import { runLoad } from '../../bench/load.ts'

// Bare Aedes 1.2 dies here with "Maximum call stack size exceeded": when the stalled subscriber is
// cut, mqemitter drains its (unbounded) queue synchronously. The broker's routing gate bounds it.
it('QoS 0 flood into a subscriber that stopped reading: the broker stays up, memory bounded, it serves on', async () => {
  const broker = await startBroker({ port: 0, drainTimeoutMs: 1500, publishRate: { messagesPerS: 0 } }, { logger: silentLogger() })
  try {
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const timer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50)
    const r = await runLoad({ mode: 'flood', url: broker.url, publishers: 10, seconds: 4, payloadBytes: 200 })
    clearInterval(timer)
    const stats = broker.stats()
    // Not a speed check (that is bench/flood.ts): enough publishes to overfill what the stalled
    // subscriber's socket takes — heldForRouting > 0 shows the routing queue reached its bound.
    expect(r.sent).toBeGreaterThan(10_000)
    expect(stats.accepted).toBeGreaterThan(10_000)
    expect(stats.heldForRouting).toBeGreaterThan(0)
    expect((rssPeak - rssBefore) / 2 ** 20).toBeLessThan(300)
    // Still serving: a fresh subscriber gets a fresh message.
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'after-flood', reconnectPeriod: 0 })
    // What the flood left in the pipes may still arrive first.
    const got = new Promise<string>((resolve) => sub.on('message', (topic) => topic === 'pw/v1/a/b/c/d/data' && resolve(topic)))
    await sub.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'after-flood-pub', reconnectPeriod: 0 })
    await pub.publishAsync('pw/v1/a/b/c/d/data', JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 1), values: { active_power_kw: 1 } }] }), {
      qos: 1,
    })
    expect(await got).toBe('pw/v1/a/b/c/d/data')
    await Promise.all([sub.endAsync(true), pub.endAsync(true)])
  } finally {
    await broker.close()
  }
})
