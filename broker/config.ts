import Type from 'typebox'
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts'
import { ID_PATTERN } from '../core/topic.ts'
import { BROKER_ROLES } from './acl.ts'

export const ANONYMOUS_POLICIES = ['auto', 'loopback', 'never', 'always'] as const

/** One broker user: a gateway (edge agent) or a service, with its scrypt password hash. */
export const BrokerUserSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    passwordHash: Type.String({ pattern: '^scrypt\\$', description: 'scrypt$N$r$p$salt$hash from `plantwatt broker passwd`; never the password itself' }),
    role: Type.Enum(BROKER_ROLES, { description: 'gateway: publishes under its enterprise/site; ingest, service: read pw/#; admin: everything' }),
    enterprise: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'gateway: the enterprise it publishes for' })),
    site: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'gateway: its site (absent: every site of the enterprise)' })),
  },
  { additionalProperties: false },
)

export const BrokerTlsSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8883, description: 'MQTT over TLS port; 0 picks a free port' }),
    certFile: Type.String({ description: 'PEM certificate (chain) of the broker' }),
    keyFile: Type.String({ description: 'PEM private key of the broker' }),
    caFile: Type.Optional(Type.String({ description: 'PEM CA that client certificates must chain to (with clientCertificates: require)' })),
    clientCertificates: Type.Enum(['none', 'require'] as const, {
      default: 'none',
      description: 'require: refuse TLS clients without a certificate from caFile',
    }),
  },
  { additionalProperties: false },
)

export const BrokerWebSocketSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8083, description: 'MQTT over WebSocket port; 0 picks a free port' }),
    path: Type.String({ default: '/mqtt', pattern: '^/', description: 'HTTP path of the WebSocket endpoint' }),
  },
  { additionalProperties: false },
)

export const BrokerClusterSchema = Type.Object(
  {
    redisUrl: Type.String({
      pattern: '^rediss?://',
      description: 'redis://[:password@]host:port[/db]: shared routing (mqemitter-redis) and sessions (aedes-persistence-redis)',
    }),
    brokerId: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'this node in the cluster; default a random id' })),
  },
  { additionalProperties: false },
)

export const BrokerPublishRateSchema = Type.Object(
  {
    messagesPerS: Type.Integer({ minimum: 0, default: 2000, description: 'sustained publishes per second per connection; 0 = unlimited' }),
    burst: Type.Integer({ minimum: 1, default: 20_000, description: 'publishes a connection may send at once before throttling starts' }),
  },
  { additionalProperties: false, default: {} },
)

const MIB = 1024 * 1024

function sessionLimitSchema(messages: number, bytes: number, expiryS: number, who: string) {
  return Type.Object(
    {
      maxQueuedMessages: Type.Integer({
        minimum: 1,
        default: messages,
        description: `QoS 1 messages one ${who} session may hold (queued while offline or not yet acknowledged); newer ones are dropped and counted`,
      }),
      maxQueuedBytes: Type.Integer({ minimum: 1024, default: bytes, description: `topic + payload bytes one ${who} session may hold` }),
      expiryS: Type.Integer({ minimum: 1, default: expiryS, description: `a persistent ${who} session offline this long is removed with its queue (s)` }),
    },
    { additionalProperties: false, default: {} },
  )
}

/**
 * Persistent sessions (clean=false): every queue is bounded and every session expires. Ingest's own
 * session (role ingest, and admins — anonymous loopback clients are admins) is sized for an ingest
 * outage: 200,000 messages is 1.5 h of the Hubei demo at 1 s polling unbatched (38 messages/s), about
 * 14 h with `edge.publishIntervalMs: 10000`.
 */
export const BrokerSessionsSchema = Type.Object(
  {
    client: sessionLimitSchema(10_000, 16 * MIB, 3600, 'gateway or service'),
    ingest: sessionLimitSchema(200_000, 256 * MIB, 86_400, 'ingest or admin'),
    sweepIntervalMs: Type.Integer({ minimum: 100, default: 30_000, description: 'how often expired sessions are looked for (ms)' }),
  },
  { additionalProperties: false, default: {} },
)

/** Failed logins: throttled per address and per username; scrypt work bounded (broker/login-throttle.ts). */
export const BrokerLoginThrottleSchema = Type.Object(
  {
    addressFailures: Type.Integer({ minimum: 1, default: 5, description: 'failed logins from one address before it must wait (1 s, doubling)' }),
    userFailures: Type.Integer({
      minimum: 1,
      default: 20,
      description: 'failed logins of one username, from addresses it never logged in from, before those must wait',
    }),
    windowS: Type.Integer({ minimum: 1, default: 900, description: 'how long failures are remembered (s)' }),
    maxBlockS: Type.Integer({ minimum: 1, default: 300, description: 'longest wait imposed (s); the right password works again after it' }),
    hashesPerS: Type.Integer({ minimum: 1, default: 20, description: 'password checks (scrypt, ~50 ms CPU each) started per second, all logins together' }),
    maxWaiting: Type.Integer({ minimum: 0, default: 200, description: 'password checks waiting for their turn; more are answered CONNACK 3 at once' }),
  },
  { additionalProperties: false, default: {} },
)

/** The MQTT broker (Aedes): where it listens, who may connect and what it lets through. */
export const BrokerConfigSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'interface to listen on (0.0.0.0 for all)' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'MQTT TCP port; 0 picks a free port' }),
    maxPayloadBytes: Type.Integer({
      minimum: 1,
      default: DEFAULT_MAX_PAYLOAD_BYTES,
      description: 'larger payloads are dead-lettered; packets over 4× this close the connection (bytes)',
    }),
    validatePayloads: Type.Boolean({ default: true, description: 'decode and check data payloads; invalid ones go to the dead-letter topic' }),
    users: Type.Array(BrokerUserSchema, { default: [], description: 'who may connect with a username and password' }),
    anonymous: Type.Enum(ANONYMOUS_POLICIES, {
      default: 'auto',
      description:
        'clients without a username: auto = loopback when no users are configured, never otherwise; loopback = only from 127.0.0.1/::1 (full access); never; always',
    }),
    maxConnections: Type.Integer({ minimum: 1, default: 10_000, description: 'connected clients; more are refused with CONNACK 3 (server unavailable)' }),
    publishRate: BrokerPublishRateSchema,
    sessions: BrokerSessionsSchema,
    loginThrottle: BrokerLoginThrottleSchema,
    drainTimeoutMs: Type.Integer({ minimum: 0, default: 10_000, description: 'a subscriber that does not read for this long is disconnected (ms; 0 = never)' }),
    tls: Type.Optional(BrokerTlsSchema),
    websocket: Type.Optional(BrokerWebSocketSchema),
    cluster: Type.Optional(BrokerClusterSchema),
    sysIntervalMs: Type.Integer({
      minimum: 0,
      default: 10_000,
      description: 'publish the broker counters (JSON, not retained) to $SYS/{brokerId}/plantwatt/stats this often (ms; 0 = never)',
    }),
  },
  { additionalProperties: false },
)

export type BrokerConfig = Type.Static<typeof BrokerConfigSchema>
export type BrokerUser = Type.Static<typeof BrokerUserSchema>
export type BrokerSessions = Type.Static<typeof BrokerSessionsSchema>
