import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Authenticator } from '../auth.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { PERMISSIONS, ROLES, ROLE_PERMISSIONS, type Permission } from '../principal.ts'
import { StringEnum } from '../schemas.ts'
import type { RouteOptions } from '../context.ts'

export interface AuthRouteOptions extends RouteOptions {
  auth: Authenticator
  /** Login attempts per IP per window; undefined = only the general limit. */
  loginRateLimit: { max: number; timeWindowMs: number } | undefined
}

const LoginBodySchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
)

const TokenSchema = Type.Object(
  {
    token: Type.String({ description: 'JWT (HS256): send as "Authorization: Bearer <token>"' }),
    expiresAt: Type.Integer({ description: 'when the token stops working, epoch ms' }),
    role: StringEnum(ROLES),
    enterprise: Type.Optional(Type.String({ description: 'the one enterprise the user sees; absent = all' })),
  },
  { description: 'a login token' },
)

const MeSchema = Type.Object(
  {
    id: Type.String({ description: 'key id or username; anonymous when auth is off' }),
    role: StringEnum(ROLES),
    enterprise: Type.Union([Type.String(), Type.Null()], { description: 'the one enterprise visible; null = all' }),
    via: StringEnum(['none', 'api-key', 'jwt'] as const, { description: 'how the request was authenticated' }),
    auth: StringEnum(['on', 'off'] as const, { description: 'off: no key and no user configured, every request is an anonymous admin' }),
    permissions: Type.Array(StringEnum(Object.keys(PERMISSIONS) as Permission[])),
  },
  { description: 'the caller' },
)

/** POST /auth/login (username + password → token) and GET /auth/me. Registered by installAuth. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRouteOptions> = async (app, { auth, loginRateLimit }) => {
  app.post(
    '/auth/login',
    {
      config: {
        public: true,
        ...(loginRateLimit
          ? { rateLimit: { max: loginRateLimit.max, timeWindow: loginRateLimit.timeWindowMs, keyGenerator: (req: { ip: string }) => `login:${req.ip}` } }
          : {}),
      },
      schema: {
        summary: 'Log in with username and password; answers a token for "Authorization: Bearer"',
        tags: ['auth'],
        body: LoginBodySchema,
        response: { 200: TokenSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      if (!auth.hasUsers) throw apiError('API_ERR_UNAVAILABLE', 'login is not available: no users are configured (api.auth.users)')
      // Throws API_ERR_RATE_LIMITED (429 + Retry-After) while this username or address is throttled.
      const principal = await auth.login(req.body.username, req.body.password, req.ip)
      if (!principal) {
        // A name that is no user may be a password typed in the wrong field: it is not logged.
        req.log.warn({ username: auth.knowsUser(req.body.username) ? req.body.username : '(not a user)', ip: req.ip }, 'login refused')
        throw apiError('API_ERR_UNAUTHORIZED', 'wrong username or password')
      }
      const { token, expiresAt } = await auth.issue(principal)
      return { token, expiresAt, role: principal.role, ...(principal.enterprise === undefined ? {} : { enterprise: principal.enterprise }) }
    },
  )

  app.get(
    '/auth/me',
    { schema: { summary: 'Who the caller is: id, role, enterprise and permissions', tags: ['auth'], response: { 200: MeSchema, ...ERROR_RESPONSES } } },
    async (req) => {
      const p = req.principal
      return {
        id: p.id,
        role: p.role,
        enterprise: p.enterprise ?? null,
        via: p.via ?? 'none',
        auth: auth.enabled ? ('on' as const) : ('off' as const),
        permissions: [...ROLE_PERMISSIONS[p.role]],
      }
    },
  )
}
