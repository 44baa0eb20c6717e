import { spawn } from 'node:child_process'
import net from 'node:net'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedis } from '../test/redis.ts'
import { requireCommand } from '../test/system.ts'
import { hashPassword } from './password.ts'
import { startBroker, type BrokerConfigInput, type RunningBroker } from './server.ts'

/** Ingest's default client id has this shape (plantwatt-ingest-<hostname>): easy to guess. */
const INGEST_ID = 'plantwatt-ingest-plant-pc'
const payload = (seq: number): string => JSON.stringify({ seq, samples: [{ ts: Date.UTC(2025, 0, 6) + seq * 1000, values: { active_power_kw: seq } }] })

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

const secrets = { gwAcme: 'gw-acme-secret', gwBeta: 'gw-beta-secret', ingest: 'ingest-secret', svc: 'svc-secret' }
let users: BrokerConfigInput['users']
beforeAll(async () => {
  users = [
    { username: 'gw-acme', passwordHash: await hashPassword(secrets.gwAcme), role: 'gateway', enterprise: 'acme' },
    { username: 'gw-beta', passwordHash: await hashPassword(secrets.gwBeta), role: 'gateway', enterprise: 'beta' },
    { username: 'ingest', passwordHash: await hashPassword(secrets.ingest), role: 'ingest' },
    { username: 'svc', passwordHash: await hashPassword(secrets.svc), role: 'service' },
  ]
})

async function broker(over: BrokerConfigInput = {}): Promise<{ broker: RunningBroker; logs: LogLine[] }> {
  const logs: LogLine[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) })
  const b = await startBroker({ port: 0, users, sysIntervalMs: 0, ...over }, { logger })
  cleanups.push(() => b.close())
  return { broker: b, logs }
}

async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...opts })
  cleanups.push(() => c.endAsync(true))
  return c
}

/** The CONNACK return code a refused connection got (0: it was accepted). */
async function refusal(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    await c.endAsync(true)
    return 0
  } catch (err) {
    return (err as { code: number }).code
  }
}

async function publishAll(c: MqttClient, topic: string, from: number, to: number): Promise<void> {
  for (let seq = from; seq <= to; seq++) await c.publishAsync(topic, payload(seq), { qos: 1 })
}

/** Collects the seqs of pw/ messages a client receives. */
function received(c: MqttClient): { topic: string; seq: number }[] {
  const got: { topic: string; seq: number }[] = []
  c.on('message', (topic, body) => {
    if (topic.startsWith('pw/v1/')) got.push({ topic, seq: (JSON.parse(body.toString()) as { seq: number }).seq })
  })
  return got
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const ACME = 'pw/v1/acme/wuhan/line-1/meter-1/data'
const BETA = 'pw/v1/beta/xiangyang/line-1/meter-1/data'

/** Ingest's persistent session with messages of both enterprises queued while it is away. */
async function ingestAway(url: string): Promise<void> {
  const ingest = await connect(url, { clientId: INGEST_ID, clean: false, username: 'ingest', password: secrets.ingest })
  await ingest.subscribeAsync('pw/#', { qos: 1 })
  await ingest.endAsync()
  const acme = await connect(url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
  const beta = await connect(url, { clientId: 'gw-beta-1', username: 'gw-beta', password: secrets.gwBeta })
  await publishAll(acme, ACME, 1, 3)
  await publishAll(beta, BETA, 1, 3)
}

describe('a client id belongs to the user that first used it', () => {
  it("refuses a gateway that takes ingest's client id (CONNACK 2): nothing of another enterprise is read, nothing is lost", async () => {
    const { broker: b, logs } = await broker()
    await ingestAway(b.url)
    // The attack of the probe: beta's gateway connects with ingest's id and clean=false.
    expect(await refusal(b.url, { clientId: INGEST_ID, clean: false, username: 'gw-beta', password: secrets.gwBeta })).toBe(2)
    // A clean session with that id is refused too (it would wipe ingest's queue).
    expect(await refusal(b.url, { clientId: INGEST_ID, clean: true, username: 'gw-beta', password: secrets.gwBeta })).toBe(2)
    expect(b.stats()).toMatchObject({ takeoversRefused: 2 })
    const warn = logs.find((l) => l.code === 'BROKER_ERR_CLIENT_ID_TAKEN')
    expect(warn).toMatchObject({ clientId: INGEST_ID, identity: 'user:gw-beta', owner: 'user:ingest' })
    // Ingest comes back and gets all six queued samples, of both enterprises.
    const ingest = await mqtt.connectAsync(b.url, {
      clientId: INGEST_ID,
      clean: false,
      username: 'ingest',
      password: secrets.ingest,
      reconnectPeriod: 0,
      manualConnect: false,
    })
    cleanups.push(() => ingest.endAsync(true))
    const got = received(ingest)
    await waitFor('the queued messages', () => got.length >= 6)
    expect(got.map((m) => `${m.topic.split('/')[2]}:${m.seq}`).sort()).toEqual(['acme:1', 'acme:2', 'acme:3', 'beta:1', 'beta:2', 'beta:3'])
  })

  it('does not disconnect the owner when another user tries its id', async () => {
    const { broker: b } = await broker()
    const ingest = await connect(b.url, { clientId: INGEST_ID, clean: false, username: 'ingest', password: secrets.ingest })
    let closed = 0
    ingest.on('close', () => closed++)
    await ingest.subscribeAsync('pw/#', { qos: 1 })
    expect(await refusal(b.url, { clientId: INGEST_ID, clean: false, username: 'svc', password: secrets.svc })).toBe(2)
    const acme = await connect(b.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
    const got = received(ingest)
    await publishAll(acme, ACME, 1, 2)
    await waitFor('live delivery', () => got.length >= 2)
    expect(closed).toBe(0)
    expect(ingest.connected).toBe(true)
  })

  it('lets the owner resume its own session from a new connection', async () => {
    const { broker: b } = await broker()
    const first = await connect(b.url, { clientId: 'svc-1', clean: false, username: 'svc', password: secrets.svc })
    await first.subscribeAsync('pw/#', { qos: 1 })
    const second = await mqtt.connectAsync(b.url, { clientId: 'svc-1', clean: false, username: 'svc', password: secrets.svc, reconnectPeriod: 0 })
    cleanups.push(() => second.endAsync(true))
    expect(second.connected).toBe(true)
    await waitFor('the first connection replaced', () => !first.connected)
    expect(b.stats().takeoversRefused).toBe(0)
  })

  it('frees a clean session id at disconnect', async () => {
    const { broker: b } = await broker()
    const c = await connect(b.url, { clientId: 'shared-name', clean: true, username: 'svc', password: secrets.svc })
    await c.endAsync()
    await waitFor('the disconnect seen', () => b.stats().clients === 0)
    expect(await refusal(b.url, { clientId: 'shared-name', clean: true, username: 'gw-acme', password: secrets.gwAcme })).toBe(0)
  })

  it("refuses mosquitto_sub (a third-party client) taking ingest's session", async () => {
    requireCommand('mosquitto_sub', 'mosquitto-clients')
    const { broker: b } = await broker()
    await ingestAway(b.url)
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn('mosquitto_sub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(b.port),
        '-i',
        INGEST_ID,
        '-c',
        '-q',
        '1',
        '-t',
        'pw/#',
        '-u',
        'gw-beta',
        '-P',
        secrets.gwBeta,
        '-C',
        '1',
        '-W',
        '3',
        '-v',
      ])
      let text = ''
      child.stdout.on('data', (d: Buffer) => (text += d.toString()))
      child.stderr.on('data', (d: Buffer) => (text += d.toString()))
      child.on('exit', (code) => resolve({ code, text }))
    })
    expect(out.code).not.toBe(0)
    expect(out.text).toMatch(/identifier rejected/i)
    expect(out.text).not.toMatch(/pw\/v1/)
  })
})

describe('session queues are bounded and sessions expire', () => {
  it('drops what exceeds a session queue, counts it per session, and delivers what was kept in order', async () => {
    const { broker: b } = await broker({ sessions: { client: { maxQueuedMessages: 50 } } })
    const svc = await connect(b.url, { clientId: 'svc-away', clean: false, username: 'svc', password: secrets.svc })
    await svc.subscribeAsync('pw/#', { qos: 1 })
    await svc.endAsync()
    const acme = await connect(b.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
    await publishAll(acme, ACME, 1, 120)
    const stats = b.stats()
    expect(stats.queueDropped).toBe(70)
    expect(stats.sessions).toEqual([
      expect.objectContaining({ clientId: 'svc-away', identity: 'user:svc', role: 'service', connected: false, queued: 50, dropped: 70 }),
    ])
    expect(stats.sessions[0]?.expiresInS).toBeGreaterThan(3590)
    let bytes = 0
    for (let seq = 51; seq <= 120; seq++) bytes += ACME.length + payload(seq).length
    expect(stats.sessions[0]?.droppedBytes).toBe(bytes)
    const back = await mqtt.connectAsync(b.url, { clientId: 'svc-away', clean: false, username: 'svc', password: secrets.svc, reconnectPeriod: 0 })
    cleanups.push(() => back.endAsync(true))
    const got = received(back)
    await waitFor('the kept messages', () => got.length >= 50)
    await new Promise((r) => setTimeout(r, 200))
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
  })

  it('bounds a queue by bytes too', async () => {
    const { broker: b } = await broker({ sessions: { client: { maxQueuedBytes: 10 * (ACME.length + payload(10).length) } } })
    const svc = await connect(b.url, { clientId: 'svc-away', clean: false, username: 'svc', password: secrets.svc })
    await svc.subscribeAsync('pw/#', { qos: 1 })
    await svc.endAsync()
    const acme = await connect(b.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
    await publishAll(acme, ACME, 10, 29)
    expect(b.stats().sessions[0]).toMatchObject({ queued: 10, dropped: 10 })
  })

  it("gives ingest's session the larger queue", async () => {
    const { broker: b } = await broker({ sessions: { client: { maxQueuedMessages: 5 }, ingest: { maxQueuedMessages: 40 } } })
    await ingestAway(b.url)
    const acme = await connect(b.url, { clientId: 'gw-acme-2', username: 'gw-acme', password: secrets.gwAcme })
    await publishAll(acme, ACME, 4, 40)
    // 3 + 3 before, 37 now: 43 for a queue of 40.
    expect(b.stats().sessions).toEqual([expect.objectContaining({ clientId: INGEST_ID, role: 'ingest', queued: 40, dropped: 3 })])
  })

  it('removes an offline persistent session after its expiry, queue and id included', async () => {
    const { broker: b, logs } = await broker({ sessions: { client: { expiryS: 1 }, sweepIntervalMs: 100 } })
    const svc = await connect(b.url, { clientId: 'svc-gone', clean: false, username: 'svc', password: secrets.svc })
    await svc.subscribeAsync('pw/#', { qos: 1 })
    await svc.endAsync()
    const acme = await connect(b.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
    await publishAll(acme, ACME, 1, 5)
    await waitFor('the expiry', () => b.stats().sessionsExpired === 1, 5000)
    expect(logs.find((l) => l.code === 'BROKER_ERR_SESSION_EXPIRED')).toMatchObject({ clientId: 'svc-gone', messages: 5 })
    // The id is free again: another user may take it, and finds no session and nothing queued.
    const other = await mqtt.connectAsync(b.url, { clientId: 'svc-gone', clean: false, username: 'gw-acme', password: secrets.gwAcme, reconnectPeriod: 0 })
    cleanups.push(() => other.endAsync(true))
    const got = received(other)
    await new Promise((r) => setTimeout(r, 300))
    expect(got).toEqual([])
    expect(b.stats().sessions).toEqual([])
  })
})

describe('failed logins', () => {
  /** A client that connects from another loopback address (127.0.0.0/8 is all this machine). */
  function fromAddress(broker: RunningBroker, localAddress: string, opts: IClientOptions): Promise<number> {
    return new Promise((resolve) => {
      const c = new mqtt.MqttClient(() => net.createConnection({ host: '127.0.0.1', port: broker.port, localAddress }), {
        reconnectPeriod: 0,
        protocolVersion: 4,
        ...opts,
      })
      c.once('connect', () => {
        c.end(true)
        resolve(0)
      })
      c.once('error', (err) => {
        c.end(true)
        resolve((err as { code?: number }).code ?? -1)
      })
    })
  }

  it('throttles an address after repeated failures without scrypt work, and the right password works after the wait', async () => {
    const { broker: b, logs } = await broker({ loginThrottle: { addressFailures: 3, maxBlockS: 1 } })
    for (let i = 0; i < 3; i++) expect(await refusal(b.url, { clientId: `x${i}`, username: 'svc', password: 'wrong' })).toBe(4)
    // Now even the right password waits (answered at once, CONNACK 5)…
    const t0 = performance.now()
    expect(await refusal(b.url, { clientId: 'x3', username: 'svc', password: secrets.svc })).toBe(5)
    expect(performance.now() - t0).toBeLessThan(40)
    expect(logs.some((l) => /BROKER_ERR_LOGIN_THROTTLED/.test(l.msg))).toBe(true)
    expect(b.stats().loginsThrottled).toBe(1)
    // …while another address is not held up,
    expect(await fromAddress(b, '127.0.0.2', { clientId: 'y', username: 'svc', password: secrets.svc })).toBe(0)
    // and after the wait (1 s here) the right password works again from the first address.
    await new Promise((r) => setTimeout(r, 1100))
    expect(await refusal(b.url, { clientId: 'x4', username: 'svc', password: secrets.svc })).toBe(0)
  })

  it('keeps a real connect fast during a flood of 500 wrong passwords at concurrency 100', async () => {
    const { broker: b } = await broker()
    // The gateway has logged in from its address before.
    expect(await fromAddress(b, '127.0.0.3', { clientId: 'gw-acme-real', username: 'gw-acme', password: secrets.gwAcme })).toBe(0)
    let flooded = 0
    const flood = async (): Promise<void> => {
      while (flooded < 500) {
        flooded++
        await refusal(b.url, { clientId: `f${flooded}`, username: 'gw-acme', password: 'guess' })
      }
    }
    const attackers = Promise.all(Array.from({ length: 100 }, flood))
    await waitFor('the flood under way', () => flooded >= 200, 20_000)
    const t0 = performance.now()
    // The gateway connects from its own address (where it logged in before the attack too).
    expect(await fromAddress(b, '127.0.0.3', { clientId: 'gw-acme-real', username: 'gw-acme', password: secrets.gwAcme })).toBe(0)
    const ms = performance.now() - t0
    await attackers
    // The attack from one address did not lock the user out anywhere else.
    expect(await fromAddress(b, '127.0.0.4', { clientId: 'gw-acme-new', username: 'gw-acme', password: secrets.gwAcme })).toBe(0)
    const s = b.stats()
    console.log(
      `login flood: real gateway connected in ${ms.toFixed(0)} ms during 500 wrong passwords at concurrency 100; ${500 - s.loginsThrottled} password checks for them, ${s.loginsThrottled} answered without one`,
    )
    // A handful of password checks for the attacking address (5, then one a second as the waits end),
    // the rest answered without one.
    expect(500 - s.loginsThrottled).toBeLessThanOrEqual(10)
    expect(s.authFailures).toBe(500)
    // One scrypt (~50 ms) plus the handshake; the probe measured 2.5 s before throttling.
    expect(ms).toBeLessThan(1000)
  })
})

describe('in a cluster', () => {
  it('refuses the takeover on another node, and delivers queued messages only through the current ACL', async () => {
    const redis = await startRedis()
    cleanups.push(() => redis.stop())
    const cluster = { redisUrl: redis.url }
    const { broker: a } = await broker({ cluster: { ...cluster, brokerId: 'node-a' } })
    const { broker: nodeB } = await broker({ cluster: { ...cluster, brokerId: 'node-b' } })
    const ingest = await connect(a.url, { clientId: INGEST_ID, clean: false, username: 'ingest', password: secrets.ingest })
    await ingest.subscribeAsync('pw/#', { qos: 1 })
    expect(await refusal(nodeB.url, { clientId: INGEST_ID, clean: false, username: 'gw-beta', password: secrets.gwBeta })).toBe(2)
    expect(nodeB.stats().takeoversRefused).toBe(1)
    expect(ingest.connected).toBe(true)

    // svc's persistent session queues data; the broker restarts with svc now a gateway of acme
    // (a role change): the queued data topics are not delivered to it.
    const svc = await connect(a.url, { clientId: 'svc-roles', clean: false, username: 'svc', password: secrets.svc })
    await svc.subscribeAsync('pw/#', { qos: 1 })
    await svc.endAsync()
    const acme = await connect(a.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: secrets.gwAcme })
    await publishAll(acme, ACME, 1, 3)
    await a.close()
    await nodeB.close()
    const changed = (users ?? []).map((u) => (u.username === 'svc' ? { ...u, role: 'gateway' as const, enterprise: 'acme' } : u))
    const { broker: c } = await broker({ users: changed, cluster: { ...cluster, brokerId: 'node-c' } })
    const back = await mqtt.connectAsync(c.url, { clientId: 'svc-roles', clean: false, username: 'svc', password: secrets.svc, reconnectPeriod: 0 })
    cleanups.push(() => back.endAsync(true))
    const got = received(back)
    await waitFor('the refused deliveries', () => c.stats().deliveriesRefused >= 3)
    expect(got).toEqual([])
  })
})
