/** startBroker: the broker's wiring (see the parts it names below) and its running handle. */
import { Aedes, type AedesOptions } from 'aedes'
import { validateConfig } from '../core/config.ts'
import { describeError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { createAuthenticate } from './authenticate.ts'
import { createAuthorizeForward, createAuthorizePublish, createAuthorizeSubscribe } from './authorize.ts'
import { clusterParts, redisOptions } from './cluster.ts'
import { BrokerConfigSchema, type BrokerConfig } from './config.ts'
import { Connections } from './connections.ts'
import { LoginThrottle } from './login-throttle.ts'
import { createIndexedMemoryPersistence, type IndexedMemoryPersistence } from './persistence.ts'
import { RoutingGate } from './routing-gate.ts'
import { SessionKeeper } from './session-keeper.ts'
import { MemorySessionOwners, RedisSessionOwners, type SessionOwners } from './session-owners.ts'
import { SessionTable } from './sessions.ts'
import { BrokerCounters, type BrokerStats } from './stats.ts'
import { openTransports } from './transports.ts'
import { compileUsers } from './users.ts'

export { anonymousAllowed } from './authenticate.ts'
export type { BrokerStats } from './stats.ts'

export interface RunningBroker {
  host: string
  port: number
  /** mqtt://host:port */
  url: string
  /** mqtts://host:port when `tls` is configured. */
  tlsUrl?: string
  /** ws://host:port/path when `websocket` is configured. */
  wsUrl?: string
  /** Where the broker publishes stats() every sysIntervalMs (JSON, with ts and brokerId; not retained). */
  sysTopic: string
  stats(): BrokerStats
  /** Disconnects every client and stops listening. */
  close(): Promise<void>
}

/**
 * Access-control seams, all optional. Each one given replaces the config's own check (users with
 * scrypt hashes and role ACLs, `anonymous`); clients it admits get full (admin) topic access.
 */
export interface BrokerAccessControl {
  authenticate?(request: { clientId: string; username: string | undefined; password: Buffer | undefined }): boolean | Promise<boolean>
  /** Runs before the topic and payload checks; false refuses the publish. */
  authorizePublish?(request: { clientId: string; topic: string }): boolean | Promise<boolean>
  /** false grants the subscription no QoS (SUBACK 0x80). */
  authorizeSubscribe?(request: { clientId: string; topic: string }): boolean | Promise<boolean>
}

export interface StartBrokerOptions extends BrokerAccessControl {
  logger?: Logger
  /**
   * An Aedes persistence to use instead of the built-in one (without `cluster`: Aedes' memory
   * persistence with indexed, bounded QoS 1 queues, broker/persistence.ts). For comparisons in the bench.
   */
  persistence?: unknown
}

/** A broker config as written: every key optional, defaults filled by startBroker. */
export type BrokerConfigInput = Partial<Omit<BrokerConfig, 'publishRate' | 'tls' | 'websocket' | 'sessions' | 'loginThrottle'>> & {
  publishRate?: Partial<BrokerConfig['publishRate']>
  sessions?: { client?: Partial<BrokerConfig['sessions']['client']>; ingest?: Partial<BrokerConfig['sessions']['ingest']>; sweepIntervalMs?: number }
  loginThrottle?: Partial<BrokerConfig['loginThrottle']>
  tls?: Omit<NonNullable<BrokerConfig['tls']>, 'port' | 'clientCertificates'> & Partial<Pick<NonNullable<BrokerConfig['tls']>, 'port' | 'clientCertificates'>>
  websocket?: Partial<NonNullable<BrokerConfig['websocket']>>
}

/** Publishes waiting in Aedes' emitter queue beyond which new ones are held (routing-gate.ts). */
const MAX_ROUTING_QUEUE = 500
/** [MQTT-3.1.3-5] servers must accept 1–23 byte client ids and may accept longer; ours derive from host names. */
const MAX_CLIENT_ID_LENGTH = 256

/**
 * Starts an Aedes broker on `config.host:config.port` (0 = a free port) and resolves once listening.
 * The wiring: who may connect (authenticate.ts), what they may publish, subscribe and receive
 * (authorize.ts, acl.ts, publish-policy.ts), whose sessions they are and how long they last
 * (session-owners.ts, sessions.ts, session-keeper.ts, persistence.ts), where they connect
 * (transports.ts), and what was counted (stats.ts).
 */
export async function startBroker(input: BrokerConfigInput, opts: StartBrokerOptions = {}): Promise<RunningBroker> {
  const config = validateConfig(BrokerConfigSchema, input, 'broker') as BrokerConfig
  const logger = opts.logger ?? createLogger('broker')
  const users = compileUsers(config.users)
  const anonymous = config.anonymous === 'auto' ? (users.size > 0 ? 'never' : 'loopback') : config.anonymous
  const counters = new BrokerCounters()
  const connections = new Connections()
  const sessions = new SessionTable(config.sessions)
  const throttle = loginThrottleOf(config.loginThrottle)
  const cluster = config.cluster ? clusterParts(config.cluster) : undefined
  const memory: IndexedMemoryPersistence | undefined =
    cluster || opts.persistence ? undefined : createIndexedMemoryPersistence({ limitOf: sessions.limitOf, onDrop: sessions.onDrop })
  // A cluster's nodes share the owners through the Redis that holds the sessions.
  const owners: SessionOwners = config.cluster ? new RedisSessionOwners(redisOptions(config.cluster.redisUrl)) : new MemorySessionOwners()
  let aedesRef: Aedes | undefined
  // Aedes' emitter queue (mqemitter's `length`): private, and Aedes itself never looks at it
  // (moscajs/aedes#553). `test/library-internals.test.ts` fails if it changes.
  const gate = new RoutingGate(
    () => (aedesRef as unknown as { mq: { length: number } } | undefined)?.mq.length ?? 0,
    MAX_ROUTING_QUEUE,
    () => counters.heldForRouting++,
  )
  const parts = { connections, counters, logger }
  const options: AedesOptions = {
    maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
    authenticate: createAuthenticate({
      ...parts,
      config,
      users,
      anonymous,
      owners,
      throttle,
      connectedClients: () => aedesRef?.connectedClients ?? 0,
      seam: opts.authenticate,
    }),
    authorizePublish: createAuthorizePublish({
      ...parts,
      policy: { maxPayloadBytes: config.maxPayloadBytes, validatePayloads: config.validatePayloads },
      gate,
      seam: opts.authorizePublish,
    }),
    authorizeSubscribe: createAuthorizeSubscribe({ ...parts, seam: opts.authorizeSubscribe }),
    authorizeForward: createAuthorizeForward(parts),
    drainTimeout: config.drainTimeoutMs,
    ...(cluster
      ? { mq: cluster.mq, persistence: cluster.persistence, ...(cluster.id ? { id: cluster.id } : {}) }
      : { persistence: opts.persistence ?? memory }),
  }

  const aedes = await Aedes.createBroker(options)
  aedesRef = aedes
  aedes.on('clientError', (client, err: Error) => {
    logger.debug({ clientId: client.id, err: err.message }, 'client error')
  })
  const other = (cluster?.persistence ?? opts.persistence) as { cleanSubscriptions?(client: { id: string }): Promise<unknown> } | undefined
  const keeper = new SessionKeeper(aedes, { sessions, connections, owners, memory, other, sweepIntervalMs: config.sessions.sweepIntervalMs, logger })
  const stopParts = async (): Promise<void> => {
    gate.close()
    keeper.close()
    throttle.close()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await owners.close()
  }
  let transports: Awaited<ReturnType<typeof openTransports>>
  try {
    transports = await openTransports(aedes, config, parts)
  } catch (err) {
    await stopParts()
    throw err
  }
  const { host, port, url, tlsUrl, wsUrl } = transports
  logger.info({ url, tlsUrl, wsUrl, users: users.size, anonymous, cluster: config.cluster ? aedes.id : undefined }, 'broker listening')

  const queueOf = (clientId: string): { messages: number; bytes: number } => ({
    messages: memory?.outgoingSize(clientId) ?? 0,
    bytes: memory?.outgoingBytes(clientId) ?? 0,
  })
  const stats = (): BrokerStats => ({
    clients: aedes.connectedClients,
    ...counters.snapshot(),
    loginsThrottled: throttle.throttled,
    loginsShed: throttle.shed,
    queueDropped: sessions.droppedTotal,
    sessionsExpired: sessions.expired,
    sessions: sessions.stats(queueOf),
  })
  const sysTopic = `$SYS/${aedes.id}/plantwatt/stats`
  const sysTimer = publishStatsEvery(aedes, sysTopic, config.sysIntervalMs, stats, logger)

  let closing: Promise<void> | undefined
  return {
    host,
    port,
    url,
    ...(tlsUrl ? { tlsUrl } : {}),
    ...(wsUrl ? { wsUrl } : {}),
    sysTopic,
    stats,
    close() {
      closing ??= (async () => {
        if (sysTimer) clearInterval(sysTimer)
        const stopped = transports.stopListening()
        await stopParts()
        transports.destroy()
        await stopped
        logger.info({ url }, 'broker stopped')
      })()
      return closing
    },
  }
}

function loginThrottleOf(lt: BrokerConfig['loginThrottle']): LoginThrottle {
  return new LoginThrottle({
    addressFailures: lt.addressFailures,
    userFailures: lt.userFailures,
    windowMs: lt.windowS * 1000,
    maxBlockMs: lt.maxBlockS * 1000,
    hashesPerS: lt.hashesPerS,
    maxWaiting: lt.maxWaiting,
  })
}

/**
 * Publishes stats() to `topic` every `intervalMs` (0: never). Not retained: Aedes hands retained
 * $SYS messages to `#` subscribers too ([MQTT-4.7.2-1] says it must not). The broker's own publish
 * does not pass authorizePublish (clients may not write to $SYS).
 */
function publishStatsEvery(aedes: Aedes, topic: string, intervalMs: number, stats: () => BrokerStats, logger: Logger): NodeJS.Timeout | undefined {
  if (intervalMs <= 0) return undefined
  const publish = (): void => {
    const payload = Buffer.from(JSON.stringify({ ts: Date.now(), brokerId: aedes.id, ...stats() }))
    aedes.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }, (err) => {
      if (err) logger.warn({ err: describeError(err) }, `cannot publish ${topic}`)
    })
  }
  const timer = setInterval(publish, intervalMs)
  timer.unref()
  return timer
}
