import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import rateLimit from '@fastify/rate-limit'
import { parsePasswordHash, verifyPassword, type PasswordHash } from '../broker/password.ts'
import { PlantWattError } from '../core/errors.ts'
import { API_PREFIX } from './prefix.ts'
import { authSettings, rateLimitSettings, type AuthConfig } from './config.ts'
import type { ApiContext } from './context.ts'
import { apiError } from './errors.ts'
import { HashGate } from './hash-gate.ts'
import { LoginThrottle } from './login-throttle.ts'
import { ANONYMOUS_ADMIN, NOBODY, requirePermission, type Principal } from './principal.ts'
import { authRoutes } from './routes/auth.ts'

/** An unknown user is checked against this hash, so that the answer takes as long as for a known one. */
const DUMMY_HASH = parsePasswordHash('scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')
/** Bad keys remembered, so repeating one costs no scrypt; bounded so random keys cannot grow it. */
const REJECTED_KEYS_MAX = 1024
/**
 * Routes the key-failure (per-address) rate limit never answers with 429: a load balancer's health check
 * and the static UI and docs stay up for an address that floods bad keys elsewhere.
 */
const UNLIMITED_ROUTES = new Set([`${API_PREFIX}/health`, '/', '/ui/:file'])

const MISSING = `credentials required: send "Authorization: Bearer <token>" (from POST ${API_PREFIX}/auth/login) or "X-API-Key: <key>"`

interface UserEntry {
  principal: Principal
  hash: PasswordHash
  /** Changes with the password hash: a token issued before a password change no longer verifies. */
  fingerprint: string
}

interface TokenClaims {
  sub: string
  role: string
  enterprise?: string
  /** fingerprint of the user's password hash at login */
  pwh: string
  /** expiry, epoch s: required */
  exp?: number
}

/** A signed login token and when it expires (epoch ms). */
export interface IssuedToken {
  token: string
  expiresAt: number
}

/** What the auth routes need from the plugin: checking passwords and issuing tokens. */
export interface Authenticator {
  /** False while no key and no user is configured: everyone is an anonymous admin. */
  readonly enabled: boolean
  readonly hasUsers: boolean
  /** True when `username` is a configured user (for logs: an unknown name may be a mistyped password). */
  knowsUser(username: string): boolean
  /**
   * The user's principal when the password is right; null otherwise (constant time in both cases).
   * Throws API_ERR_RATE_LIMITED (details.retryAfterS) while failed logins of this username or from this
   * address are throttled (api/login-throttle.ts) or too many password checks wait (api/hash-gate.ts).
   */
  login(username: string, password: string, address: string): Promise<Principal | null>
  issue(principal: Principal): Promise<IssuedToken>
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const principalOf = (id: string, role: Principal['role'], enterprise: string | undefined, via: Principal['via']): Principal =>
  Object.freeze(enterprise === undefined ? { id, role, via } : { id, role, enterprise, via })

/**
 * API keys: sha256 hashes are looked up directly; scrypt hashes cost one scrypt per configured key on
 * the first use of a key (~50 ms each), after which the key is remembered (by its sha256) in memory.
 */
class KeyRing {
  private readonly bySha = new Map<string, Principal>()
  private readonly scrypt: { principal: Principal; hash: PasswordHash }[] = []
  private readonly verified = new Map<string, Principal>()
  private readonly rejected = new Set<string>()
  private readonly pending = new Map<string, Promise<Principal | null>>()

  constructor(
    keys: AuthConfig['apiKeys'],
    private readonly gate: HashGate,
  ) {
    for (const k of keys) {
      const principal = principalOf(k.id, k.role, k.enterprise, 'api-key')
      if (k.keyHash.startsWith('sha256$')) this.bySha.set(k.keyHash.slice('sha256$'.length), principal)
      else this.scrypt.push({ principal, hash: parsePasswordHash(k.keyHash) })
    }
  }

  /** The key's principal, null when it is known to be bad, undefined when a scrypt check is needed. */
  quick(digest: string): Principal | null | undefined {
    const known = this.bySha.get(digest) ?? this.verified.get(digest)
    if (known) return known
    if (this.rejected.has(digest) || this.scrypt.length === 0) return null
    return undefined
  }

  /** The slow path, after rate limiting: concurrent requests with the same key share one check. */
  check(key: string, digest: string): Promise<Principal | null> {
    const quick = this.quick(digest)
    if (quick !== undefined) return Promise.resolve(quick)
    let p = this.pending.get(digest)
    if (!p) {
      // A flood of random keys queues at the gate instead of taking every core.
      p = this.gate.run(() => this.scan(key, digest)).finally(() => this.pending.delete(digest))
      this.pending.set(digest, p)
    }
    return p
  }

  private async scan(key: string, digest: string): Promise<Principal | null> {
    for (const entry of this.scrypt) {
      if (await verifyPassword(key, entry.hash)) {
        this.verified.set(digest, entry.principal)
        return entry.principal
      }
    }
    if (this.rejected.size >= REJECTED_KEYS_MAX) this.rejected.delete(this.rejected.values().next().value as string)
    this.rejected.add(digest)
    return null
  }
}

/** Per request: what the onRequest hook found and the preValidation hook must still settle. */
interface Pending {
  /** An X-API-Key that needs a scrypt check. */
  key?: { key: string; digest: string }
  /** Why the credentials were refused (401 on a protected route). */
  problem?: string
}

const THROTTLED_BY = { 'user-address': 'of this username from this address', address: 'from this address', user: 'of this username' } as const

function isUnlimited(req: FastifyRequest): boolean {
  const url = req.routeOptions.url ?? ''
  return UNLIMITED_ROUTES.has(url) || url === '/docs' || url.startsWith('/docs/')
}

function isProtected(req: FastifyRequest): boolean {
  if (req.routeOptions.config?.public === true) return false
  const path = req.url.split('?')[0] ?? ''
  return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)
}

/**
 * Authentication, authorisation and rate limiting. Sets `req.principal` on every request:
 *
 * - no key and no user configured → every request is ANONYMOUS_ADMIN (auth off);
 * - `X-API-Key: <key>` → the key's principal; `Authorization: Bearer <jwt>` → the user's principal;
 * - otherwise NOBODY, and every /api/v1 route that is not `config.public` answers 401.
 *
 * Then `config.permission` of the route is checked (403). Rate limiting runs between the two, keyed
 * by principal (by IP before a principal is known), so a bad key costs a scrypt only within the limit.
 */
export async function installAuth(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const settings = authSettings(ctx.config)
  const limits = rateLimitSettings(ctx.config)
  const enabled = settings.apiKeys.length > 0 || settings.users.length > 0
  const gate = new HashGate({ perS: limits.hashChecksPerS, atOnce: limits.hashChecksAtOnce })
  const throttle = new LoginThrottle(
    {
      freeFailures: limits.loginFreeFailures,
      backoffMs: limits.loginBackoffMs,
      windowMs: limits.loginWindowMs,
      failuresPerAddress: limits.loginFailuresPerAddress,
      failuresPerUser: limits.loginFailuresPerUser,
    },
    ctx.now,
  )
  const keys = new KeyRing(settings.apiKeys, gate)
  const users = new Map<string, UserEntry>(
    settings.users.map((u) => [u.username, { principal: principalOf(u.username, u.role, u.enterprise, 'jwt'), hash: parsePasswordHash(u.passwordHash), fingerprint: sha256(u.passwordHash).slice(0, 16) }]),
  )

  let secret = settings.jwtSecret ?? process.env.PLANTWATT_JWT_SECRET
  if (secret === undefined || secret.length === 0) {
    secret = randomBytes(32).toString('base64')
    if (users.size > 0) app.log.warn('api.auth.jwtSecret and PLANTWATT_JWT_SECRET are not set: login tokens are signed with a random secret and die with this process')
  } else if (secret.length < 32) {
    throw new PlantWattError('CORE_ERR_CONFIG', 'PLANTWATT_JWT_SECRET must have at least 32 characters (e.g. openssl rand -base64 48)')
  }
  // Every token signed here expires; one without exp (signed elsewhere with the same secret) is refused.
  await app.register(fastifyJwt, { secret, sign: { algorithm: 'HS256', expiresIn: settings.tokenTtlS }, verify: { algorithms: ['HS256'], requiredClaims: ['exp'] } })

  const pending = new WeakMap<FastifyRequest, Pending>()
  app.decorateRequest('principal', null as unknown as Principal)

  const fromToken = (token: string): Principal | string => {
    let claims: TokenClaims
    try {
      claims = app.jwt.verify<TokenClaims>(token, { clockTimestamp: ctx.now() })
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'FAST_JWT_EXPIRED') return 'bearer token has expired: log in again'
      if (code === 'FAST_JWT_MISSING_REQUIRED_CLAIM') return 'bearer token has no expiry (exp): log in again'
      return 'bearer token is not valid'
    }
    // Also checked here, so that no verifier option can let a token without an end through.
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return 'bearer token has no expiry (exp): log in again'
    // The role and scope come from the config of now, not from the token: removing a user, changing
    // their role or password takes effect at once.
    const user = users.get(claims.sub)
    if (!user || user.fingerprint !== claims.pwh) return 'bearer token is not valid'
    return user.principal
  }

  app.addHook('onRequest', async (req) => {
    if (!enabled) {
      req.principal = ANONYMOUS_ADMIN
      return
    }
    req.principal = NOBODY
    const header = req.headers.authorization
    const apiKey = req.headers['x-api-key']
    const query = req.query as Record<string, unknown> | undefined
    // EventSource cannot send headers: routes that opt in take the token as ?access_token=.
    let queryToken: string | undefined
    if (req.routeOptions.config?.tokenInQuery === true && query && typeof query.access_token === 'string') {
      queryToken = query.access_token
      delete query.access_token
    }
    if (header === undefined && apiKey === undefined && queryToken === undefined) {
      pending.set(req, { problem: MISSING })
      return
    }
    if ([header, apiKey, queryToken].filter((v) => v !== undefined).length > 1) {
      pending.set(req, { problem: 'send one credential: Authorization, X-API-Key or access_token, not several' })
      return
    }
    if (apiKey !== undefined) {
      if (typeof apiKey !== 'string' || apiKey.length === 0 || apiKey.length > 512) {
        pending.set(req, { problem: 'X-API-Key header must hold one key' })
        return
      }
      const digest = sha256(apiKey)
      const found = keys.quick(digest)
      if (found) req.principal = found
      else if (found === null) pending.set(req, { problem: 'API key not recognised' })
      else pending.set(req, { key: { key: apiKey, digest } })
      return
    }
    let token = queryToken
    if (token === undefined) {
      const m = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/.exec(header ?? '')
      if (!m) {
        pending.set(req, { problem: 'Authorization header must be "Bearer <token>"' })
        return
      }
      token = m[1] as string
    }
    const found = fromToken(token)
    if (typeof found === 'string') pending.set(req, { problem: found })
    else req.principal = found
  })

  if (limits.max > 0 || limits.loginMax > 0) {
    await app.register(rateLimit, {
      global: limits.max > 0,
      max: limits.max,
      timeWindow: limits.timeWindowMs,
      keyGenerator: (req) => (req.principal.via === 'none' ? `ip:${req.ip}` : `${req.principal.via ?? 'p'}:${req.principal.id}`),
      // Health, the UI page and its files, and the docs never answer 429 (see UNLIMITED_ROUTES).
      allowList: (req) => isUnlimited(req),
      errorResponseBuilder: (_req, c) =>
        apiError('API_ERR_RATE_LIMITED', `too many requests: at most ${c.max} per ${limits.timeWindowMs / 1000} s; retry in ${c.after}`, { max: c.max, retryAfterS: Math.ceil(c.ttl / 1000) }),
    })
  }

  app.addHook('preValidation', async (req) => {
    const p = pending.get(req)
    if (p?.key) {
      let found: Principal | null
      try {
        found = await keys.check(p.key.key, p.key.digest)
      } catch (err) {
        // The hash gate is full: a protected route answers 429; a public one (health) answers as to NOBODY.
        if (isProtected(req)) throw err
        found = null
      }
      if (found) req.principal = found
      else p.problem = 'API key not recognised'
    }
    if (p?.problem !== undefined && isProtected(req)) throw apiError('API_ERR_UNAUTHORIZED', p.problem)
    const permission = req.routeOptions.config?.permission
    if (permission !== undefined) requirePermission(req, permission)
  })

  const authenticator: Authenticator = {
    enabled,
    hasUsers: users.size > 0,
    knowsUser: (username) => users.has(username),
    async login(username, password, address) {
      const verdict = throttle.check(username, address)
      if (!verdict.allowed) {
        const retryAfterS = Math.ceil(verdict.retryAfterMs / 1000)
        throw apiError('API_ERR_RATE_LIMITED', `too many failed logins ${THROTTLED_BY[verdict.by]}; retry in ${retryAfterS} s`, { retryAfterS, by: verdict.by })
      }
      const user = users.get(username)
      const ok = await gate.run(() => verifyPassword(password, user?.hash ?? DUMMY_HASH))
      if (ok && user) {
        throttle.succeeded(username, address)
        return user.principal
      }
      throttle.failed(username, address)
      return null
    },
    async issue(principal) {
      const user = users.get(principal.id)
      if (!user) throw apiError('API_ERR_UNAUTHORIZED', 'only configured users get tokens')
      const now = ctx.now()
      const claims: TokenClaims = { sub: principal.id, role: principal.role, pwh: user.fingerprint, ...(principal.enterprise === undefined ? {} : { enterprise: principal.enterprise }) }
      const token = app.jwt.sign(claims, { expiresIn: settings.tokenTtlS, clockTimestamp: now })
      // exp is whole seconds from iat (floor of now in s), as the verifier reads it.
      return { token, expiresAt: (Math.floor(now / 1000) + settings.tokenTtlS) * 1000 }
    },
  }
  await app.register(authRoutes, { ctx, auth: authenticator, prefix: API_PREFIX, loginRateLimit: limits.loginMax > 0 ? { max: limits.loginMax, timeWindowMs: limits.timeWindowMs } : undefined })
}
