import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { hashPassword } from '../broker/password.ts'
import { loadPlantWattConfig } from '../cli/config.ts'
import { describeSchema, validateConfig } from '../core/config.ts'
import type { DeadLetter, DeadLetterLog } from '../core/dead-letter.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import { build } from './app.ts'
import { ApiConfigSchema, resolveApiConfig, type ApiConfig } from './config.ts'
import { ROLE_PERMISSIONS, can } from './principal.ts'

/** 2025-11-29 12:00 Shanghai. */
const NOW = Date.UTC(2025, 10, 29, 4, 0, 0)
const MIN = 60_000
/** A cheap scrypt (N=1024) keeps the tests fast; the format and the code path are the production ones. */
const CHEAP = { N: 1024, r: 8, p: 1 }

// Two enterprises with the same shape and one device id (press) in both: the isolation fixture.
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      name: 'Acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            {
              id: 'l1',
              mainMeter: 'meter',
              devices: [
                { id: 'meter', name: '进线 A', kind: 'meter' },
                { id: 'press', kind: 'machine' },
              ],
            },
          ],
        },
      ],
    },
    {
      id: 'bolt',
      name: 'Bolt',
      sites: [
        {
          id: 'xiangyang',
          lines: [
            {
              id: 'l1',
              mainMeter: 'meter',
              devices: [
                { id: 'meter', name: '进线 B', kind: 'meter' },
                { id: 'press', kind: 'machine' },
                { id: 'b-only', kind: 'sensor' },
              ],
            },
          ],
        },
      ],
    },
  ],
})

const A_METER = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' }
const A_PRESS = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'press' }
const B_METER = { enterprise: 'bolt', site: 'xiangyang', line: 'l1', device: 'meter' }
const B_PRESS = { enterprise: 'bolt', site: 'xiangyang', line: 'l1', device: 'press' }
const B_ONLY = { enterprise: 'bolt', site: 'xiangyang', line: 'l1', device: 'b-only' }
/** Not in the model, seen only in telemetry. */
const B_GHOST = { enterprise: 'bolt', site: 'xiangyang', line: 'l2', device: 'ghost' }
const A_GHOST = { enterprise: 'acme', site: 'wuhan', line: 'l2', device: 'ghost-a' }

const pt = (tags: Record<string, string>, ts: number, fields: Record<string, number>): TelemetryPoint => ({
  measurement: TELEMETRY_MEASUREMENT,
  tags,
  fields,
  ts,
})

// A's values are 1xx, B's 9xx: any 9xx in an answer to A is a leak.
const FIXTURE: TelemetryPoint[] = [
  pt(A_METER, NOW - 2000, { active_power_kw: 100, seq: 1 }),
  pt(A_PRESS, NOW - 2000, { active_power_kw: 110, seq: 1 }),
  pt(A_GHOST, NOW - 2000, { active_power_kw: 120, seq: 1 }),
  pt(B_METER, NOW - 2000, { active_power_kw: 900, seq: 1 }),
  pt(B_PRESS, NOW - 2000, { active_power_kw: 910, seq: 1 }),
  pt(B_ONLY, NOW - 2000, { active_power_kw: 920, seq: 1 }),
  pt(B_GHOST, NOW - 2000, { active_power_kw: 930, seq: 1 }),
  // For /series: press power over [NOW-10min, NOW-5min): A mean (100+120)/2 = 110, B mean (900+960)/2 = 930.
  pt(A_PRESS, NOW - 10 * MIN, { active_power_kw: 100 }),
  pt(A_PRESS, NOW - 9 * MIN, { active_power_kw: 120 }),
  pt(B_PRESS, NOW - 10 * MIN, { active_power_kw: 900 }),
  pt(B_PRESS, NOW - 9 * MIN, { active_power_kw: 960 }),
]

const KEYS = {
  admin: 'pwk_admin_0123456789abcdef',
  opA: 'pwk_op_a_0123456789abcdef',
  engB: 'pwk_eng_b_0123456789abcdef',
}
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

interface ErrorJson {
  error: { code: string; message: string; details?: unknown }
}

let dir: string
let store: TelemetryStore
let authConfig: NonNullable<ApiConfig['auth']>

class Letters implements DeadLetterLog {
  add(_e: DeadLetter): void {}
  list(): DeadLetter[] {
    return [
      {
        ts: NOW - 1000,
        reason: 'CORE_ERR_PAYLOAD_JSON',
        message: 'bad json',
        topic: 'pw/v1/bolt/xiangyang/l1/meter/data',
        payload: '{',
        payloadBytes: 1,
        source: 'ingest',
      },
    ]
  }
  counts(): Record<string, number> {
    return { CORE_ERR_PAYLOAD_JSON: 1 }
  }
  async close(): Promise<void> {}
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-auth-'))
  store = await createEmbeddedStore({ path: join(dir, 'telemetry.db') })
  await store.write(FIXTURE)
  authConfig = {
    apiKeys: [
      { id: 'admin-key', keyHash: sha(KEYS.admin), role: 'admin' },
      { id: 'op-a', keyHash: await hashPassword(KEYS.opA, CHEAP), role: 'operator', enterprise: 'acme' },
      { id: 'eng-b', keyHash: sha(KEYS.engB), role: 'engineer', enterprise: 'bolt' },
    ],
    users: [
      { username: 'eng-a', passwordHash: await hashPassword('engineer-a-pass', CHEAP), role: 'engineer', enterprise: 'acme' },
      { username: 'comm', passwordHash: await hashPassword('commission-pass', CHEAP), role: 'commission' },
    ],
    jwtSecret: 'a-test-secret-of-at-least-32-characters!',
    tokenTtlS: 3600,
  }
})

afterAll(async () => {
  await store?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function withApp<T>(config: Partial<ApiConfig>, fn: (app: FastifyInstance, clock: { now: number }) => Promise<T>): Promise<T> {
  const clock = { now: NOW }
  const app = await build({ store, plant: PLANT, config, now: () => clock.now, deadLetters: new Letters(), status: () => ({ ingest: { stored: 7 } }) })
  try {
    return await fn(app, clock)
  } finally {
    await app.close()
  }
}

async function login(app: FastifyInstance, username: string, password: string) {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } })
}

describe('auth config', () => {
  it('requires an enterprise for operator and engineer, and reports every problem with its path', () => {
    let err: unknown
    try {
      resolveApiConfig({
        auth: {
          apiKeys: [
            { id: 'k1', keyHash: 'sha256$abc', role: 'admin' },
            { id: 'k1', keyHash: sha('x'), role: 'operator' },
          ],
          users: [{ username: 'u', passwordHash: 'scrypt$nonsense', role: 'engineer' }],
          tokenTtlS: 3600,
        },
      })
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'CORE_ERR_CONFIG' })
    const paths = ((err as { details: { path: string }[] }).details ?? []).map((d) => d.path).sort()
    expect(paths).toEqual([
      '/auth/apiKeys/0/keyHash',
      '/auth/apiKeys/1/enterprise',
      '/auth/apiKeys/1/id',
      '/auth/users/0/enterprise',
      '/auth/users/0/passwordHash',
    ])
    // commission and admin may see every enterprise
    expect(() => resolveApiConfig({ auth: { apiKeys: [{ id: 'c', keyHash: sha('x'), role: 'commission' }], users: [], tokenTtlS: 3600 } })).not.toThrow()
  })

  it('refuses a plain password in place of a hash, naming the key', () => {
    expect(() => resolveApiConfig({ auth: { apiKeys: [], users: [{ username: 'u', passwordHash: 'hunter22', role: 'admin' }], tokenTtlS: 60 } })).toThrow(
      /\/auth\/users\/0\/passwordHash/,
    )
  })

  it('documents every auth, rate-limit and stream key for `plantwatt api --help`', () => {
    const help = describeSchema(ApiConfigSchema, 'api').join('\n')
    for (const key of [
      'api.auth.apiKeys[].keyHash',
      'api.auth.users[].passwordHash',
      'api.auth.jwtSecret',
      'api.auth.tokenTtlS',
      'api.rateLimit.max',
      'api.rateLimit.timeWindowMs',
      'api.rateLimit.loginFreeFailures',
      'api.rateLimit.loginWindowMs',
      'api.rateLimit.loginFailuresPerUser',
      'api.rateLimit.hashChecksPerS',
      'api.stream.pollMs',
    ]) {
      expect(help, key).toContain(key)
    }
    expect(help).toMatch(/api\.rateLimit\.max\s+integer \(default 600\)/)
  })

  it('validates the sample config examples/api-auth.yaml: its users, keys and roles (no usable secrets in it)', async () => {
    const cfg = loadPlantWattConfig(new URL('../examples/api-auth.yaml', import.meta.url).pathname)
    const api = resolveApiConfig(cfg.api)
    expect(api.auth?.users?.map((u) => [u.username, u.role, u.enterprise ?? null])).toEqual([
      ['ops-edong', 'operator', 'edong-cement'],
      ['eng-edong', 'engineer', 'edong-cement'],
      ['commission', 'commission', null],
    ])
    expect(api.auth?.apiKeys?.map((k) => [k.id, k.role, k.enterprise ?? null])).toEqual([
      ['edong-scada', 'operator', 'edong-cement'],
      ['backup-admin', 'admin', null],
    ])
    // Auth is on with this file: without credentials the API refuses, and a guessed password does not pass.
    await withApp({ ...api, port: 0 }, async (app) => {
      expect((await app.inject({ url: '/api/v1/auth/me' })).statusCode).toBe(401)
      expect((await login(app, 'eng-edong', 'eng-edong')).statusCode).toBe(401)
    })
  })
})

describe('permission table', () => {
  it('gives each role its rights: the commission reads all and writes nothing, dead letters are admin only', () => {
    const p = (role: 'operator' | 'engineer' | 'commission' | 'admin', enterprise?: string) => ({ id: 'x', role, ...(enterprise ? { enterprise } : {}) })
    expect(ROLE_PERMISSIONS.operator).toEqual(['live', 'alerts', 'ack'])
    expect(can(p('operator', 'acme'), 'reports')).toBe(false)
    expect(can(p('engineer', 'acme'), 'import')).toBe(true)
    expect(can(p('commission'), 'ack')).toBe(false)
    expect(can(p('commission'), 'import')).toBe(false)
    expect(can(p('commission'), 'reports')).toBe(true)
    expect(can(p('engineer', 'acme'), 'system')).toBe(false)
    expect(can(p('admin'), 'system')).toBe(true)
  })
})

describe('token signing secret', () => {
  it('warns when it must make a random one, and shares tokens between processes given the same one', async () => {
    const lines: { level: number; msg: string }[] = []
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string })
        done()
      },
    })
    const { jwtSecret: _omit, ...noSecret } = authConfig
    const random = await build({ store, plant: PLANT, config: { auth: noSecret }, now: () => NOW, logger: pino({ level: 'warn' }, sink) })
    await random.close()
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'api.auth.jwtSecret and PLANTWATT_JWT_SECRET are not set: login tokens are signed with a random secret and die with this process'],
    ])

    const saved = process.env.PLANTWATT_JWT_SECRET
    try {
      process.env.PLANTWATT_JWT_SECRET = 'too-short'
      await expect(build({ store, config: { auth: noSecret } })).rejects.toMatchObject({ code: 'CORE_ERR_CONFIG' })
      process.env.PLANTWATT_JWT_SECRET = 'shared-by-every-api-process-of-this-site-0123456789'
      const one = await build({ store, plant: PLANT, config: { auth: noSecret }, now: () => NOW })
      const two = await build({ store, plant: PLANT, config: { auth: noSecret }, now: () => NOW })
      try {
        const { token } = (await login(one, 'eng-a', 'engineer-a-pass')).json() as { token: string }
        expect((await two.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).json()).toMatchObject({ id: 'eng-a', via: 'jwt' })
      } finally {
        await one.close()
        await two.close()
      }
    } finally {
      if (saved === undefined) delete process.env.PLANTWATT_JWT_SECRET
      else process.env.PLANTWATT_JWT_SECRET = saved
    }
  })
})

describe('auth off (no key, no user)', () => {
  it('treats every request as an anonymous admin and says so in /health', async () => {
    await withApp({}, async (app) => {
      expect((await app.inject('/api/v1/auth/me')).json()).toEqual({
        id: 'anonymous',
        role: 'admin',
        enterprise: null,
        via: 'none',
        auth: 'off',
        permissions: ['live', 'alerts', 'ack', 'reports', 'import', 'commission', 'system'],
      })
      const health = (await app.inject('/api/v1/health')).json() as Record<string, unknown>
      expect(health).toMatchObject({ status: 'ok', auth: 'off', components: { ingest: { stored: 7 } } })
      expect((await app.inject('/api/v1/devices')).statusCode).toBe(200)
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x', password: 'y' } })
      expect(login.statusCode).toBe(503)
      expect((login.json() as ErrorJson).error.message).toContain('no users are configured')
    })
  })
})

describe('auth on', () => {
  it('answers 401 with a clear message without credentials, except /health, login and the docs', async () => {
    await withApp({ auth: authConfig }, async (app) => {
      for (const url of [
        '/api/v1/devices',
        '/api/v1/live',
        '/api/v1/quantities',
        '/api/v1/auth/me',
        '/api/v1/dead-letters',
        '/api/v1/stream',
        '/api/v1/nothing-here',
      ]) {
        const res = await app.inject(url)
        expect(res.statusCode, url).toBe(401)
        expect((res.json() as ErrorJson).error.code, url).toBe('API_ERR_UNAUTHORIZED')
        expect((res.json() as ErrorJson).error.message, url).toContain('X-API-Key')
      }
      // Validation comes after authentication: a bad query does not tell an anonymous caller anything.
      expect((await app.inject('/api/v1/live?bad=1')).statusCode).toBe(401)
      const health = await app.inject('/api/v1/health')
      expect(health.statusCode).toBe(200)
      // The components' figures are for admins.
      expect(health.json()).toEqual({ status: 'ok', store: { backend: 'embedded', ok: true }, auth: 'on' })
      const asAdmin = await app.inject({ url: '/api/v1/health', headers: { 'x-api-key': KEYS.admin } })
      expect(asAdmin.json()).toMatchObject({ auth: 'on', components: { ingest: { stored: 7 } } })
      expect((await app.inject('/docs/json')).statusCode).toBe(200)
      expect((await app.inject('/')).statusCode).toBe(200)
    })
  })

  it('logs in with username and password, and the token works until it expires', async () => {
    await withApp({ auth: authConfig }, async (app, clock) => {
      const wrong = await login(app, 'eng-a', 'engineer-a-WRONG')
      expect(wrong.statusCode).toBe(401)
      expect(wrong.json()).toEqual({ error: { code: 'API_ERR_UNAUTHORIZED', message: 'wrong username or password' } })
      // An unknown user gets the very same answer.
      expect((await login(app, 'nobody', 'engineer-a-pass')).json()).toEqual(wrong.json())
      expect((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'eng-a' } })).statusCode).toBe(400)

      const res = await login(app, 'eng-a', 'engineer-a-pass')
      expect(res.statusCode).toBe(200)
      const body = res.json() as { token: string; expiresAt: number; role: string; enterprise: string }
      // NOW is a whole second; tokenTtlS 3600 → expires one hour later.
      expect(body).toMatchObject({ expiresAt: NOW + 3_600_000, role: 'engineer', enterprise: 'acme' })
      const header = { authorization: `Bearer ${body.token}` }
      expect((await app.inject({ url: '/api/v1/auth/me', headers: header })).json()).toEqual({
        id: 'eng-a',
        role: 'engineer',
        enterprise: 'acme',
        via: 'jwt',
        auth: 'on',
        permissions: ['live', 'alerts', 'ack', 'reports', 'import'],
      })
      clock.now = NOW + 3_599_000
      expect((await app.inject({ url: '/api/v1/devices', headers: header })).statusCode).toBe(200)
      clock.now = NOW + 3_601_000
      const expired = await app.inject({ url: '/api/v1/devices', headers: header })
      expect(expired.statusCode).toBe(401)
      expect((expired.json() as ErrorJson).error.message).toBe('bearer token has expired: log in again')
    })
  })

  it('refuses forged, tampered and malformed credentials', async () => {
    await withApp({ auth: authConfig }, async (app) => {
      const { token } = (await login(app, 'eng-a', 'engineer-a-pass')).json() as { token: string }
      const [h, p, s] = token.split('.') as [string, string, string]
      // Same signature, payload claiming admin of everything.
      const forgedPayload = Buffer.from(JSON.stringify({ sub: 'eng-a', role: 'admin', iat: NOW / 1000, exp: NOW / 1000 + 60 })).toString('base64url')
      const cases: [Record<string, string>, string][] = [
        [{ authorization: `Bearer ${h}.${forgedPayload}.${s}` }, 'bearer token is not valid'],
        [{ authorization: `Bearer ${h}.${p}.${s.slice(0, -2)}xx` }, 'bearer token is not valid'],
        [{ authorization: `Basic ZW5nLWE6cGFzcw==` }, 'Authorization header must be "Bearer <token>"'],
        [{ 'x-api-key': 'pwk_not_a_key_at_all' }, 'API key not recognised'],
        [{ 'x-api-key': KEYS.opA.toUpperCase() }, 'API key not recognised'],
        [{ 'x-api-key': KEYS.admin, authorization: `Bearer ${token}` }, 'send one credential: Authorization, X-API-Key or access_token, not several'],
      ]
      for (const [headers, message] of cases) {
        const res = await app.inject({ url: '/api/v1/devices', headers })
        expect(res.statusCode, JSON.stringify(headers)).toBe(401)
        expect((res.json() as ErrorJson).error, JSON.stringify(headers)).toEqual({ code: 'API_ERR_UNAUTHORIZED', message })
      }
    })
  })

  it('accepts sha256 and scrypt API keys, on every request (a scrypt key is remembered after its first check)', async () => {
    await withApp({ auth: authConfig }, async (app) => {
      for (let i = 0; i < 3; i++) {
        const me = await app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': KEYS.opA } })
        expect(me.json()).toMatchObject({ id: 'op-a', role: 'operator', enterprise: 'acme', via: 'api-key' })
      }
      expect((await app.inject({ url: '/api/v1/auth/me', headers: { 'x-api-key': KEYS.admin } })).json()).toMatchObject({
        id: 'admin-key',
        role: 'admin',
        enterprise: null,
      })
    })
  })

  it('checks roles: dead letters are for admins only (403 otherwise)', async () => {
    await withApp({ auth: authConfig }, async (app) => {
      const { token: comm } = (await login(app, 'comm', 'commission-pass')).json() as { token: string }
      for (const headers of [{ 'x-api-key': KEYS.opA }, { 'x-api-key': KEYS.engB }, { authorization: `Bearer ${comm}` }]) {
        const res = await app.inject({ url: '/api/v1/dead-letters', headers })
        expect(res.statusCode).toBe(403)
        expect((res.json() as ErrorJson).error.code).toBe('API_ERR_FORBIDDEN')
        expect((res.json() as ErrorJson).error.message).toContain('needs admin')
      }
      const ok = await app.inject({ url: '/api/v1/dead-letters', headers: { 'x-api-key': KEYS.admin } })
      expect(ok.statusCode).toBe(200)
      expect((ok.json() as { counts: Record<string, number> }).counts).toEqual({ CORE_ERR_PAYLOAD_JSON: 1 })
    })
  })
})

describe('tenant scope: an engineer of acme never sees bolt', () => {
  let app: FastifyInstance
  let engA: Record<string, string>
  let comm: Record<string, string>
  const admin = { 'x-api-key': KEYS.admin }
  const opA = { 'x-api-key': KEYS.opA }

  beforeAll(async () => {
    app = await build({ store, plant: PLANT, config: { auth: authConfig }, now: () => NOW })
    engA = { authorization: `Bearer ${((await login(app, 'eng-a', 'engineer-a-pass')).json() as { token: string }).token}` }
    comm = { authorization: `Bearer ${((await login(app, 'comm', 'commission-pass')).json() as { token: string }).token}` }
  })
  afterAll(async () => {
    await app?.close()
  })

  /** bolt's names, or one of its values (900, 910, 920, 930) as a JSON or CSV field. */
  const LEAK = /bolt|xiangyang|b-only|[:,]9[0-3]0[,}\r]/
  const paths = (body: { devices: { enterprise: string; site: string; line: string; device: string }[] }) =>
    body.devices.map((d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`)

  // Every filter combination that names bolt, one of its sites or lines, its devices' ids, or nothing.
  const FILTERS = [
    '',
    'enterprise=bolt',
    'enterprise=acme',
    'site=xiangyang',
    'enterprise=bolt&site=xiangyang',
    'enterprise=bolt&site=xiangyang&line=l1',
    'enterprise=bolt&site=xiangyang&line=l1&device=meter',
    'line=l1',
    'line=l2',
    'device=press',
    'device=b-only',
    'device=ghost',
    'device=meter',
    'enterprise=acme&site=xiangyang',
    'site=xiangyang&line=l1&device=press',
    'enterprise=bolt&format=csv',
    'device=press&format=csv',
  ]

  it('/devices and /live: never a bolt row, whatever the filter, for keys and tokens alike', async () => {
    for (const headers of [engA, opA]) {
      for (const route of ['/api/v1/devices', '/api/v1/live']) {
        for (const f of FILTERS) {
          const res = await app.inject({ url: `${route}?${f}`, headers })
          expect(res.statusCode, `${route}?${f}`).toBe(200)
          expect(res.body, `${route}?${f}`).not.toMatch(LEAK)
        }
      }
    }
  })

  it('/devices and /live give acme everything of acme, and bolt answers as an unknown enterprise', async () => {
    const devices = (await app.inject({ url: '/api/v1/devices', headers: engA })).json() as Parameters<typeof paths>[0]
    expect(paths(devices)).toEqual(['acme/wuhan/l1/meter', 'acme/wuhan/l1/press', 'acme/wuhan/l2/ghost-a'])
    const live = (await app.inject({ url: '/api/v1/live?device=press', headers: engA })).json() as {
      devices: { values: Record<string, number> }[]
      rows: Record<string, unknown>[]
    }
    expect(live.devices.map((d) => d.values.active_power_kw)).toEqual([110])
    expect(live.rows).toEqual([{ ...A_PRESS, name: 'press', ts: NOW - 2000, ageMs: 2000, online: true, seq: 1, active_power_kw: 110 }])
    const other = await app.inject({ url: '/api/v1/live?enterprise=bolt', headers: engA })
    const unknown = await app.inject({ url: '/api/v1/live?enterprise=nowhere', headers: admin })
    expect(other.json()).toEqual(unknown.json())
    // The commission and admins see both.
    for (const headers of [comm, admin]) {
      const all = (await app.inject({ url: '/api/v1/live?device=press', headers })).json() as { devices: { values: Record<string, number> }[] }
      expect(all.devices.map((d) => d.values.active_power_kw)).toEqual([110, 910])
    }
  })

  it('/series: a bolt device answers 404 exactly like an unknown one, by path or by id', async () => {
    const q = (device: string) =>
      `/api/v1/series?${new URLSearchParams({ device, quantity: 'active_power_kw', start: String(NOW - 10 * MIN), stop: String(NOW - 5 * MIN) })}`
    for (const device of ['bolt/xiangyang/l1/press', 'bolt/xiangyang/l1/meter', 'bolt/xiangyang/l2/ghost', 'b-only', 'ghost']) {
      const asA = await app.inject({ url: q(device), headers: engA })
      expect(asA.statusCode, device).toBe(404)
      expect(asA.json(), device).toEqual({
        error: {
          code: 'API_ERR_DEVICE_UNKNOWN',
          message: `device ${JSON.stringify(device)} is not in the plant model and has no telemetry`,
          details: { device },
        },
      })
      // What the admin gets for a device that really does not exist has the same shape.
      const missing = device.replace(/b-only|ghost|press|meter/, 'missing')
      expect((await app.inject({ url: q(missing), headers: admin })).json()).toEqual({
        error: {
          code: 'API_ERR_DEVICE_UNKNOWN',
          message: `device ${JSON.stringify(missing)} is not in the plant model and has no telemetry`,
          details: { device: missing },
        },
      })
    }
    // `press` names a device in both enterprises: unique for acme's engineer (mean 110), ambiguous for the admin.
    const mine = await app.inject({ url: q('press'), headers: engA })
    expect(mine.statusCode).toBe(200)
    expect(mine.json()).toMatchObject({ device: 'acme/wuhan/l1/press', points: [{ ts: NOW - 10 * MIN, value: 110 }] })
    expect(mine.body).not.toContain('bolt')
    const both = await app.inject({ url: q('press'), headers: admin })
    expect(both.statusCode).toBe(400)
    expect((both.json() as ErrorJson).error.code).toBe('API_ERR_DEVICE_AMBIGUOUS')
    const theirs = await app.inject({ url: q('bolt/xiangyang/l1/press'), headers: comm })
    expect(theirs.json()).toMatchObject({ points: [{ value: 930 }] })
    // bolt's engineer gets bolt's press for the bare id.
    expect((await app.inject({ url: q('press'), headers: { 'x-api-key': KEYS.engB } })).json()).toMatchObject({
      device: 'bolt/xiangyang/l1/press',
      points: [{ value: 930 }],
    })
  })

  it('/plant and the live stream keep to the enterprise too', async () => {
    const plant = (await app.inject({ url: '/api/v1/plant', headers: engA })).json() as { enterprises: { id: string }[] }
    expect(plant.enterprises.map((e) => e.id)).toEqual(['acme'])
    const stream = await app.inject({ url: '/api/v1/stream?enterprise=bolt', headers: engA })
    expect(stream.statusCode).toBe(404)
    expect(stream.json()).toEqual({ error: { code: 'API_ERR_NOT_FOUND', message: 'no enterprise "bolt"' } })
  })
})

describe('rate limiting', () => {
  it('answers 429 API_ERR_RATE_LIMITED with Retry-After once a principal used up its window, per principal', async () => {
    await withApp({ auth: authConfig, rateLimit: { max: 3, timeWindowMs: 60_000, loginMax: 0 } }, async (app) => {
      const admin = { 'x-api-key': KEYS.admin }
      for (let i = 1; i <= 3; i++) {
        const res = await app.inject({ url: '/api/v1/quantities', headers: admin })
        expect(res.statusCode).toBe(200)
        expect(res.headers['x-ratelimit-remaining']).toBe(String(3 - i))
      }
      const over = await app.inject({ url: '/api/v1/quantities', headers: admin })
      expect(over.statusCode).toBe(429)
      expect(over.headers['retry-after']).toBe('60')
      const body = over.json() as ErrorJson
      expect(body.error.code).toBe('API_ERR_RATE_LIMITED')
      expect(body.error.message).toBe('too many requests: at most 3 per 60 s; retry in 1 minute')
      expect(body.error.details).toEqual({ max: 3, retryAfterS: 60 })
      // Another principal from the same address has its own budget.
      expect((await app.inject({ url: '/api/v1/quantities', headers: { 'x-api-key': KEYS.engB } })).statusCode).toBe(200)
      // Anonymous callers are counted per IP (bad keys too); /health is never limited (security.test.ts).
      const bad = { 'x-api-key': 'pwk_not_a_key_at_all' }
      for (let i = 0; i < 3; i++) expect((await app.inject({ url: '/api/v1/quantities', headers: bad, remoteAddress: '10.0.0.7' })).statusCode).toBe(401)
      expect((await app.inject({ url: '/api/v1/quantities', headers: bad, remoteAddress: '10.0.0.7' })).statusCode).toBe(429)
      expect((await app.inject({ url: '/api/v1/quantities', headers: bad, remoteAddress: '10.0.0.8' })).statusCode).toBe(401)
      expect((await app.inject({ url: '/api/v1/health', remoteAddress: '10.0.0.7' })).statusCode).toBe(200)
    })
  })

  it('limits login attempts per IP separately, and max 0 switches the general limit off', async () => {
    await withApp({ auth: authConfig, rateLimit: { max: 0, timeWindowMs: 60_000, loginMax: 2 } }, async (app) => {
      for (let i = 0; i < 20; i++) expect((await app.inject({ url: '/api/v1/quantities', headers: { 'x-api-key': KEYS.admin } })).statusCode).toBe(200)
      expect((await login(app, 'eng-a', 'guess-1')).statusCode).toBe(401)
      expect((await login(app, 'eng-a', 'guess-2')).statusCode).toBe(401)
      const third = await login(app, 'eng-a', 'engineer-a-pass')
      expect(third.statusCode).toBe(429)
      expect((third.json() as ErrorJson).error.code).toBe('API_ERR_RATE_LIMITED')
    })
  })
})
