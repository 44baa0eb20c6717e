import type { FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import rateLimit from '@fastify/rate-limit'
import { API_PREFIX } from './prefix.ts'
import { authSettings, rateLimitSettings } from './config.ts'
import type { ApiContext } from './context.ts'
import { HashGate } from './hash-gate.ts'
import type { Principal } from './principal.ts'
import { authRoutes } from './routes/auth.ts'
import { resolveJwtSecret } from './auth/jwt-secret.ts'
import { KeyRing } from './auth/key-ring.ts'
import { PasswordLogin, loginThrottleFor } from './auth/password-login.ts'
import { rateLimitOptions } from './auth/rate-limit.ts'
import { RequestAuthentication } from './auth/request-auth.ts'
import { checkRoutePermission } from './auth/route-access.ts'
import { LoginTokens, type IssuedToken } from './auth/tokens.ts'
import { UserDirectory } from './auth/user-directory.ts'

export type { IssuedToken } from './auth/tokens.ts'

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
  // One gate for every scrypt: key checks and logins.
  const gate = new HashGate({ perS: limits.hashChecksPerS, atOnce: limits.hashChecksAtOnce })
  const users = new UserDirectory(settings.users)
  const keys = new KeyRing(settings.apiKeys, gate)
  const login = new PasswordLogin(users, loginThrottleFor(limits, ctx.now), gate)

  const secret = resolveJwtSecret(settings.jwtSecret ?? process.env.PLANTWATT_JWT_SECRET, users.size > 0, (message) => app.log.warn(message))
  // Every token signed here expires; one without exp (signed elsewhere with the same secret) is refused.
  await app.register(fastifyJwt, {
    secret,
    sign: { algorithm: 'HS256', expiresIn: settings.tokenTtlS },
    verify: { algorithms: ['HS256'], requiredClaims: ['exp'] },
  })
  const tokens = new LoginTokens(app.jwt, users, settings.tokenTtlS, ctx.now)

  const enabled = settings.apiKeys.length > 0 || settings.users.length > 0
  const requests = new RequestAuthentication(enabled, keys, tokens)
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (req) => requests.identify(req))
  if (limits.max > 0 || limits.loginMax > 0) await app.register(rateLimit, rateLimitOptions(limits))
  app.addHook('preValidation', async (req) => {
    await requests.settle(req)
    checkRoutePermission(req)
  })

  const authenticator: Authenticator = {
    enabled,
    hasUsers: users.size > 0,
    knowsUser: (username) => users.has(username),
    login: (username, password, address) => login.login(username, password, address),
    issue: async (principal) => tokens.issue(principal),
  }
  await app.register(authRoutes, {
    ctx,
    auth: authenticator,
    prefix: API_PREFIX,
    loginRateLimit: limits.loginMax > 0 ? { max: limits.loginMax, timeWindowMs: limits.timeWindowMs } : undefined,
  })
}
