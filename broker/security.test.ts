import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { requireCommand } from '../test/system.ts'
import { hashPassword } from './password.ts'
import { startBroker, type BrokerConfigInput, type RunningBroker } from './server.ts'

const TOPIC = 'pw/v1/acme/wuhan/rolling-1/main-meter/data'
const VALID = JSON.stringify({ seq: 1, samples: [{ ts: Date.UTC(2025, 0, 6), values: { active_power_kw: 412.5 } }] })

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

let users: BrokerConfigInput['users']
beforeAll(async () => {
  users = [
    { username: 'gw-acme-wuhan', passwordHash: await hashPassword('gw-secret'), role: 'gateway', enterprise: 'acme', site: 'wuhan' },
    { username: 'ingest', passwordHash: await hashPassword('ingest-secret'), role: 'ingest' },
  ]
})

async function broker(over: BrokerConfigInput = {}): Promise<{ broker: RunningBroker; logs: LogLine[] }> {
  const logs: LogLine[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) })
  const b = await startBroker({ port: 0, users, ...over }, { logger })
  cleanups.push(() => b.close())
  return { broker: b, logs }
}

async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `c-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0, ...opts })
  cleanups.push(() => c.endAsync(true))
  return c
}

/** The CONNACK return code a refused connection got. */
async function refusal(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, { clientId: 'refused', reconnectPeriod: 0, ...opts })
    await c.endAsync(true)
    return 0
  } catch (err) {
    return (err as { code: number }).code
  }
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

describe('broker authentication', () => {
  it('answers bad credentials with CONNACK 4, anonymous clients with 5 once users exist, and logs each refusal', async () => {
    const { broker: b, logs } = await broker()
    expect(await refusal(b.url, { username: 'gw-acme-wuhan', password: 'wrong' })).toBe(4)
    expect(await refusal(b.url, { username: 'nobody', password: 'gw-secret' })).toBe(4)
    expect(await refusal(b.url, {})).toBe(5)
    const ok = await connect(b.url, { username: 'gw-acme-wuhan', password: 'gw-secret' })
    expect(ok.connected).toBe(true)
    expect(b.stats()).toMatchObject({ authFailures: 3, clients: 1 })
    const refusals = logs.filter((l) => /connection refused/.test(l.msg))
    expect(refusals.map((l) => [l.username, l.returnCode])).toEqual([
      ['gw-acme-wuhan', 4],
      ['nobody', 4],
      [undefined, 5],
    ])
    expect(refusals[0]?.msg).toMatch(/wrong password/)
    // Passwords never reach the log.
    expect(JSON.stringify(logs)).not.toMatch(/gw-secret|wrong"/)
  })

  it('keeps localhost working with no users configured (anonymous: auto → loopback) and can refuse it', async () => {
    const { broker: open } = await broker({ users: [] })
    expect((await connect(open.url)).connected).toBe(true)
    const { broker: closed } = await broker({ users: [], anonymous: 'never' })
    expect(await refusal(closed.url, {})).toBe(5)
  })

  it('fails at start, naming every bad user, with BROKER_ERR_CONFIG', async () => {
    const hash = users?.[0]?.passwordHash as string
    await expect(
      startBroker({
        port: 0,
        users: [
          { username: 'gw', passwordHash: hash, role: 'gateway' },
          { username: 'gw', passwordHash: hash, role: 'admin' },
          { username: 'x', passwordHash: 'scrypt$1$1$1$a$b', role: 'admin' },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'BROKER_ERR_CONFIG',
      details: [
        expect.objectContaining({ path: '/users/0', message: expect.stringMatching(/enterprise/) }),
        expect.objectContaining({ path: '/users/1/username' }),
        expect.objectContaining({ path: '/users/2', message: expect.stringMatching(/scrypt\$N\$r\$p/) }),
      ],
    })
  })

  it('refuses connections over maxConnections with CONNACK 3', async () => {
    const { broker: b } = await broker({ users: [], maxConnections: 2 })
    await connect(b.url)
    await connect(b.url)
    expect(await refusal(b.url, {})).toBe(3)
    expect(b.stats()).toMatchObject({ refusedConnections: 1, clients: 2 })
  })
})

describe('broker topic ACL', () => {
  it('routes a gateway’s own telemetry to ingest; refuses and logs publishing into another enterprise and subscribing to #', async () => {
    const { broker: b, logs } = await broker()
    const ingest = await connect(b.url, { username: 'ingest', password: 'ingest-secret' })
    const received: string[] = []
    ingest.on('message', (topic) => received.push(topic))
    await ingest.subscribeAsync(['pw/v1/+/+/+/+/data', 'pw/dead-letter'], { qos: 1 })
    await expect(ingest.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/)

    const gw = await connect(b.url, { username: 'gw-acme-wuhan', password: 'gw-secret' })
    await gw.publishAsync(TOPIC, VALID, { qos: 1 })
    await waitFor('own telemetry', () => (received.length === 1 ? true : undefined))
    expect(received).toEqual([TOPIC])
    expect((await gw.subscribeAsync('pw/v1/acme/wuhan/+/+/command', { qos: 1 })).map((g) => g.qos)).toEqual([1])
    await expect(gw.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/)
    await expect(gw.subscribeAsync('pw/v1/other/+/+/+/data', { qos: 1 })).rejects.toThrow(/Subscribe error/)

    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish('pw/v1/other-enterprise/wuhan/rolling-1/main-meter/data', VALID, { qos: 1 })
    await closed
    await new Promise((r) => setTimeout(r, 100))
    expect(received).toEqual([TOPIC])
    expect(b.stats()).toMatchObject({ accepted: 1, rejected: 1, refusedSubscriptions: 3 })
    const refusedSubs = logs.filter((l) => /subscription refused/.test(l.msg)).map((l) => [l.scope, l.filter])
    expect(refusedSubs).toEqual([
      ['ingest', '#'],
      ['gateway acme/wuhan', '#'],
      ['gateway acme/wuhan', 'pw/v1/other/+/+/+/data'],
    ])
    const refusedPub = logs.find((l) => /publish refused/.test(l.msg))
    expect(refusedPub).toMatchObject({ code: 'BROKER_ERR_NOT_AUTHORIZED', topic: 'pw/v1/other-enterprise/wuhan/rolling-1/main-meter/data' })
  })

  it('does not let a gateway’s last will escape its scope', async () => {
    const { broker: b } = await broker()
    const ingest = await connect(b.url, { username: 'ingest', password: 'ingest-secret' })
    const received: string[] = []
    ingest.on('message', (topic) => received.push(topic))
    await ingest.subscribeAsync('pw/#', { qos: 1 })
    const ownWill = await connect(b.url, {
      username: 'gw-acme-wuhan',
      password: 'gw-secret',
      will: { topic: 'pw/v1/acme/wuhan/l1/gw/state', payload: Buffer.from('{"online":false}'), qos: 1, retain: false },
    })
    const foreignWill = await connect(b.url, {
      username: 'gw-acme-wuhan',
      password: 'gw-secret',
      will: { topic: 'pw/v1/beta/wuhan/l1/gw/state', payload: Buffer.from('{"online":false}'), qos: 1, retain: false },
    })
    // Cut both without DISCONNECT, so the broker publishes their wills ([MQTT-3.1.2-8]).
    ;(ownWill as unknown as { stream: { destroy(): void } }).stream.destroy()
    ;(foreignWill as unknown as { stream: { destroy(): void } }).stream.destroy()
    await waitFor('the own will', () => (received.length >= 1 ? true : undefined))
    await new Promise((r) => setTimeout(r, 200))
    expect(received).toEqual(['pw/v1/acme/wuhan/l1/gw/state'])
  })
})

describe('broker publish rate limit', () => {
  it('paces a connection past its burst instead of dropping: every message arrives, later', async () => {
    const { broker: b } = await broker({ users: [], publishRate: { messagesPerS: 100, burst: 5 } })
    const sub = await connect(b.url)
    const received: number[] = []
    sub.on('message', (_t, payload) => received.push((JSON.parse(payload.toString()) as { seq: number }).seq))
    await sub.subscribeAsync('pw/v1/#', { qos: 1 })
    const pub = await connect(b.url)
    const started = performance.now()
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        pub.publishAsync(TOPIC, JSON.stringify({ seq: i, samples: [{ ts: Date.UTC(2025, 0, 6), values: { active_power_kw: i } }] }), { qos: 1 }),
      ),
    )
    const elapsed = performance.now() - started
    await waitFor('25 messages', () => (received.length === 25 ? true : undefined))
    // 5 at once, then 20 at 10 ms each.
    expect(elapsed).toBeGreaterThanOrEqual(180)
    expect(received).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(b.stats().throttled).toBeGreaterThanOrEqual(18)
    expect(pub.connected).toBe(true)
  })
})

describe('broker transports', () => {
  it('with clientCertificates: require (mutual TLS) refuses clients without a certificate from the CA', async () => {
    requireCommand('openssl', 'openssl')
    const dir = mkdtempSync(join(tmpdir(), 'pw-mtls-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const f = (name: string): string => join(dir, name)
    const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', cwd: dir })
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    // Our CA, and a stranger's CA nobody configured.
    openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=plantwatt-test-ca')
    openssl('req', '-x509', ...ec, '-keyout', f('rogue-ca.key'), '-out', f('rogue-ca.crt'), '-days', '1', '-subj', '/CN=rogue-ca')
    const signed = (name: string, cn: string, ca: string, ext: string): void => {
      openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`)
      execFileSync('sh', ['-c', `printf '%s\n' '${ext}' > ${name}.ext`], { cwd: dir })
      openssl(
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        '-CA',
        f(`${ca}.crt`),
        '-CAkey',
        f(`${ca}.key`),
        '-CAcreateserial',
        '-out',
        f(`${name}.crt`),
        '-days',
        '1',
        '-extfile',
        f(`${name}.ext`),
      )
    }
    signed('broker', 'plantwatt-broker', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost')
    signed('gateway', 'gw-acme-wuhan', 'ca', 'extendedKeyUsage=clientAuth')
    signed('rogue', 'gw-acme-wuhan', 'rogue-ca', 'extendedKeyUsage=clientAuth')
    const { broker: b, logs } = await broker({
      tls: { port: 0, certFile: f('broker.crt'), keyFile: f('broker.key'), caFile: f('ca.crt'), clientCertificates: 'require' },
    })
    const ca = readFileSync(f('ca.crt'))
    const creds = { username: 'gw-acme-wuhan', password: 'gw-secret' }

    /** 'connected' once CONNACK 0 arrives; 'refused' when TLS (or the broker) closes the connection first. */
    const attempt = (opts: IClientOptions): Promise<'connected' | 'refused'> =>
      new Promise((resolve) => {
        const c = mqtt.connect(b.tlsUrl as string, {
          clientId: `m-${Math.random().toString(16).slice(2)}`,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ca,
          ...creds,
          ...opts,
        })
        c.once('connect', () => {
          resolve('connected')
          c.end(true)
        })
        c.once('error', () => resolve('refused'))
        c.once('close', () => resolve('refused'))
      })

    expect(await attempt({})).toBe('refused')
    expect(await attempt({ cert: readFileSync(f('rogue.crt')), key: readFileSync(f('rogue.key')) })).toBe('refused')
    expect(await attempt({ cert: readFileSync(f('gateway.crt')), key: readFileSync(f('gateway.key')) })).toBe('connected')
    // The certificate comes on top of the password, not instead of it: CONNACK 4 for a wrong one.
    expect(
      await refusal(b.tlsUrl as string, {
        ca,
        cert: readFileSync(f('gateway.crt')),
        key: readFileSync(f('gateway.key')),
        username: 'gw-acme-wuhan',
        password: 'wrong',
      }),
    ).toBe(4)
    // A client with our certificate publishes as usual.
    const ok = await connect(b.tlsUrl as string, { ca, cert: readFileSync(f('gateway.crt')), key: readFileSync(f('gateway.key')), ...creds })
    await ok.publishAsync(TOPIC, VALID, { qos: 1 })
    expect(b.stats()).toMatchObject({ accepted: 1, authFailures: 1 })
    // Both refused handshakes were logged by the broker.
    await waitFor('two handshake failures logged', () => (logs.filter((l) => l.msg === 'TLS handshake failed').length >= 2 ? true : undefined))
  })

  it('serves MQTT over TLS (certificate made here with openssl) and over WebSocket, one topic space', async () => {
    requireCommand('openssl', 'openssl')
    const dir = mkdtempSync(join(tmpdir(), 'pw-tls-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const [certFile, keyFile] = [join(dir, 'broker.crt'), join(dir, 'broker.key')]
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=plantwatt-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    )
    const { broker: b } = await broker({ tls: { port: 0, certFile, keyFile }, websocket: { port: 0 } })
    expect(b.tlsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/)
    expect(b.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)

    // A client that does not trust the certificate is refused by TLS itself.
    await expect(
      mqtt.connectAsync(b.tlsUrl as string, { reconnectPeriod: 0, connectTimeout: 3000, username: 'ingest', password: 'ingest-secret' }),
    ).rejects.toThrow(/self.signed|certificate/i)

    const ws = await connect(b.wsUrl as string, { username: 'ingest', password: 'ingest-secret' })
    const received: string[] = []
    ws.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`))
    await ws.subscribeAsync('pw/v1/+/+/+/+/data', { qos: 1 })
    const secure = await connect(b.tlsUrl as string, { ca: readFileSync(certFile), username: 'gw-acme-wuhan', password: 'gw-secret' })
    await secure.publishAsync(TOPIC, VALID, { qos: 1 })
    await waitFor('the message over WebSocket', () => (received.length === 1 ? true : undefined))
    expect(received).toEqual([`${TOPIC} ${VALID}`])
    // The packet-size guard covers every transport.
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    ws.publish(TOPIC, Buffer.alloc(2 * 1024 * 1024, 0x20), { qos: 1 })
    await closed
    expect(b.stats().oversizePackets + b.stats().rejected).toBeGreaterThanOrEqual(1)
  })
})
