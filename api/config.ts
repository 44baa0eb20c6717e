import Type from 'typebox'
import { validateConfig, type ConfigProblem } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { ID_PATTERN } from '../core/topic.ts'
import { parsePasswordHash } from '../broker/password.ts'
import { ENTERPRISE_ROLES, ROLES } from './principal.ts'

const SHA256_KEY_RE = /^sha256\$[0-9a-f]{64}$/

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ pattern: ID_PATTERN, description: 'name of the key: the principal id in logs and /auth/me' }),
    keyHash: Type.String({
      pattern: '^(scrypt|sha256)\\$',
      description: 'hash of the key, never the key: scrypt$… from `plantwatt broker passwd`, or sha256$<hex> (printf %s KEY | sha256sum)',
    }),
    role: Type.Enum(ROLES, { description: 'operator, engineer, commission or admin (see api/README.md)' }),
    enterprise: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'the one enterprise it may see; required for operator and engineer' })),
  },
  { additionalProperties: false },
)

export const ApiUserSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    passwordHash: Type.String({ pattern: '^scrypt\\$', description: 'scrypt$N$r$p$salt$hash from `plantwatt broker passwd`; never the password itself' }),
    role: Type.Enum(ROLES, { description: 'operator, engineer, commission or admin' }),
    enterprise: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'the one enterprise the user may see; required for operator and engineer' })),
  },
  { additionalProperties: false },
)

export const AuthConfigSchema = Type.Object(
  {
    apiKeys: Type.Optional(Type.Array(ApiKeySchema, { default: [], description: 'keys for machines (X-API-Key header)' })),
    users: Type.Optional(Type.Array(ApiUserSchema, { default: [], description: 'people: POST /api/v1/auth/login gives a token (Authorization: Bearer)' })),
    jwtSecret: Type.Optional(
      Type.String({
        minLength: 32,
        description: 'HS256 secret of login tokens (≥ 32 chars); default env PLANTWATT_JWT_SECRET, else random at start (tokens die with the process)',
      }),
    ),
    tokenTtlS: Type.Optional(Type.Integer({ minimum: 60, maximum: 30 * 86_400, default: 43_200, description: 'lifetime of a login token, in seconds' })),
  },
  { additionalProperties: false, description: 'authentication; with no key and no user, auth is off and every request is an anonymous admin' },
)

export const RateLimitConfigSchema = Type.Object(
  {
    max: Type.Optional(Type.Integer({ minimum: 0, default: 600, description: 'requests per principal (per IP when anonymous) per window; 0 = no limit' })),
    timeWindowMs: Type.Optional(Type.Integer({ minimum: 1000, default: 60_000, description: 'length of the rate-limit window, in ms' })),
    loginMax: Type.Optional(Type.Integer({ minimum: 0, default: 10, description: 'login attempts per IP per window; 0 = only the general limit' })),
    loginFreeFailures: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 5,
        description: 'failed logins of one username from one address before each further attempt must wait (429 with Retry-After)',
      }),
    ),
    loginBackoffMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 1000,
        description: 'the first wait after the free failures, in ms; it doubles with each further failure, up to loginWindowMs',
      }),
    ),
    loginWindowMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        default: 900_000,
        description: 'failed logins are forgotten this long after the first one, in ms: the longest a right password can be refused',
      }),
    ),
    loginFailuresPerAddress: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 30,
        description: 'failed logins from one address (any username) per loginWindowMs; beyond, that address waits for the window to end',
      }),
    ),
    loginFailuresPerUser: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 100,
        description:
          'failed logins of one username from all addresses per loginWindowMs; beyond, it waits for the window to end — except from addresses it logged in from before',
      }),
    ),
    hashChecksPerS: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 10,
        description:
          'scrypt checks (passwords at login, scrypt API keys on first use) per second for the whole process; beyond, they queue, and past 2 s of queue the request answers 429',
      }),
    ),
    hashChecksAtOnce: Type.Optional(
      Type.Integer({ minimum: 1, default: 2, description: 'scrypt checks running at the same time (each takes one core for ~50 ms)' }),
    ),
  },
  { additionalProperties: false },
)

export const StreamConfigSchema = Type.Object(
  {
    pollMs: Type.Optional(
      Type.Integer({ minimum: 100, default: 1000, description: 'how often the live stream reads the latest values of each subscribed line, in ms' }),
    ),
    heartbeatMs: Type.Optional(
      Type.Integer({ minimum: 100, default: 15_000, description: 'comment line sent on idle streams so proxies keep them open, in ms' }),
    ),
    maxClients: Type.Optional(Type.Integer({ minimum: 1, default: 1000, description: 'open streams per process; beyond, 503' })),
  },
  { additionalProperties: false },
)

export const ApiConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'interface to listen on (0.0.0.0 for all)' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 = any free port' }),
    maxRangeDays: Type.Integer({ minimum: 1, default: 400, description: 'longest time range one query may span, in days' }),
    maxPoints: Type.Integer({ minimum: 1, default: 100_000, description: 'most rows (windows) one answer may hold' }),
    liveWindowS: Type.Integer({ minimum: 1, default: 3600, description: 'how far back /live and /devices look for telemetry, in seconds' }),
    onlineAfterMs: Type.Integer({ minimum: 1, default: 10_000, description: 'a device is online when its newest sample is at most this old, in ms' }),
    rollupRefreshS: Type.Integer({
      minimum: 0,
      default: 300,
      description: 'how often the API process rolls counters of closed quarter hours up for reports, seconds (0 = only on demand)',
    }),
    importMaxBytes: Type.Integer({ minimum: 1, default: 104_857_600, description: 'largest CSV body POST /api/v1/import accepts, bytes (a larger one: 413)' }),
    // Optional without a default: absent = 1 (api/routes/import.ts DEFAULT_IMPORTS_PER_USER).
    importConcurrencyPerUser: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'imports (POST /api/v1/import) one user or key may run at the same time; one more answers 429 IMPORT_ERR_BUSY; default 1',
      }),
    ),
    // Sections without a default at this level: absent = their defaults (authSettings() & co.).
    auth: Type.Optional(AuthConfigSchema),
    rateLimit: Type.Optional(RateLimitConfigSchema),
    stream: Type.Optional(StreamConfigSchema),
  },
  { additionalProperties: false },
)

// Section keys are optional in the input (every one has a default); the *Settings() functions return
// them filled, typed as such.
export type ApiConfig = Type.Static<typeof ApiConfigSchema>
export type AuthConfig = Required<Omit<Type.Static<typeof AuthConfigSchema>, 'jwtSecret'>> & Pick<Type.Static<typeof AuthConfigSchema>, 'jwtSecret'>
export type RateLimitConfig = Required<Type.Static<typeof RateLimitConfigSchema>>
export type StreamConfig = Required<Type.Static<typeof StreamConfigSchema>>

/**
 * Fills defaults and validates; throws CORE_ERR_CONFIG naming every bad key — the schema's problems,
 * then the cross-field ones: operator/engineer without an enterprise, duplicate ids, unreadable hashes.
 */
export function resolveApiConfig(partial: Partial<ApiConfig> = {}): Readonly<ApiConfig> {
  const config = validateConfig(ApiConfigSchema, partial, 'api')
  const problems = authProblems(authSettings(config))
  if (problems.length > 0) {
    throw new PlantWattError('CORE_ERR_CONFIG', `api: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
      details: problems,
    })
  }
  return config
}

/** The auth section with its defaults. */
export function authSettings(config: Readonly<ApiConfig>): Readonly<AuthConfig> {
  return validateConfig(AuthConfigSchema, config.auth ?? {}, 'api.auth') as Readonly<AuthConfig>
}

/** The rate-limit section with its defaults. */
export function rateLimitSettings(config: Readonly<ApiConfig>): Readonly<RateLimitConfig> {
  return validateConfig(RateLimitConfigSchema, config.rateLimit ?? {}, 'api.rateLimit') as Readonly<RateLimitConfig>
}

/** The stream section with its defaults. */
export function streamSettings(config: Readonly<ApiConfig>): Readonly<StreamConfig> {
  return validateConfig(StreamConfigSchema, config.stream ?? {}, 'api.stream') as Readonly<StreamConfig>
}

function authProblems(auth: Readonly<AuthConfig>): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const scope = (path: string, role: string, enterprise: string | undefined) => {
    if (ENTERPRISE_ROLES.includes(role as never) && enterprise === undefined) {
      problems.push({ path: `${path}/enterprise`, message: `role ${role} must name its enterprise (only commission and admin see every enterprise)` })
    }
  }
  const keyIds = new Set<string>()
  auth.apiKeys.forEach((k, i) => {
    const path = `/auth/apiKeys/${i}`
    if (keyIds.has(k.id)) problems.push({ path: `${path}/id`, message: `key id ${JSON.stringify(k.id)} is configured twice` })
    keyIds.add(k.id)
    if (k.keyHash.startsWith('sha256$')) {
      if (!SHA256_KEY_RE.test(k.keyHash))
        problems.push({ path: `${path}/keyHash`, message: 'sha256 key hash must be sha256$ followed by 64 lower-case hex digits' })
    } else {
      try {
        parsePasswordHash(k.keyHash)
      } catch (err) {
        problems.push({ path: `${path}/keyHash`, message: (err as Error).message })
      }
    }
    scope(path, k.role, k.enterprise)
  })
  const names = new Set<string>()
  auth.users.forEach((u, i) => {
    const path = `/auth/users/${i}`
    if (names.has(u.username)) problems.push({ path: `${path}/username`, message: `user ${JSON.stringify(u.username)} is configured twice` })
    names.add(u.username)
    try {
      parsePasswordHash(u.passwordHash)
    } catch (err) {
      problems.push({ path: `${path}/passwordHash`, message: (err as Error).message })
    }
    scope(path, u.role, u.enterprise)
  })
  return problems
}
