import net from 'node:net'
import http from 'node:http'
import tls from 'node:tls'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'
import { validateConfig } from '../core/config.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { compileAcl, type ClientAcl } from './acl.ts'
import { clusterParts, redisOptions } from './cluster.ts'
import { BrokerConfigSchema, type BrokerConfig } from './config.ts'
import { PacketLimitedConnection } from './packet-limit.ts'
import { createIndexedMemoryPersistence, type IndexedMemoryPersistence } from './persistence.ts'
import { LoginThrottle } from './login-throttle.ts'
import { MemorySessionOwners, RedisSessionOwners, type SessionOwners } from './session-owners.ts'
import { SessionTable, type SessionStat } from './sessions.ts'
import { parsePasswordHash, verifyPassword } from './password.ts'
import { deadLetterEnvelope, judgePublish } from './publish-policy.ts'
import { PublishThrottle } from './rate-limit.ts'
import { compileUsers } from './users.ts'

/** Counters since start. */
export interface BrokerStats {
  /** Clients connected now. */
  clients: number
  /** PUBLISH packets received from clients (accepted, diverted and rejected). */
  messagesIn: number
  /** PUBLISH packets sent to clients (one per subscriber a message is delivered to). */
  messagesOut: number
  /** Client publishes routed as sent. */
  accepted: number
  /** Client publishes routed to the dead-letter topic instead. */
  diverted: number
  divertedByReason: Record<string, number>
  /** Client publishes refused (the connection is closed). */
  rejected: number
  /** Connections closed because a packet exceeded the packet limit. */
  oversizePackets: number
  /** CONNACK 4 (bad username or password) and 5 (not authorized) sent. */
  authFailures: number
  /** Connections refused at maxConnections (CONNACK 3, or cut before CONNECT). */
  refusedConnections: number
  /** Subscriptions refused by the ACL (SUBACK 0x80). */
  refusedSubscriptions: number
  /** Publishes held back by the per-connection rate limit (delayed, not dropped). */
  throttled: number
  /** Publishes held back because Aedes' routing queue was full (a subscriber not reading). */
  heldForRouting: number
  /** Connections refused (CONNACK 2) because their client id belongs to another identity. */
  takeoversRefused: number
  /** Logins answered without a password check because the address or username was throttled. */
  loginsThrottled: number
  /** Logins answered CONNACK 3 because too many password checks were waiting. */
  loginsShed: number
  /** QoS 1 messages not queued because a session's queue was full (per session in `sessions`). */
  queueDropped: number
  /** Persistent sessions removed because they were offline past their expiry. */
  sessionsExpired: number
  /** Messages not delivered because the receiving user may not read their topic (e.g. a queue kept across a role change). */
  deliveriesRefused: number
  /** Offline persistent sessions, and sessions whose queue dropped messages. */
  sessions: SessionStat[]
}

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
   * persistence with indexed QoS 1 queues, broker/persistence.ts). For comparisons in the bench.
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

type AuthenticateDone = (error: AuthenticateError | null, success: boolean | null) => void

/** [MQTT-3.2.2-3] CONNACK return codes. */
const CONNACK = { identifierRejected: 2, unavailable: 3, badCredentials: 4, notAuthorized: 5 } as const
const CONNACK_TEXT: Record<number, string> = { 2: 'identifier rejected', 3: 'server unavailable', 4: 'bad username or password', 5: 'not authorized' }
/** The identity of clients without a username. */
const ANONYMOUS = 'anonymous'
/** Sockets that have not sent CONNECT yet may exceed maxConnections by this much (Aedes cuts them after its connectTimeout). */
const HANDSHAKE_SLACK = 100
/** [MQTT-2.2.1] control packet type 3: PUBLISH */
const PUBLISH_PACKET = 3
/** Publishes waiting in Aedes' emitter queue beyond which new ones are held (see gate()). */
const MAX_ROUTING_QUEUE = 500
/** Checked against when a username is unknown, so the answer takes as long as for a known one. */
const DUMMY_HASH = parsePasswordHash('scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')
const ADMIN_ACL = compileAcl({ role: 'admin' })

/** Whether a client without a username, connecting from `remote`, may in under `policy` (auto resolved). */
export function anonymousAllowed(policy: 'loopback' | 'never' | 'always', remote: string | undefined): boolean {
  if (policy !== 'loopback') return policy === 'always'
  if (!remote) return false
  return remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.')
}

function formatUrl(scheme: string, host: string, port: number, path = ''): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`
}

/** Packets may be this many times maxPayloadBytes before the connection is cut unread. */
const PACKET_LIMIT_FACTOR = 4
/** [MQTT-3.1.3-5] servers must accept 1–23 byte client ids and may accept longer; ours derive from host names. */
const MAX_CLIENT_ID_LENGTH = 256

function payloadBuffer(payload: PublishPacket['payload']): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
}

/** Starts an Aedes broker on `config.host:config.port` (0 = a free port) and resolves once listening. */
export async function startBroker(input: BrokerConfigInput, opts: StartBrokerOptions = {}): Promise<RunningBroker> {
  const config = validateConfig(BrokerConfigSchema, input, 'broker') as BrokerConfig
  const logger = opts.logger ?? createLogger('broker')
  const users = compileUsers(config.users)
  const anonymous = config.anonymous === 'auto' ? (users.size > 0 ? 'never' : 'loopback') : config.anonymous
  const counters = { messagesIn: 0, messagesOut: 0, accepted: 0, diverted: 0, rejected: 0, oversizePackets: 0, authFailures: 0, refusedConnections: 0, refusedSubscriptions: 0, throttled: 0, heldForRouting: 0, takeoversRefused: 0, deliveriesRefused: 0 }
  let aedesRef: Aedes | undefined
  /** Each connection's permissions, set when it authenticates: no lookup by name per message. */
  const acls = new WeakMap<Client, ClientAcl>()
  /** Each connection's identity (`user:<name>` or `anonymous`): who owns its client id. */
  const identities = new WeakMap<Client, string>()
  /** The connection that holds each client id now (a takeover by the same identity replaces it). */
  const current = new Map<string, Client>()
  const sessions = new SessionTable(config.sessions)
  const lt = config.loginThrottle
  const throttle = new LoginThrottle({ addressFailures: lt.addressFailures, userFailures: lt.userFailures, windowMs: lt.windowS * 1000, maxBlockMs: lt.maxBlockS * 1000, hashesPerS: lt.hashesPerS, maxWaiting: lt.maxWaiting })
  const throttles = new WeakMap<Client, PublishThrottle>()
  const remotes = new WeakMap<object, string>()
  const rate = config.publishRate
  const tlsFiles = config.tls
    ? (() => {
        try {
          const t = config.tls
          return { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile), ca: t.caFile ? readFileSync(t.caFile) : undefined }
        } catch (cause) {
          throw new PlantWattError('BROKER_ERR_TLS', `cannot read the broker's TLS files: ${describeError(cause)}`, { cause })
        }
      })()
    : undefined
  const divertedByReason: Record<string, number> = {}
  const policy = { maxPayloadBytes: config.maxPayloadBytes, validatePayloads: config.validatePayloads }
  const maxPacketBytes = config.maxPayloadBytes * PACKET_LIMIT_FACTOR + 65_540

  /** The ACL, then the topic and payload policy; synchronous, so the common path costs no promise. */
  const judge = (client: Client | null, clientId: string, packet: PublishPacket, seamAllowed: boolean): PlantWattError | null => {
    // A null client is the broker's own publish (a will of a node that died, in a cluster).
    const acl = client ? acls.get(client) : ADMIN_ACL
    if (!acl || !acl.canPublish(packet.topic) || !seamAllowed) {
      return new PlantWattError('BROKER_ERR_NOT_AUTHORIZED', `client ${JSON.stringify(clientId)} (${acl?.scope ?? 'unauthenticated'}) may not publish to ${JSON.stringify(packet.topic.slice(0, 200))}`)
    }
    const payload = payloadBuffer(packet.payload)
    const verdict = judgePublish(packet.topic, payload, policy)
    if (verdict.kind === 'reject') return verdict.error
    if (verdict.kind === 'divert') {
      counters.diverted++
      divertedByReason[verdict.error.code] = (divertedByReason[verdict.error.code] ?? 0) + 1
      logger.debug({ clientId, topic: packet.topic.slice(0, 200), reason: verdict.error.code }, 'publish diverted to the dead-letter topic')
      const envelope = deadLetterEnvelope(verdict.error, packet.topic, payload)
      packet.topic = DEAD_LETTER_TOPIC
      packet.payload = Buffer.from(JSON.stringify(envelope))
      // A retained dead letter would be replayed to every new subscriber as if it were new.
      packet.retain = false
      return null
    }
    counters.accepted++
    return null
  }

  /**
   * Bounds what waits in Aedes' emitter queue (mqemitter keeps every publish beyond `concurrency`
   * in an unbounded array while a subscriber does not drain). Past MAX_ROUTING_QUEUE a publish is
   * held here; since Aedes reads a publisher's next packets only after the current ones, the
   * publishers' sockets — then TCP — take the backlog. It also keeps mqemitter's synchronous drain
   * of that queue (when a stuck subscriber is cut) from overflowing the stack.
   */
  const held: (() => void)[] = []
  let gateTimer: NodeJS.Timeout | undefined
  const mq = () => (aedesRef as unknown as { mq: { length: number } } | undefined)?.mq.length ?? 0
  const releaseHeld = (): void => {
    let room = MAX_ROUTING_QUEUE - mq()
    while (held.length > 0 && room-- > 0) queueMicrotask(held.shift() as () => void)
    if (held.length === 0 && gateTimer) {
      clearInterval(gateTimer)
      gateTimer = undefined
    }
  }
  const gate = (go: () => void): void => {
    if (held.length === 0 && mq() < MAX_ROUTING_QUEUE) {
      queueMicrotask(go)
      return
    }
    held.push(go)
    counters.heldForRouting++
    gateTimer ??= setInterval(releaseHeld, 5)
  }

  const authorizePublish: NonNullable<AedesOptions['authorizePublish']> = (client, packet, callback) => {
    const clientId = client?.id ?? ''
    if (client) counters.messagesIn++
    const finish = (error: PlantWattError | null): void => {
      if (error) {
        counters.rejected++
        logger.warn({ clientId, topic: packet.topic.slice(0, 200), code: error.code }, `publish refused; closing the connection: ${error.message}`)
      }
      callback(error)
    }
    const run = (): void => {
      const seam = opts.authorizePublish
      if (!seam) {
        const verdict = judge(client, clientId, packet, true)
        // Never answer Aedes synchronously: with no subscriber a publish completes at once, Aedes then
        // parses the next buffered packet inside this call, and a flood overflows the stack.
        gate(() => finish(verdict))
        return
      }
      Promise.resolve(seam({ clientId, topic: packet.topic })).then(
        (ok) => {
          const verdict = judge(client, clientId, packet, ok)
          gate(() => finish(verdict))
        },
        (err: unknown) => {
          counters.rejected++
          logger.error({ clientId, err: describeError(err) }, 'publish authorization failed')
          callback(new PlantWattError('BROKER_ERR_AUTHORIZE', describeError(err), { cause: err }))
        },
      )
    }
    const throttle = client ? throttles.get(client) : undefined
    const delay = throttle ? throttle.delayMs() : 0
    if (delay > 0) {
      counters.throttled++
      setTimeout(run, delay)
    } else run()
  }

  const cluster = config.cluster ? clusterParts(config.cluster) : undefined
  // Without a cluster, Aedes' memory persistence with indexed QoS 1 queues, each bounded (broker/persistence.ts).
  const memory: IndexedMemoryPersistence | undefined = cluster || opts.persistence ? undefined : createIndexedMemoryPersistence({ limitOf: sessions.limitOf, onDrop: sessions.onDrop })
  // A cluster's nodes share the owners through the Redis that holds the sessions.
  const owners: SessionOwners = config.cluster ? new RedisSessionOwners(redisOptions(config.cluster.redisUrl)) : new MemorySessionOwners()
  const options: AedesOptions = {
    maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
    authorizePublish,
    authorizeForward: (client, packet) => {
      const acl = acls.get(client)
      if (acl?.canRead(packet.topic)) return packet
      counters.deliveriesRefused++
      logger.warn({ clientId: client.id, scope: acl?.scope, topic: packet.topic.slice(0, 200), code: 'BROKER_ERR_DELIVERY_REFUSED' }, 'message not delivered: the user may not read this topic')
      return null
    },
    drainTimeout: config.drainTimeoutMs,
    ...(cluster ? { mq: cluster.mq, persistence: cluster.persistence, ...(cluster.id ? { id: cluster.id } : {}) } : { persistence: opts.persistence ?? memory }),
  }

  /**
   * The credentials are good: the client id must be free or already this identity's ([MQTT-3.1.3-2]
   * ties a session to its client id; here a client id is tied to who first used it), else CONNACK 2.
   */
  const admit = (client: Client, acl: ClientAcl, identity: string, done: AuthenticateDone): void => {
    owners.claim(client.id, identity).then(
      (owner) => {
        if (owner !== null) {
          counters.takeoversRefused++
          logger.warn({ clientId: client.id, identity, owner, remote: remotes.get(client.conn), code: 'BROKER_ERR_CLIENT_ID_TAKEN' }, 'connection refused (CONNACK 2, identifier rejected): the client id and its session belong to another user')
          done(Object.assign(new Error(CONNACK_TEXT[CONNACK.identifierRejected]), { returnCode: CONNACK.identifierRejected }) as AuthenticateError, false)
          return
        }
        acls.set(client, acl)
        identities.set(client, identity)
        if (rate.messagesPerS > 0) throttles.set(client, new PublishThrottle(rate.messagesPerS, rate.burst))
        done(null, true)
      },
      (err: unknown) => {
        logger.error({ clientId: client.id, err: describeError(err) }, 'cannot check who owns the client id')
        refuse(client, CONNACK.unavailable, undefined, 'session owner check failed', done)
      },
    )
  }
  const refuse = (client: Client, returnCode: 3 | 4 | 5, username: string | undefined, why: string, done: AuthenticateDone): void => {
    if (returnCode === CONNACK.unavailable) counters.refusedConnections++
    else counters.authFailures++
    logger.warn({ clientId: client.id, username, remote: remotes.get(client.conn), returnCode }, `connection refused (CONNACK ${returnCode}, ${CONNACK_TEXT[returnCode]}): ${why}`)
    done(Object.assign(new Error(CONNACK_TEXT[returnCode]), { returnCode }) as AuthenticateError, false)
  }

  if (opts.authenticate) {
    const authenticate = opts.authenticate
    options.authenticate = (client, username, password, done) => {
      Promise.resolve(authenticate({ clientId: client.id, username, password })).then(
        (ok) => (ok ? admit(client, ADMIN_ACL, username ? `user:${username}` : ANONYMOUS, done) : refuse(client, CONNACK.notAuthorized, username, 'refused by the authenticate function', done)),
        (err: unknown) => {
          logger.error({ clientId: client.id, err: describeError(err) }, 'authentication failed')
          // [MQTT-3.2.2] CONNACK return code 3: server unavailable
          done(Object.assign(new Error('authentication unavailable'), { returnCode: 3 }) as AuthenticateError, false)
        },
      )
    }
  } else {
    options.authenticate = (client, username, password, done) => {
      if (aedes.connectedClients >= config.maxConnections) {
        refuse(client, CONNACK.unavailable, username, `maxConnections (${config.maxConnections}) reached`, done)
        return
      }
      if (username === undefined || username === '') {
        const remote = remotes.get(client.conn)
        if (anonymousAllowed(anonymous, remote)) admit(client, ADMIN_ACL, ANONYMOUS, done)
        else refuse(client, CONNACK.notAuthorized, username, `anonymous clients are not allowed (anonymous: ${anonymous}) from ${remote ?? 'unknown'}`, done)
        return
      }
      const remote = remotes.get(client.conn) ?? 'unknown'
      const verdict = throttle.check(username, remote)
      if (!verdict.allowed) {
        refuse(client, CONNACK.notAuthorized, username, `too many failed logins (by ${verdict.by}): retry in ${Math.ceil(verdict.retryAfterMs / 1000)} s (BROKER_ERR_LOGIN_THROTTLED)`, done)
        return
      }
      const user = users.get(username)
      throttle.schedule(() => verifyPassword(password ?? Buffer.alloc(0), user?.hash ?? DUMMY_HASH)).then(
        (ok) => {
          if (ok === null) {
            throttle.abandoned(remote)
            refuse(client, CONNACK.unavailable, username, `too many password checks waiting (${lt.maxWaiting}; ${lt.hashesPerS}/s) (BROKER_ERR_LOGIN_BUSY)`, done)
          } else if (ok && user) {
            throttle.succeeded(username, remote)
            admit(client, user.acl, `user:${username}`, done)
          } else {
            throttle.failed(username, remote)
            refuse(client, CONNACK.badCredentials, username, user ? 'wrong password' : 'unknown user', done)
          }
        },
        (err: unknown) => {
          throttle.abandoned(remote)
          logger.error({ clientId: client.id, err: describeError(err) }, 'password check failed')
          refuse(client, CONNACK.unavailable, username, 'password check failed', done)
        },
      )
    }
  }
  /**
   * Aedes has no shared subscriptions: it would grant `$share/group/filter` as a plain filter that
   * never matches, and the subscriber would silently get nothing. Refused instead (SUBACK 0x80),
   * so a client meant for EMQX/HiveMQ/Mosquitto learns it at once (ingest: use `partition` here).
   */
  const refuseShared = (client: Client, filter: string): boolean => {
    if (!filter.startsWith('$share/') && !filter.startsWith('$queue/')) return false
    counters.refusedSubscriptions++
    logger.warn({ clientId: client.id, filter: filter.slice(0, 200), code: 'BROKER_ERR_SHARED_SUBSCRIPTION' }, 'subscription refused (SUBACK 0x80): this broker has no shared subscriptions')
    return true
  }
  if (!opts.authorizeSubscribe) {
    options.authorizeSubscribe = (client, subscription, done) => {
      if (refuseShared(client, subscription.topic)) return done(null, null)
      const acl = acls.get(client)
      if (acl?.canSubscribe(subscription.topic)) {
        done(null, subscription)
        return
      }
      counters.refusedSubscriptions++
      logger.warn({ clientId: client.id, scope: acl?.scope, filter: subscription.topic.slice(0, 200) }, 'subscription refused (SUBACK 0x80)')
      done(null, null)
    }
  }
  if (opts.authorizeSubscribe) {
    const authorizeSubscribe = opts.authorizeSubscribe
    options.authorizeSubscribe = (client, subscription, done) => {
      if (refuseShared(client, subscription.topic)) return done(null, null)
      Promise.resolve(authorizeSubscribe({ clientId: client.id, topic: subscription.topic })).then(
        (ok) => done(null, ok ? subscription : null),
        (err: unknown) => {
          logger.error({ clientId: client.id, err: describeError(err) }, 'subscribe authorization failed')
          done(null, null)
        },
      )
    }
  }

  const aedes = await Aedes.createBroker(options)
  aedesRef = aedes
  aedes.on('clientReady', (client: Client) => {
    current.set(client.id, client)
    sessions.connected(client.id, identities.get(client) ?? ANONYMOUS, acls.get(client)?.role ?? 'admin', client.clean === false)
  })
  aedes.on('clientDisconnect', (client: Client) => {
    // A reconnect of the same identity replaced this connection: the session lives on.
    if (current.get(client.id) !== client) return
    current.delete(client.id)
    const { ended, identity } = sessions.disconnected(client.id)
    if (ended && identity) void owners.release(client.id, identity).catch((err: unknown) => logger.warn({ clientId: client.id, err: describeError(err) }, 'cannot release the client id'))
  })
  /** Offline persistent sessions past their expiry go with their queue; their client id is free again. */
  const sweep = (): void => {
    for (const s of sessions.takeExpired()) {
      const removed = memory ? memory.dropSession(s.clientId) : cleanSessionElsewhere(s.clientId)
      removed
        .then(({ messages }) => {
          sessions.expired++
          sessions.expiredMessages += messages
          logger.warn({ clientId: s.clientId, identity: s.identity, messages, code: 'BROKER_ERR_SESSION_EXPIRED' }, 'persistent session expired: removed with its queue')
          return owners.release(s.clientId, s.identity)
        })
        .catch((err: unknown) => logger.warn({ clientId: s.clientId, err: describeError(err) }, 'cannot remove an expired session'))
    }
  }
  /** A cluster's (or an injected) persistence: the subscriptions go; what is still queued is only ever delivered through the ACL. */
  const cleanSessionElsewhere = async (clientId: string): Promise<{ messages: number; bytes: number }> => {
    // aedes-persistence's promise API ([cleanSubscriptions] in every backend).
    const other = (cluster?.persistence ?? opts.persistence) as { cleanSubscriptions?(client: { id: string }): Promise<unknown> } | undefined
    await other?.cleanSubscriptions?.({ id: clientId })
    return { messages: 0, bytes: 0 }
  }
  const sweepTimer = setInterval(sweep, config.sessions.sweepIntervalMs)
  sweepTimer.unref()
  aedes.on('clientError', (client: Client, err: Error) => {
    logger.debug({ clientId: client.id, err: err.message }, 'client error')
  })
  const sockets = new Set<Duplex>()
  /** Every transport ends here: size guard, connection cap, then Aedes. */
  const accept = (stream: Duplex, remote: string | undefined): void => {
    if (sockets.size >= config.maxConnections + HANDSHAKE_SLACK) {
      counters.refusedConnections++
      stream.destroy()
      return
    }
    sockets.add(stream)
    stream.on('close', () => sockets.delete(stream))
    const conn = new PacketLimitedConnection(
      stream,
      maxPacketBytes,
      (err) => {
        counters.oversizePackets++
        logger.warn({ remote, code: err.code }, err.message)
      },
      (type) => {
        if (type === PUBLISH_PACKET) counters.messagesOut++
      },
    )
    if (remote !== undefined) remotes.set(conn, remote)
    aedes.handle(conn)
  }
  const servers: { server: net.Server | http.Server; name: string }[] = []
  const listen = async (server: net.Server | http.Server, port: number, name: string): Promise<number> => {
    server.listen(port, config.host)
    try {
      await once(server, 'listening')
    } catch (cause) {
      for (const s of servers) s.server.close()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      throw new PlantWattError('BROKER_ERR_LISTEN', `cannot listen (${name}) on ${config.host}:${port}: ${describeError(cause)}`, { cause })
    }
    servers.push({ server, name })
    return (server.address() as net.AddressInfo).port
  }

  const host = config.host
  const port = await listen(net.createServer((socket) => accept(socket, socket.remoteAddress)), config.port, 'mqtt')
  const url = formatUrl('mqtt', host, port)
  let tlsUrl: string | undefined
  if (config.tls && tlsFiles) {
    const requireCert = config.tls.clientCertificates === 'require'
    const server = tls.createServer({ cert: tlsFiles.cert, key: tlsFiles.key, ...(tlsFiles.ca ? { ca: tlsFiles.ca } : {}), requestCert: requireCert, rejectUnauthorized: requireCert, minVersion: 'TLSv1.2' }, (socket) => accept(socket, socket.remoteAddress))
    server.on('tlsClientError', (err) => logger.warn({ err: err.message }, 'TLS handshake failed'))
    tlsUrl = formatUrl('mqtts', host, await listen(server, config.tls.port, 'tls'))
  }
  let wsUrl: string | undefined
  let wss: WebSocketServer | undefined
  if (config.websocket) {
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n')
    })
    const w = new WebSocketServer({ server, path: config.websocket.path, maxPayload: maxPacketBytes })
    wss = w
    w.on('connection', (ws, req) => accept(createWebSocketStream(ws), req.socket.remoteAddress))
    wsUrl = formatUrl('ws', host, await listen(server, config.websocket.port, 'websocket'), config.websocket.path)
  }
  logger.info({ url, tlsUrl, wsUrl, users: users.size, anonymous, cluster: config.cluster ? aedes.id : undefined }, 'broker listening')

  const queueOf = (clientId: string): { messages: number; bytes: number } => ({ messages: memory?.outgoingSize(clientId) ?? 0, bytes: memory?.outgoingBytes(clientId) ?? 0 })
  const stats = (): BrokerStats => ({
    clients: aedes.connectedClients,
    ...counters,
    divertedByReason: { ...divertedByReason },
    loginsThrottled: throttle.throttled,
    loginsShed: throttle.shed,
    queueDropped: sessions.droppedTotal,
    sessionsExpired: sessions.expired,
    sessions: sessions.stats(queueOf),
  })
  const sysTopic = `$SYS/${aedes.id}/plantwatt/stats`
  // Not retained: Aedes hands retained $SYS messages to `#` subscribers too ([MQTT-4.7.2-1] says
  // it must not). The broker's own publish does not pass authorizePublish (clients may not write to $SYS).
  const publishSys = (): void => {
    aedes.publish({ cmd: 'publish', topic: sysTopic, payload: Buffer.from(JSON.stringify({ ts: Date.now(), brokerId: aedes.id, ...stats() })), qos: 0, retain: false, dup: false }, (err) => {
      if (err) logger.warn({ err: describeError(err) }, `cannot publish ${sysTopic}`)
    })
  }
  const sysTimer = config.sysIntervalMs > 0 ? setInterval(publishSys, config.sysIntervalMs) : undefined
  sysTimer?.unref()

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
        if (gateTimer) clearInterval(gateTimer)
        if (sysTimer) clearInterval(sysTimer)
        clearInterval(sweepTimer)
        throttle.close()
        const serversClosed = servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())))
        wss?.close()
        await new Promise<void>((resolve) => aedes.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await Promise.all(serversClosed)
        await owners.close()
        logger.info({ url }, 'broker stopped')
      })()
      return closing
    },
  }
}
