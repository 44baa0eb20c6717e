import net from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeadLetter } from '../core/dead-letter.ts'
import { silentLogger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { startBroker, type RunningBroker, type StartBrokerOptions } from './server.ts'

const logger = silentLogger()
const TOPIC = 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/data'
const VALID = JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 6), values: { active_power_kw: 412.5 } }] })

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function broker(
  over: Partial<{ maxPayloadBytes: number; validatePayloads: boolean; sysIntervalMs: number }> = {},
  opts: StartBrokerOptions = {},
): Promise<RunningBroker> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 1024, validatePayloads: true, ...over }, { logger, ...opts })
  cleanups.push(() => b.close())
  return b
}

async function client(url: string, clientId = `c-${Math.random().toString(16).slice(2)}`): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 })
  cleanups.push(() => c.endAsync(true))
  return c
}

interface Received {
  topic: string
  payload: string
}

async function subscriber(url: string, filters: string[]): Promise<Received[]> {
  const c = await client(url)
  const received: Received[] = []
  c.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }))
  await c.subscribeAsync(filters, { qos: 1 })
  return received
}

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Publishes QoS 1 and reports whether the broker acknowledged it or closed the connection. */
async function publishOutcome(c: MqttClient, topic: string, payload: string | Buffer): Promise<'acknowledged' | 'closed'> {
  return new Promise((resolve) => {
    c.once('close', () => resolve('closed'))
    c.publish(topic, payload, { qos: 1 }, (err) => {
      if (!err) resolve('acknowledged')
    })
  })
}

describe('broker', () => {
  it('routes valid telemetry as sent and counts it', async () => {
    const b = await broker()
    expect(b.url).toBe(`mqtt://127.0.0.1:${b.port}`)
    expect(b.port).toBeGreaterThan(0)
    const received = await subscriber(b.url, ['pw/#'])
    const pub = await client(b.url)
    await pub.publishAsync(TOPIC, VALID, { qos: 1 })
    await pub.publishAsync('pw/v1/hb-steel/wuhan/rolling-1/main-meter/state', '{"online":true}', { qos: 1, retain: true })
    await waitFor('two messages', () => (received.length === 2 ? true : undefined))
    expect(received).toEqual([
      { topic: TOPIC, payload: VALID },
      { topic: 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/state', payload: '{"online":true}' },
    ])
    expect(b.stats()).toMatchObject({ accepted: 2, diverted: 0, rejected: 0, clients: 2 })
  })

  it.each([
    ['not JSON', TOPIC, 'not json', 'CORE_ERR_PAYLOAD_JSON'],
    [
      'a string where a number belongs',
      TOPIC,
      JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 6), values: { active_power_kw: 'high' } }] }),
      'CORE_ERR_PAYLOAD_SCHEMA',
    ],
    ['an unknown quantity', TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 6), values: { watts: 1 } }] }), 'CORE_ERR_QUANTITY_UNKNOWN'],
    ['an oversize payload', TOPIC, 'x'.repeat(2000), 'CORE_ERR_PAYLOAD_SIZE'],
    ['an empty level', 'pw/v1//x/y/z/data', VALID, 'CORE_ERR_TOPIC'],
    ['an upper-case level', 'pw/v1/HB/wuhan/rolling-1/main-meter/data', VALID, 'CORE_ERR_TOPIC'],
    ['a level with a space', 'pw/v1/hb-steel/wu han/rolling-1/main-meter/data', VALID, 'CORE_ERR_TOPIC'],
    ['an unknown channel', 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/telemetry', VALID, 'CORE_ERR_TOPIC'],
    ['another version', 'pw/v2/hb-steel/wuhan/rolling-1/main-meter/data', VALID, 'CORE_ERR_TOPIC'],
  ])('diverts %s to the dead-letter topic and acknowledges the sender', async (_what, topic, payload, reason) => {
    const b = await broker()
    const plant = await subscriber(b.url, ['pw/v1/#'])
    const dead = await subscriber(b.url, [DEAD_LETTER_TOPIC])
    const pub = await client(b.url)
    expect(await publishOutcome(pub, topic, payload)).toBe('acknowledged')
    await waitFor('the dead letter', () => (dead.length === 1 ? true : undefined))
    const letter = JSON.parse(dead[0]!.payload) as DeadLetter
    expect(letter).toMatchObject({ reason, topic, source: 'broker', payloadBytes: Buffer.byteLength(payload), payload })
    expect(letter.message.length).toBeGreaterThan(0)
    expect(Math.abs(letter.ts - Date.now())).toBeLessThan(5000)
    // The sender goes on publishing on the same connection.
    await pub.publishAsync(TOPIC, VALID, { qos: 1 })
    await waitFor('the valid message', () => (plant.length === 1 ? true : undefined))
    expect(plant).toEqual([{ topic: TOPIC, payload: VALID }])
    expect(b.stats()).toMatchObject({ accepted: 1, diverted: 1, rejected: 0, divertedByReason: { [reason]: 1 } })
  })

  it('counts messages in and out and refusals, and publishes the counters on $SYS/{id}/plantwatt/stats', async () => {
    const b = await broker({ sysIntervalMs: 30 })
    expect(b.sysTopic).toMatch(/^\$SYS\/[^/]+\/plantwatt\/stats$/)
    // Two subscribers of the telemetry: each accepted data message goes out twice.
    await subscriber(b.url, ['pw/v1/#'])
    await subscriber(b.url, ['pw/v1/#'])
    const pub = await client(b.url)
    await pub.publishAsync(TOPIC, VALID, { qos: 1 })
    await pub.publishAsync(TOPIC, VALID, { qos: 1 })
    // Diverted to pw/dead-letter, which nobody here subscribes to: in 1, out 0.
    await pub.publishAsync(TOPIC, 'not json', { qos: 1 })
    // Refused: the connection is closed.
    expect(await publishOutcome(await client(b.url), '$SYS/forged', 'x')).toBe('closed')
    // in = 2 + 1 + 1 = 4; out = 2 accepted × 2 subscribers = 4
    await waitFor('4 out', () => (b.stats().messagesOut === 4 ? true : undefined))
    expect(b.stats()).toMatchObject({ messagesIn: 4, messagesOut: 4, accepted: 2, diverted: 1, rejected: 1, clients: 3 })
    // An admin (loopback anonymous here) reads the $SYS counters, published every 30 ms here.
    const admin = await client(b.url)
    const seen: Record<string, unknown>[] = []
    admin.on('message', (topic, payload) => {
      if (topic === b.sysTopic) seen.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>)
    })
    await admin.subscribeAsync('$SYS/+/plantwatt/stats', { qos: 0 })
    const stats = await waitFor('stats on $SYS', () => seen.find((s) => s.messagesIn === 4))
    expect(stats).toMatchObject({
      messagesIn: 4,
      accepted: 2,
      diverted: 1,
      rejected: 1,
      divertedByReason: { CORE_ERR_PAYLOAD_JSON: 1 },
      refusedConnections: 0,
      authFailures: 0,
    })
    // Every $SYS message delivered to the admin is a PUBLISH out too: out only grows past 4.
    expect(stats.messagesOut as number).toBeGreaterThanOrEqual(4)
    expect(typeof stats.brokerId).toBe('string')
  })

  it('cuts the payload copy of a dead letter to 64 KiB and never retains it', async () => {
    const b = await broker({ maxPayloadBytes: 100 * 1024 })
    const pub = await client(b.url)
    await pub.publishAsync(TOPIC, Buffer.alloc(80 * 1024, 0x41), { qos: 1, retain: true })
    const dead = await subscriber(b.url, [DEAD_LETTER_TOPIC])
    const live = await subscriber(b.url, [DEAD_LETTER_TOPIC])
    await pub.publishAsync(TOPIC, Buffer.alloc(80 * 1024, 0x42), { qos: 1 })
    await waitFor('the dead letter', () => (dead.length >= 1 && live.length >= 1 ? true : undefined))
    // The first (retained) publish was diverted unretained: late subscribers see only the second.
    expect(dead).toHaveLength(1)
    const letter = JSON.parse(dead[0]!.payload) as DeadLetter
    expect(letter).toMatchObject({ reason: 'CORE_ERR_PAYLOAD_JSON', payloadBytes: 80 * 1024 })
    expect(letter.payload).toBe('B'.repeat(64 * 1024))
  })

  it.each([
    ['$SYS/x', 'BROKER_ERR_TOPIC_RESERVED'],
    ['$share/x', 'BROKER_ERR_TOPIC_RESERVED'],
    [DEAD_LETTER_TOPIC, 'BROKER_ERR_TOPIC_RESERVED'],
    ['factory/meter-1', 'BROKER_ERR_TOPIC_NAMESPACE'],
  ])('refuses a publish to %s and closes that connection only', async (topic) => {
    const b = await broker()
    const received = await subscriber(b.url, ['#', '$SYS/x', DEAD_LETTER_TOPIC])
    const hostile = await client(b.url)
    expect(await publishOutcome(hostile, topic, VALID)).toBe('closed')
    const other = await client(b.url)
    await other.publishAsync(TOPIC, VALID, { qos: 1 })
    await waitFor('the valid message', () => (received.length >= 1 ? true : undefined))
    expect(received).toEqual([{ topic: TOPIC, payload: VALID }])
    expect(b.stats()).toMatchObject({ rejected: 1, accepted: 1, diverted: 0 })
  })

  it('passes invalid payloads through when validatePayloads is off, topics still checked', async () => {
    const b = await broker({ validatePayloads: false })
    const received = await subscriber(b.url, ['pw/#'])
    const pub = await client(b.url)
    await pub.publishAsync(TOPIC, 'not json', { qos: 1 })
    await pub.publishAsync('pw/v1/UPPER/wuhan/rolling-1/main-meter/data', VALID, { qos: 1 })
    await waitFor('two messages', () => (received.length === 2 ? true : undefined))
    expect(received[0]).toEqual({ topic: TOPIC, payload: 'not json' })
    expect(received[1]?.topic).toBe(DEAD_LETTER_TOPIC)
    expect(JSON.parse(received[1]!.payload)).toMatchObject({ reason: 'CORE_ERR_TOPIC' })
  })

  it('closes a connection whose packet exceeds four times maxPayloadBytes before reading it whole', async () => {
    const b = await broker({ maxPayloadBytes: 1024 })
    const received = await subscriber(b.url, ['pw/#'])
    const huge = await client(b.url)
    expect(await publishOutcome(huge, TOPIC, Buffer.alloc(200 * 1024, 0x20))).toBe('closed')
    expect(b.stats().oversizePackets).toBe(1)
    const pub = await client(b.url)
    await pub.publishAsync(TOPIC, VALID, { qos: 1 })
    await waitFor('the valid message', () => (received.length === 1 ? true : undefined))
    expect(received[0]?.payload).toBe(VALID)
  })

  it('accepts client ids longer than 23 characters ([MQTT-3.1.3-5] allows it)', async () => {
    const b = await broker()
    const c = await client(b.url, 'plantwatt-ingest-a-rather-long-host-name-01')
    expect(c.connected).toBe(true)
  })

  it('uses the injected authenticate and authorizeSubscribe functions', async () => {
    const b = await broker(
      {},
      {
        authenticate: ({ username, password }) => username === 'edge' && password?.toString() === 'secret',
        authorizeSubscribe: ({ topic }) => topic.startsWith('pw/v1/'),
      },
    )
    await expect(mqtt.connectAsync(b.url, { clientId: 'intruder', username: 'edge', password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i)
    const ok = await mqtt.connectAsync(b.url, { clientId: 'edge-1', username: 'edge', password: 'secret', reconnectPeriod: 0 })
    cleanups.push(() => ok.endAsync(true))
    const granted = await ok.subscribeAsync('pw/v1/#', { qos: 1 })
    expect(granted.map((g) => [g.topic, g.qos])).toEqual([['pw/v1/#', 1]])
    // [MQTT-3.9.3] a refused subscription is granted 0x80, which mqtt.js reports as an error.
    await expect(ok.subscribeAsync('$SYS/#', { qos: 1 })).rejects.toThrow(/Subscribe error/)
    expect(ok.connected).toBe(true)
  })

  it('refuses shared subscriptions ($share/, $queue/) it cannot serve, instead of granting a filter that never matches', async () => {
    const b = await broker()
    const c = await client(b.url, 'would-share')
    await expect(c.subscribeAsync('$share/ingest/pw/v1/+/+/+/+/data', { qos: 1 })).rejects.toThrow(/Subscribe error/)
    await expect(c.subscribeAsync('$queue/pw/v1/+/+/+/+/data', { qos: 1 })).rejects.toThrow(/Subscribe error/)
    expect(b.stats().refusedSubscriptions).toBe(2)
    // The plain filter still works on the same connection.
    const granted = await c.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    expect(granted.map((g) => g.qos)).toEqual([1])
    expect(c.connected).toBe(true)
  })

  it('close() disconnects clients and frees the port', async () => {
    const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 1024, validatePayloads: true }, { logger })
    const c = await mqtt.connectAsync(b.url, { clientId: 'to-be-dropped', reconnectPeriod: 0 })
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    await b.close()
    await closed
    await b.close()
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(b.port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    expect(refused).toBe('ECONNREFUSED')
    await c.endAsync(true)
  })

  it('fails with BROKER_ERR_LISTEN when the port is taken', async () => {
    const b = await broker()
    await expect(startBroker({ host: '127.0.0.1', port: b.port, maxPayloadBytes: 1024, validatePayloads: true }, { logger })).rejects.toMatchObject({
      code: 'BROKER_ERR_LISTEN',
    })
  })
})
