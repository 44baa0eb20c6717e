import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startScript, type ChildScript } from './child.ts'
import { startRedis, type RunningRedis } from './redis.ts'

/** Two broker processes sharing one real redis-server (mqemitter-redis + aedes-persistence-redis). */
let redis: RunningRedis
const nodes: ChildScript[] = []
const clients: MqttClient[] = []

async function startNode(id: string, port = 0): Promise<{ node: ChildScript; url: string }> {
  const node = await startScript('broker-process.ts', { PW_BROKER_CONFIG: JSON.stringify({ port, cluster: { redisUrl: redis.url, brokerId: id } }) })
  nodes.push(node)
  return { node, url: node.ready.url as string }
}

async function client(url: string, clientId: string, clean = true): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId, clean, reconnectPeriod: 0 })
  clients.push(c)
  return c
}

function message(seq: number): string {
  return JSON.stringify({ seq, samples: [{ ts: Date.UTC(2025, 0, 6) + seq * 1000, values: { active_power_kw: seq } }] })
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

beforeAll(async () => {
  redis = await startRedis()
})

afterAll(async () => {
  for (const c of clients) await c.endAsync(true)
  for (const n of nodes) await n.kill('SIGKILL')
  await redis?.stop()
})

describe('broker cluster through Redis', () => {
  it('delivers across nodes, and a persistent QoS 1 session survives a SIGKILL of its node', async () => {
    const a = await startNode('node-a')
    const b = await startNode('node-b')
    const topic = 'pw/v1/acme/wuhan/l1/m1/data'

    // Live routing: subscribed on A, published on B.
    const live = await client(a.url, 'live-sub')
    const seen: number[] = []
    live.on('message', (_t, p) => seen.push((JSON.parse(p.toString()) as { seq: number }).seq))
    await live.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    const pub = await client(b.url, 'publisher')
    await pub.publishAsync(topic, message(1), { qos: 1 })
    await waitFor('cross-node delivery', () => (seen.length === 1 ? true : undefined))
    expect(seen).toEqual([1])

    // A persistent session made on A, offline while B takes 20 messages.
    const durable = await client(a.url, 'durable-ingest', false)
    await durable.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    await durable.endAsync()
    for (let seq = 2; seq <= 21; seq++) await pub.publishAsync(topic, message(seq), { qos: 1 })

    // Node A dies hard and comes back on the same port; the session is in Redis, not in A.
    const port = Number(new URL(a.url).port)
    await a.node.kill('SIGKILL')
    const again = await startNode('node-a', port)
    const back: number[] = []
    const resumed = mqtt.connect(again.url, { clientId: 'durable-ingest', clean: false, reconnectPeriod: 0 })
    clients.push(resumed)
    const sessionPresent = await new Promise<boolean>((resolve) => resumed.once('connect', (ack) => resolve(ack.sessionPresent)))
    resumed.on('message', (_t, p) => back.push((JSON.parse(p.toString()) as { seq: number }).seq))
    expect(sessionPresent).toBe(true)
    await waitFor('the queued messages', () => (back.length >= 20 ? true : undefined))
    // QoS 1 is at least once: a redelivery may repeat one (ingest writes idempotently); none may be missing.
    expect([...new Set(back)].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2))

    // The session also moves to the other node.
    await resumed.endAsync()
    await pub.publishAsync(topic, message(22), { qos: 1 })
    const moved = mqtt.connect(b.url, { clientId: 'durable-ingest', clean: false, reconnectPeriod: 0 })
    clients.push(moved)
    const onB: number[] = []
    moved.on('message', (_t, p) => onB.push((JSON.parse(p.toString()) as { seq: number }).seq))
    await waitFor('the message queued for the moved session', () => (onB.length >= 1 ? true : undefined))
    expect([...new Set(onB)]).toEqual([22])
  })
})
