import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { hashPassword } from '../broker/password.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { build } from './app.ts'
import type { ApiConfig } from './config.ts'
import { HashGate } from './hash-gate.ts'
import { LoginThrottle } from './login-throttle.ts'
import { redactUrl } from './log-redact.ts'

// Issue 13: what an outside probe found in the HTTP API, one test (or more) per finding.

const NOW = Date.UTC(2025, 10, 29, 4, 0, 0)
const CHEAP = { N: 1024, r: 8, p: 1 }
const SECRET = 'a-test-secret-of-at-least-32-characters!'
const ADMIN_KEY = 'pwk_admin_0123456789abcdef'
const SCRYPT_KEY = 'pwk_scrypt_0123456789abcdef'

interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

let dir: string
let store: TelemetryStore
let auth: NonNullable<ApiConfig['auth']>
let engHash: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-security-'))
  store = await createEmbeddedStore({ path: join(dir, 'telemetry.db') })
  engHash = await hashPassword('engineer-a-pass', CHEAP)
  auth = {
    apiKeys: [
      { id: 'admin-key', keyHash: `sha256$${createHash('sha256').update(ADMIN_KEY).digest('hex')}`, role: 'admin' },
      { id: 'scrypt-key', keyHash: await hashPassword(SCRYPT_KEY, CHEAP), role: 'commission' },
    ],
    users: [{ username: 'eng-a', passwordHash: engHash, role: 'engineer', enterprise: 'acme' }],
    jwtSecret: SECRET,
    tokenTtlS: 3600,
  }
})

afterAll(async () => {
  await store?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function withApp<T>(config: Partial<ApiConfig>, fn: (app: FastifyInstance, clock: { now: number }) => Promise<T>, logger?: pino.Logger): Promise<T> {
  const clock = { now: NOW }
  const app = await build({ store, config, now: () => clock.now, ...(logger ? { logger } : {}) })
  try {
    return await fn(app, clock)
  } finally {
    await app.close()
  }
}

const login = (app: FastifyInstance, password: string, remoteAddress: string, username = 'eng-a') =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress })

describe('failed logins are throttled (LoginThrottle)', () => {
  const settings = { freeFailures: 3, backoffMs: 1000, windowMs: 60_000, failuresPerAddress: 10, failuresPerUser: 6 }

  it('lets a username fail freely a few times from one address, then doubles the wait, never beyond the window', () => {
    const clock = { now: 0 }
    const t = new LoginThrottle({ ...settings, failuresPerAddress: 100, failuresPerUser: 100 }, () => clock.now)
    for (let i = 0; i < 3; i++) {
      expect(t.check('u', 'a')).toEqual({ allowed: true })
      t.failed('u', 'a')
    }
    expect(t.check('u', 'a')).toEqual({ allowed: false, retryAfterMs: 1000, by: 'user-address' })
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      const v = t.check('u', 'a')
      if (v.allowed) throw new Error('expected a wait')
      waits.push(v.retryAfterMs)
      clock.now += v.retryAfterMs
      expect(t.check('u', 'a').allowed).toBe(true)
      t.failed('u', 'a')
    }
    // 1, 2, 4, 8, 16 s; the next (32 s) is cut at the end of the window, 60 s after the first failure.
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000])
    expect(clock.now).toBe(31_000)
    expect(t.check('u', 'a')).toEqual({ allowed: false, retryAfterMs: 29_000, by: 'user-address' })
    clock.now = 60_000
    expect(t.check('u', 'a')).toEqual({ allowed: true })
    // Another address is not held up by this one's failures.
    expect(t.check('u', 'b')).toEqual({ allowed: true })
  })

  it('throttles an address that sprays usernames, and a username guessed from many addresses — except from addresses it logged in from', () => {
    const clock = { now: 0 }
    const t = new LoginThrottle(settings, () => clock.now)
    for (let i = 0; i < 10; i++) t.failed(`name-${i}`, 'sprayer')
    expect(t.check('someone-else', 'sprayer')).toEqual({ allowed: false, retryAfterMs: 60_000, by: 'address' })

    t.succeeded('victim', 'office')
    for (let i = 0; i < 6; i++) t.failed('victim', `bot-${i}`)
    expect(t.check('victim', 'bot-99')).toMatchObject({ allowed: false, by: 'user' })
    expect(t.check('victim', 'office')).toEqual({ allowed: true })
    clock.now = 60_000
    expect(t.check('victim', 'bot-99')).toEqual({ allowed: true })
  })

  it('stays bounded under a scan of random names and addresses', () => {
    const t = new LoginThrottle(settings, () => 0)
    for (let i = 0; i < 50_000; i++) t.failed(`n${i}`, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
    const size = t.size()
    expect(Math.max(size.pairs, size.addresses, size.users)).toBeLessThanOrEqual(20_000)
  })
})

describe('password-hash work is bounded (HashGate)', () => {
  it('starts at most perS checks per second and atOnce at a time, and refuses at once past the queue', async () => {
    const gate = new HashGate({ perS: 10, atOnce: 2, maxWaiting: 15 })
    const starts: number[] = []
    let running = 0
    let most = 0
    const check = async () => {
      starts.push(performance.now())
      most = Math.max(most, ++running)
      await new Promise((r) => setTimeout(r, 5))
      running--
      return true
    }
    const t0 = performance.now()
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => gate.run(check)))
    const refused = results.filter((r) => r.status === 'rejected')
    // 2 start, 15 wait, 13 are refused on arrival.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(17)
    expect(refused).toHaveLength(13)
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'API_ERR_RATE_LIMITED', details: { retryAfterS: 1 } })
    expect(most).toBe(2)
    // No second holds more than 10 starts: the 11th start is at least 1 s after the first.
    for (let i = 10; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 10] as number)).toBeGreaterThanOrEqual(999)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000)
  })

  it('a login flood from many addresses gets 429 with Retry-After instead of queueing scrypt without end', async () => {
    await withApp({ auth, rateLimit: { loginMax: 0, hashChecksPerS: 5, hashChecksAtOnce: 1 } }, async (app) => {
      const res = await Promise.all(Array.from({ length: 40 }, (_, i) => login(app, `guess-${i}`, `10.1.0.${i}`)))
      const byStatus = (s: number) => res.filter((r) => r.statusCode === s)
      // 1 running + 10 waiting (2 × perS) are checked; the rest are refused before any scrypt.
      expect(byStatus(401)).toHaveLength(11)
      expect(byStatus(429)).toHaveLength(29)
      expect(byStatus(429).every((r) => r.headers['retry-after'] === '1' && (r.json() as ErrorJson).error.code === 'API_ERR_RATE_LIMITED')).toBe(true)
    })
  })
})

describe('POST /auth/login throttling', () => {
  const limits = { loginMax: 0, loginFreeFailures: 3, loginBackoffMs: 1000, loginWindowMs: 60_000 }

  it('a flood of wrong passwords from one address is answered 429 with Retry-After, without checking them', async () => {
    await withApp({ auth, rateLimit: limits }, async (app, clock) => {
      const answers: number[] = []
      for (let i = 0; i < 50; i++) answers.push((await login(app, `guess-${i}`, '10.0.0.1')).statusCode)
      expect(answers.filter((s) => s === 401)).toHaveLength(3)
      expect(answers.filter((s) => s === 429)).toHaveLength(47)

      // The right password is refused too while the wait runs: throttling is no oracle.
      const held = await login(app, 'engineer-a-pass', '10.0.0.1')
      expect(held.statusCode).toBe(429)
      expect(held.headers['retry-after']).toBe('1')
      expect(held.json()).toEqual({
        error: {
          code: 'API_ERR_RATE_LIMITED',
          message: 'too many failed logins of this username from this address; retry in 1 s',
          details: { retryAfterS: 1, by: 'user-address' },
        },
      })

      // The owner, from another address, is not locked out by the attacker.
      expect((await login(app, 'engineer-a-pass', '10.0.0.2')).statusCode).toBe(200)

      // After its wait, one more guess; then the wait has doubled.
      clock.now += 1000
      expect((await login(app, 'guess-again', '10.0.0.1')).statusCode).toBe(401)
      expect((await login(app, 'engineer-a-pass', '10.0.0.1')).headers['retry-after']).toBe('2')

      // After the window, the right password works again from the attacker's address too.
      clock.now = NOW + 60_000
      const ok = await login(app, 'engineer-a-pass', '10.0.0.1')
      expect(ok.statusCode).toBe(200)
      expect((ok.json() as { token: string }).token).toMatch(/^ey/)
    })
  })

  it('a username guessed from many addresses is throttled, except from an address its owner logged in from; unknown names alike', async () => {
    await withApp({ auth, rateLimit: { ...limits, loginFreeFailures: 100, loginFailuresPerUser: 5 } }, async (app) => {
      expect((await login(app, 'engineer-a-pass', '192.168.1.20')).statusCode).toBe(200)
      for (const username of ['eng-a', 'nobody-here']) {
        for (let i = 0; i < 5; i++) expect((await login(app, 'guess', `10.9.0.${i}`, username)).statusCode).toBe(401)
        const res = await login(app, 'guess', '10.9.0.99', username)
        expect(res.statusCode, username).toBe(429)
        expect((res.json() as ErrorJson).error.details, username).toEqual({ retryAfterS: 60, by: 'user' })
      }
      expect((await login(app, 'engineer-a-pass', '10.9.0.200')).statusCode).toBe(429)
      expect((await login(app, 'engineer-a-pass', '192.168.1.20')).statusCode).toBe(200)
    })
  })
})

describe('security headers', () => {
  it('sends CSP, X-Frame-Options, nosniff and Referrer-Policy on the UI, the docs, the API and errors', async () => {
    await withApp({ auth }, async (app) => {
      for (const [url, status] of [
        ['/', 200],
        ['/ui/app.js', 200],
        ['/docs', 200],
        ['/docs/static/swagger-ui-bundle.js', 200],
        ['/docs/json', 200],
        ['/api/v1/health', 200],
        ['/api/v1/devices', 401],
        ['/nowhere', 404],
      ] as const) {
        const res = await app.inject({ url })
        expect(res.statusCode, url).toBe(status)
        const csp = String(res.headers['content-security-policy'])
        expect(csp, url).toContain("default-src 'self'")
        expect(csp, url).toContain("script-src 'self';")
        expect(csp, url).toContain("frame-ancestors 'none'")
        expect(csp, url).toContain("object-src 'none'")
        expect(csp, url).not.toContain('upgrade-insecure-requests')
        expect(csp, url).not.toContain("'unsafe-eval'")
        // Inline styles only for Swagger UI, which inserts <style> elements.
        expect(csp, url).toMatch(url.startsWith('/docs') ? /style-src 'self' 'unsafe-inline'(;|$)/ : /style-src 'self'(;|$)/)
        expect(res.headers['x-frame-options'], url).toBe('DENY')
        expect(res.headers['x-content-type-options'], url).toBe('nosniff')
        expect(res.headers['referrer-policy'], url).toBe('no-referrer')
      }
    })
  })

  it('the pages need nothing the policy forbids: no inline script, only scripts from this origin', async () => {
    await withApp({}, async (app) => {
      for (const url of ['/', '/docs']) {
        const html = (await app.inject({ url })).body
        const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
        expect(scripts.length, url).toBeGreaterThan(0)
        for (const [, attrs, body] of scripts) {
          expect(attrs, url).toMatch(/\bsrc="(\/|\.\/)[^"]+"/)
          expect((body ?? '').trim(), url).toBe('')
        }
        expect(html, url).not.toMatch(/\son[a-z]+="/)
        expect(html, url).not.toMatch(/(src|href)="https?:/)
      }
    })
  })
})

/** JSON log lines written by a pino logger into an array. */
function capture(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: pino({ level: 'trace' }, sink), text: () => lines.join('') }
}

describe('secrets never reach the logs', () => {
  it('redacts ?access_token=, API keys, bearer tokens and passwords from request logs', async () => {
    const log = capture()
    let token = ''
    await withApp(
      { auth, rateLimit: { loginMax: 0 } },
      async (app) => {
        token = ((await login(app, 'engineer-a-pass', '10.0.0.3')).json() as { token: string }).token
        const badToken = `${token.slice(0, -4)}AAAA`
        await app.inject({ url: `/api/v1/stream?line=acme/wuhan/l1&access_token=${badToken}` })
        await app.inject({ url: `/api/v1/devices?Access%5FToken=${token}&api_key=${ADMIN_KEY}` })
        await app.inject({ url: '/api/v1/devices', headers: { authorization: `Bearer ${token}`, 'x-api-key': ADMIN_KEY } })
        await login(app, 'typed-my-password-here-by-mistake', '10.0.0.3', 'hunter2-secret-password')
      },
      log.logger,
    )
    const text = log.text()
    expect(text).toContain('incoming request')
    expect(text).toContain('access_token=[redacted]')
    expect(text).toContain('Access%5FToken=[redacted]&api_key=[redacted]')
    expect(text).toContain('login refused')
    expect(token).toMatch(/^ey/)
    // The token's signature part, the key, the passwords: none appear anywhere in the log.
    for (const secret of [
      SECRET,
      ADMIN_KEY,
      token.split('.')[2] as string,
      'engineer-a-pass',
      'typed-my-password-here-by-mistake',
      'hunter2-secret-password',
    ]) {
      expect(text, secret).not.toContain(secret)
    }
  })

  it('redactUrl catches encoded and differently cased names and keeps the rest', () => {
    expect(redactUrl('/api/v1/stream?line=a/b/c&access_token=ey.x.y')).toBe('/api/v1/stream?line=a/b/c&access_token=[redacted]')
    expect(redactUrl('/x?ACCESS_TOKEN=1&Api-Key=2&password=3&token=4&q=5#frag')).toBe(
      '/x?ACCESS_TOKEN=[redacted]&Api-Key=[redacted]&password=[redacted]&token=[redacted]&q=5#frag',
    )
    expect(redactUrl('/x?access%5Ftoken=1&%61pi_key=2')).toBe('/x?access%5Ftoken=[redacted]&%61pi_key=[redacted]')
    expect(redactUrl('/api/v1/devices?enterprise=acme')).toBe('/api/v1/devices?enterprise=acme')
  })
})

/** An HS256 JWT signed with `secret`, with exactly the claims given. */
function sign(claims: Record<string, unknown>, secret = SECRET): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}

describe('JWT expiry', () => {
  it('refuses a correctly signed token without exp (401), accepts the same with exp, and issues only tokens with exp', async () => {
    await withApp({ auth }, async (app) => {
      const pwh = createHash('sha256').update(engHash).digest('hex').slice(0, 16)
      const claims = { sub: 'eng-a', role: 'engineer', enterprise: 'acme', pwh, iat: NOW / 1000 }
      const me = (token: string) => app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })

      const withExp = await me(sign({ ...claims, exp: NOW / 1000 + 60 }))
      expect(withExp.statusCode).toBe(200)
      const noExp = await me(sign(claims))
      expect(noExp.statusCode).toBe(401)
      expect(noExp.json()).toEqual({ error: { code: 'API_ERR_UNAUTHORIZED', message: 'bearer token has no expiry (exp): log in again' } })
      // exp must be a number of seconds, not something that compares oddly.
      expect((await me(sign({ ...claims, exp: 'never' }))).statusCode).toBe(401)

      const issued = (await login(app, 'engineer-a-pass', '10.0.0.4')).json() as { token: string }
      const payload = JSON.parse(Buffer.from(issued.token.split('.')[1] as string, 'base64url').toString()) as { exp?: number; iat?: number }
      expect(payload.exp).toBe(NOW / 1000 + 3600)
    })
  })
})

describe('a bad-key flood from one address', () => {
  it('gets 429 on the API, while /health, the UI and the docs keep answering that address', async () => {
    await withApp({ auth, rateLimit: { max: 50, hashChecksPerS: 1000, hashChecksAtOnce: 2 } }, async (app) => {
      const from = '10.66.0.1'
      const statuses = new Map<number, number>()
      for (let i = 0; i < 500; i++) {
        const res = await app.inject({ url: '/api/v1/devices', headers: { 'x-api-key': `pwk_guess_${randomBytes(8).toString('hex')}` }, remoteAddress: from })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
      expect(Object.fromEntries(statuses)).toEqual({ 401: 50, 429: 450 })
      for (let i = 0; i < 20; i++) {
        for (const url of ['/api/v1/health', '/', '/ui/app.js', '/docs', '/docs/json']) {
          const res = await app.inject({ url, remoteAddress: from })
          expect(res.statusCode, url).toBe(200)
        }
        // A bad key on /health itself changes nothing: health is public and never limited.
        const withKey = await app.inject({ url: '/api/v1/health', headers: { 'x-api-key': `pwk_guess_${i}` }, remoteAddress: from })
        expect([200, 503]).toContain(withKey.statusCode)
      }
      // Good credentials from the same address have their own budget.
      expect((await app.inject({ url: '/api/v1/devices', headers: { 'x-api-key': ADMIN_KEY }, remoteAddress: from })).statusCode).toBe(200)
    })
  })

  it('/health with random scrypt-checked keys never answers 429, even when the hash gate is full', async () => {
    await withApp({ auth, rateLimit: { hashChecksPerS: 1, hashChecksAtOnce: 1 } }, async (app) => {
      const res = await Promise.all(
        Array.from({ length: 20 }, (_, i) => app.inject({ url: '/api/v1/health', headers: { 'x-api-key': `pwk_random_${i}` }, remoteAddress: '10.66.0.2' })),
      )
      expect(res.map((r) => r.statusCode)).toEqual(Array.from({ length: 20 }, () => 200))
      // …while a protected route under the same flood is told to come back.
      const protectedRes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => app.inject({ url: '/api/v1/devices', headers: { 'x-api-key': `pwk_other_${i}` }, remoteAddress: '10.66.0.3' })),
      )
      expect(protectedRes.some((r) => r.statusCode === 429 && r.headers['retry-after'] === '1')).toBe(true)
      expect(protectedRes.every((r) => r.statusCode === 429 || r.statusCode === 401)).toBe(true)
    })
  })
})
