import net from 'node:net'
import { once } from 'node:events'
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes'
import { describeError, PlantWattError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import type { BrokerConfig } from './config.ts'
import { PacketLimitedConnection } from './packet-limit.ts'
import { deadLetterEnvelope, judgePublish } from './publish-policy.ts'

/** Counters since start. */
export interface BrokerStats {
  /** Clients connected now. */
  clients: number
  /** Client publishes routed as sent. */
  accepted: number
  /** Client publishes routed to the dead-letter topic instead. */
  diverted: number
  divertedByReason: Record<string, number>
  /** Client publishes refused (the connection is closed). */
  rejected: number
  /** Connections closed because a packet exceeded the packet limit. */
  oversizePackets: number
}

export interface RunningBroker {
  host: string
  port: number
  /** mqtt://host:port */
  url: string
  stats(): BrokerStats
  /** Disconnects every client and stops listening. */
  close(): Promise<void>
}

/**
 * Access-control seams, all optional (default: everyone may connect, publish where the publish
 * policy allows, and subscribe anywhere). A later layer supplies hashed credentials and topic ACLs.
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
}

/** Packets may be this many times maxPayloadBytes before the connection is cut unread. */
const PACKET_LIMIT_FACTOR = 4
/** [MQTT-3.1.3-5] servers must accept 1–23 byte client ids and may accept longer; ours derive from host names. */
const MAX_CLIENT_ID_LENGTH = 256

function payloadBuffer(payload: PublishPacket['payload']): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
}

/** Starts an Aedes broker on `config.host:config.port` (0 = a free port) and resolves once listening. */
export async function startBroker(config: BrokerConfig, opts: StartBrokerOptions = {}): Promise<RunningBroker> {
  const logger = opts.logger ?? createLogger('broker')
  const counters = { accepted: 0, diverted: 0, rejected: 0, oversizePackets: 0 }
  const divertedByReason: Record<string, number> = {}
  const policy = { maxPayloadBytes: config.maxPayloadBytes, validatePayloads: config.validatePayloads }
  const maxPacketBytes = config.maxPayloadBytes * PACKET_LIMIT_FACTOR + 65_540

  const authorizePublish: NonNullable<AedesOptions['authorizePublish']> = (client, packet, callback) => {
    const clientId = client?.id ?? ''
    const decide = async (): Promise<PlantWattError | null> => {
      if (opts.authorizePublish && !(await opts.authorizePublish({ clientId, topic: packet.topic }))) {
        return new PlantWattError('BROKER_ERR_NOT_AUTHORIZED', `client ${JSON.stringify(clientId)} may not publish to ${JSON.stringify(packet.topic)}`)
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
    decide().then(
      (error) => {
        if (error) {
          counters.rejected++
          logger.warn({ clientId, topic: packet.topic.slice(0, 200), code: error.code }, 'publish refused; closing the connection')
        }
        callback(error)
      },
      (err: unknown) => {
        counters.rejected++
        logger.error({ clientId, err: describeError(err) }, 'publish authorization failed')
        callback(new PlantWattError('BROKER_ERR_AUTHORIZE', describeError(err), { cause: err }))
      },
    )
  }

  const options: AedesOptions = { maxClientsIdLength: MAX_CLIENT_ID_LENGTH, authorizePublish }
  if (opts.authenticate) {
    const authenticate = opts.authenticate
    options.authenticate = (client, username, password, done) => {
      Promise.resolve(authenticate({ clientId: client.id, username, password })).then(
        (ok) => (ok ? done(null, true) : done(null, false)),
        (err: unknown) => {
          logger.error({ clientId: client.id, err: describeError(err) }, 'authentication failed')
          // [MQTT-3.2.2] CONNACK return code 3: server unavailable
          done(Object.assign(new Error('authentication unavailable'), { returnCode: 3 }) as AuthenticateError, false)
        },
      )
    }
  }
  if (opts.authorizeSubscribe) {
    const authorizeSubscribe = opts.authorizeSubscribe
    options.authorizeSubscribe = (client, subscription, done) => {
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
  aedes.on('clientError', (client: Client, err: Error) => {
    logger.debug({ clientId: client.id, err: err.message }, 'client error')
  })
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const conn = new PacketLimitedConnection(socket, maxPacketBytes, (err) => {
      counters.oversizePackets++
      logger.warn({ remote: socket.remoteAddress, code: err.code }, err.message)
    })
    aedes.handle(conn)
  })
  server.listen(config.port, config.host)
  try {
    await once(server, 'listening')
  } catch (cause) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    throw new PlantWattError('BROKER_ERR_LISTEN', `cannot listen on ${config.host}:${config.port}: ${describeError(cause)}`, { cause })
  }
  const port = (server.address() as net.AddressInfo).port
  const host = config.host
  const url = `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`
  logger.info({ url }, 'broker listening')

  let closing: Promise<void> | undefined
  return {
    host,
    port,
    url,
    stats: () => ({ clients: aedes.connectedClients, ...counters, divertedByReason: { ...divertedByReason } }),
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        await new Promise<void>((resolve) => aedes.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await serverClosed
        logger.info({ url }, 'broker stopped')
      })()
      return closing
    },
  }
}
