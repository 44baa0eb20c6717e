import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { isPlantWattError } from '../core/errors.ts'
import { deviceKey } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { hashPassword } from '../broker/index.ts'
import { loadScenario } from '../simulators/index.ts'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { checkClientsAgainstBroker, resolveComponentClients } from '../cli/credentials.ts'
import { closeAll, edgeDevicesForScenario, startAll, type UpResult } from '../cli/wiring.ts'

const tmp = mkdtempSync(join(tmpdir(), 'pw-up-users-'))
const envNames: string[] = []
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
  for (const n of envNames) delete process.env[n]
})
const logger = silentLogger()

/** A password made now, kept only in this process (env) or in a file under the test's temp folder. */
function secret(): string {
  return randomBytes(18).toString('base64url')
}
function inEnv(value: string): string {
  const name = `PW_TEST_MQTT_${randomBytes(6).toString('hex').toUpperCase()}`
  process.env[name] = value
  envNames.push(name)
  return name
}
function inFile(value: string): string {
  const file = join(tmp, `secret-${randomBytes(6).toString('hex')}`)
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return file
}

interface Users {
  broker: { username: string; passwordHash: string; role: string; enterprise?: string; site?: string }[]
  passwords: Map<string, string>
}
async function users(list: { username: string; role: string; enterprise?: string; site?: string }[]): Promise<Users> {
  const passwords = new Map<string, string>()
  const broker = []
  for (const u of list) {
    const pw = secret()
    passwords.set(u.username, pw)
    broker.push({ ...u, passwordHash: await hashPassword(pw) })
  }
  return { broker, passwords }
}

/** A config file as a user writes it, loaded through the schema. */
function configFile(name: string, body: Record<string, unknown>): ResolvedConfig {
  const file = join(tmp, `${name}.yaml`)
  writeFileSync(file, toYaml(body))
  return loadPlantWattConfig(file)
}

function base(name: string): Record<string, unknown> {
  return {
    storage: { backend: 'embedded', path: join(tmp, name, 'plantwatt.db') },
    api: { host: '127.0.0.1', port: 0 },
    edge: { bufferDir: join(tmp, name, 'edge-buffer'), buffer: 'memory', statusIntervalMs: 1000 },
    alerts: { pollEventsMs: 60_000 },
  }
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as T }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

interface Health {
  status: string
  problems?: { component: string; code: string; message?: string; at: number }[]
  components?: Record<string, { mqtt?: { connected: boolean; username: string | null }; connected?: boolean; authFailures?: number; rejected?: number }>
}

const ENTERPRISES = ['edong-cement', 'hanjiang-autoparts', 'jiangcheng-steel']

describe('plantwatt up with broker users: each component its own user and role', () => {
  const running: UpResult[] = []
  afterAll(async () => {
    for (const up of running) await closeAll(up.closables, logger)
  })

  it('Hubei: one gateway user per enterprise, ingest and alerts as their roles; every device stored and live, /health ok', async () => {
    const u = await users([
      { username: 'gw-edong', role: 'gateway', enterprise: 'edong-cement', site: 'huangshi' },
      { username: 'gw-jiangcheng', role: 'gateway', enterprise: 'jiangcheng-steel' },
      { username: 'gw-hanjiang', role: 'gateway', enterprise: 'hanjiang-autoparts' },
      { username: 'ingest', role: 'ingest' },
      { username: 'alerts', role: 'service' },
    ])
    const pw = (name: string) => u.passwords.get(name) as string
    const cfg = configFile('hubei', {
      ...base('hubei'),
      broker: { port: 0, users: u.broker },
      mqtt: {
        credentials: {
          edge: [
            { username: 'gw-edong', passwordEnv: inEnv(pw('gw-edong')), enterprise: 'edong-cement', site: 'huangshi' },
            { username: 'gw-jiangcheng', passwordFile: inFile(pw('gw-jiangcheng')), enterprise: 'jiangcheng-steel' },
            // Scope taken from the broker user (plantwatt up knows it).
            { username: 'gw-hanjiang', passwordEnv: inEnv(pw('gw-hanjiang')) },
          ],
          ingest: { username: 'ingest', passwordFile: inFile(pw('ingest')) },
          alerts: { username: 'alerts', passwordEnv: inEnv(pw('alerts')) },
        },
      },
    })
    const up = await startAll(cfg, logger, { scenario: loadScenario('hubei') })
    running.push(up)
    const expected = edgeDevicesForScenario(up.scenario!).map((d) => deviceKey(d))
    expect(new Set(expected.map((k) => k.split('/')[0])).size).toBe(3)
    expect(expected.length).toBeGreaterThanOrEqual(30)

    // Every polled device's telemetry reaches the store through its enterprise's gateway user.
    const stored = await waitFor(
      'every device in the store',
      async () => {
        const rows = await up.store.latest({ measurement: TELEMETRY_MEASUREMENT, since: Date.now() - 60_000 })
        const keys = new Set(rows.map((r) => `${r.tags.enterprise}/${r.tags.site}/${r.tags.line}/${r.tags.device}`))
        return expected.every((k) => keys.has(k)) ? rows : undefined
      },
      60_000,
    )
    expect(stored.length).toBeGreaterThanOrEqual(expected.length)

    const live = await getJson<{ devices: { enterprise: string; site: string; line: string; device: string; values: Record<string, number> }[] }>(
      `${up.apiUrl}/api/v1/live`,
    )
    expect(live.status).toBe(200)
    const liveKeys = live.body.devices.map((d) => deviceKey(d))
    for (const k of expected) expect(liveKeys, k).toContain(k)
    expect([...new Set(live.body.devices.map((d) => d.enterprise))].sort()).toEqual(ENTERPRISES)
    // Meters report a grid frequency; every live device reports numbers.
    for (const d of live.body.devices) {
      expect(Object.keys(d.values).length, deviceKey(d)).toBeGreaterThan(0)
      if (d.values.frequency_hz !== undefined) {
        expect(d.values.frequency_hz).toBeGreaterThan(49)
        expect(d.values.frequency_hz).toBeLessThan(51)
      }
    }

    const health = await getJson<Health>(`${up.apiUrl}/api/v1/health`)
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')
    expect(health.body.problems).toBeUndefined()
    const c = health.body.components!
    expect(
      Object.keys(c)
        .filter((k) => k.startsWith('edge'))
        .sort(),
    ).toEqual(['edge/edong-cement/huangshi', 'edge/hanjiang-autoparts', 'edge/jiangcheng-steel'])
    expect(c['edge/edong-cement/huangshi']?.mqtt).toMatchObject({ connected: true, username: 'gw-edong' })
    expect(c['edge/hanjiang-autoparts']?.mqtt).toMatchObject({ connected: true, username: 'gw-hanjiang' })
    expect(c.ingest?.connected).toBe(true)
    expect(c.alerts?.connected).toBe(true)
    // No component was refused anything on the way.
    expect(c.broker).toMatchObject({ authFailures: 0, rejected: 0 })
  }, 120_000)

  it('a gateway with a wrong password: /health answers 503 naming that gateway and EDGE_ERR_MQTT_BAD_CREDENTIALS; ingest and alerts stay connected', async () => {
    const u = await users([
      { username: 'gw-demo', role: 'gateway', enterprise: 'demo-steel' },
      { username: 'ingest', role: 'ingest' },
      { username: 'alerts', role: 'service' },
    ])
    const demo = loadPlantWattConfig(join(import.meta.dirname, '..', 'examples', 'demo.yaml'))
    const wrong = secret()
    const cfg = configFile('wrong-password', {
      ...base('wrong-password'),
      plant: demo.plant,
      sim: demo.sim,
      broker: { port: 0, users: u.broker },
      mqtt: {
        credentials: {
          edge: [{ username: 'gw-demo', passwordEnv: inEnv(wrong), enterprise: 'demo-steel' }],
          ingest: { username: 'ingest', passwordEnv: inEnv(u.passwords.get('ingest') as string) },
          alerts: { username: 'alerts', passwordEnv: inEnv(u.passwords.get('alerts') as string) },
        },
      },
    })
    const up = await startAll(cfg, logger)
    running.push(up)
    const health = await waitFor(
      '/health 503',
      async () => {
        const h = await getJson<Health>(`${up.apiUrl}/api/v1/health`)
        return h.status === 503 ? h.body : undefined
      },
      15_000,
    )
    expect(health.status).toBe('degraded')
    expect(health.problems).toHaveLength(1)
    expect(health.problems?.[0]).toMatchObject({ component: 'edge', code: 'EDGE_ERR_MQTT_BAD_CREDENTIALS' })
    expect(health.problems?.[0]?.message).toContain('CONNACK 4')
    expect(health.components?.edge?.mqtt?.connected).toBe(false)
    expect(health.components?.ingest?.connected).toBe(true)
    expect(health.components?.alerts?.connected).toBe(true)
    expect((health.components?.broker?.authFailures ?? 0) >= 1).toBe(true)
    // The refused password is in no answer.
    const raw = await (await fetch(`${up.apiUrl}/api/v1/health`)).text()
    expect(raw).not.toContain(wrong)
    // Anyone probing learns the component and the code; the text is for admins (here: auth off = admin).
    expect(raw).toContain('"component":"edge"')
  }, 60_000)

  it('refuses to start, naming every mismatch, when a user has the wrong role or a device has no gateway', async () => {
    const u = await users([
      { username: 'reader', role: 'ingest' },
      { username: 'gw-other', role: 'gateway', enterprise: 'other-co' },
      { username: 'svc', role: 'service' },
    ])
    const demo = loadPlantWattConfig(join(import.meta.dirname, '..', 'examples', 'demo.yaml'))
    const wrongRole = configFile('wrong-role', {
      ...base('wrong-role'),
      plant: demo.plant,
      sim: demo.sim,
      broker: { port: 0, users: u.broker },
      mqtt: {
        credentials: {
          edge: [{ username: 'reader', passwordEnv: inEnv(u.passwords.get('reader') as string) }],
          ingest: { username: 'reader', passwordEnv: inEnv(u.passwords.get('reader') as string) },
        },
      },
    })
    const err = await startAll(wrongRole, logger).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isPlantWattError(err, 'CLI_ERR_MQTT_CREDENTIALS')).toBe(true)
    const text = (err as Error).message
    expect(text).toContain('edge connects as "reader", a broker user of role ingest: it needs role gateway')
    expect(text).toContain('alerts has no broker user')
    expect(text).not.toContain(u.passwords.get('reader') as string)

    const outside = configFile('outside', {
      ...base('outside'),
      plant: demo.plant,
      sim: demo.sim,
      broker: { port: 0, users: u.broker },
      mqtt: {
        credentials: {
          edge: [{ username: 'gw-other', passwordEnv: inEnv(u.passwords.get('gw-other') as string) }],
          ingest: { username: 'reader', passwordEnv: inEnv(u.passwords.get('reader') as string) },
          alerts: { username: 'svc', passwordEnv: inEnv(u.passwords.get('svc') as string) },
        },
      },
    })
    // The gateway user's scope (other-co, from broker.users) covers none of the demo's devices.
    const scopeErr = await startAll(outside, logger).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isPlantWattError(scopeErr, 'CLI_ERR_EDGE_SCOPE')).toBe(true)
    expect((scopeErr as Error).message).toContain('2 edge device(s) outside every gateway user')
    expect((scopeErr as Error).message).toContain('demo-steel/wuhan/rolling-1/main-meter, demo-steel/wuhan/rolling-1/mill-drive')
    expect((scopeErr as Error).message).toContain('mqtt.credentials.edge[0] (user gw-other) → other-co/*')
  }, 60_000)
})

describe('examples/broker-users.yaml', () => {
  it('validates, and every component has a user of its role in broker.users, the gateways scoped to the Hubei enterprises', () => {
    const cfg = loadPlantWattConfig(join(import.meta.dirname, '..', 'examples', 'broker-users.yaml'))
    const creds = cfg.mqtt.credentials!
    // Secrets are named, never given.
    expect(JSON.stringify(cfg.mqtt)).not.toMatch(/"password"/)
    const env: NodeJS.ProcessEnv = {}
    for (const c of [...(creds.edge ?? []), creds.ingest, creds.alerts]) if (c?.passwordEnv) env[c.passwordEnv] = secret()
    const file = inFile(secret())
    const section = { ...cfg.mqtt, credentials: { ...creds, edge: creds.edge?.map((g) => (g.passwordFile ? { ...g, passwordFile: file } : g)) } }
    const clients = checkClientsAgainstBroker(resolveComponentClients(section, env), cfg.broker)
    expect(clients.edge.map((g) => g.enterprise).sort()).toEqual(ENTERPRISES)
    expect(clients.ingest.username).toBe('ingest')
    expect(clients.alerts.username).toBe('alerts')
    for (const u of cfg.broker.users) expect(u.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/)
  })
})
