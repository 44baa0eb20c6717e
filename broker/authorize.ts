import type { AedesOptions, Client, PublishPacket } from 'aedes'
import { describeError, PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { compileAcl } from './acl.ts'
import type { Connections } from './connections.ts'
import { deadLetterEnvelope, judgePublish, type PublishPolicyOptions } from './publish-policy.ts'
import type { RoutingGate } from './routing-gate.ts'
import { isSparkplugTopic, sparkplugCanPublish, sparkplugCanSubscribe } from './sparkplug-acl.ts'
import type { BrokerAccessControl } from './server.ts'
import type { BrokerCounters } from './stats.ts'

/** The broker's own publishes (a will of a node that died, in a cluster) pass as an admin's. */
export const ADMIN_ACL = compileAcl({ role: 'admin' })

interface AuthorizeDeps {
  connections: Connections
  counters: BrokerCounters
  logger: Logger
}

function payloadBuffer(payload: PublishPacket['payload']): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
}

/**
 * Every client publish: the rate limit, the ACL (and the `authorizePublish` seam), then the topic
 * and payload policy. An invalid message is diverted to the dead-letter topic (the sender still gets
 * its PUBACK); a publish the client may not make closes its connection.
 */
export function createAuthorizePublish(
  deps: AuthorizeDeps & { policy: PublishPolicyOptions; gate: RoutingGate; seam: BrokerAccessControl['authorizePublish'] },
): NonNullable<AedesOptions['authorizePublish']> {
  const { connections, counters, logger, policy, gate, seam } = deps

  /** The ACL, then the topic and payload policy; synchronous, so the common path costs no promise. */
  const judge = (client: Client | null, clientId: string, packet: PublishPacket, seamAllowed: boolean): PlantWattError | null => {
    const acl = client ? connections.get(client)?.acl : ADMIN_ACL
    if (!acl || !(acl.canPublish(packet.topic) || sparkplugCanPublish(acl, packet.topic)) || !seamAllowed) {
      return new PlantWattError(
        'BROKER_ERR_NOT_AUTHORIZED',
        `client ${JSON.stringify(clientId)} (${acl?.scope ?? 'unauthenticated'}) may not publish to ${JSON.stringify(packet.topic.slice(0, 200))}`,
      )
    }
    const payload = payloadBuffer(packet.payload)
    // Sparkplug B payloads are protobuf: only the size limit applies (sparkplug-acl.ts).
    if (isSparkplugTopic(packet.topic)) {
      if (payload.length > policy.maxPayloadBytes)
        return new PlantWattError('CORE_ERR_PAYLOAD_SIZE', `payload of ${payload.length} bytes exceeds the limit of ${policy.maxPayloadBytes}`)
      counters.accepted++
      return null
    }
    const verdict = judgePublish(packet.topic, payload, policy)
    if (verdict.kind === 'reject') return verdict.error
    if (verdict.kind === 'divert') {
      counters.divert(verdict.error.code)
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

  return (client, packet, callback) => {
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
      if (!seam) {
        const verdict = judge(client, clientId, packet, true)
        // Never answer Aedes synchronously: with no subscriber a publish completes at once, Aedes then
        // parses the next buffered packet inside this call, and a flood overflows the stack.
        gate.pass(() => finish(verdict))
        return
      }
      Promise.resolve(seam({ clientId, topic: packet.topic })).then(
        (ok) => {
          const verdict = judge(client, clientId, packet, ok)
          gate.pass(() => finish(verdict))
        },
        (err: unknown) => {
          counters.rejected++
          logger.error({ clientId, err: describeError(err) }, 'publish authorization failed')
          callback(new PlantWattError('BROKER_ERR_AUTHORIZE', describeError(err), { cause: err }))
        },
      )
    }
    const throttle = client ? connections.get(client)?.throttle : undefined
    const delay = throttle ? throttle.delayMs() : 0
    if (delay > 0) {
      counters.throttled++
      setTimeout(run, delay)
    } else run()
  }
}

/**
 * Every subscription: shared subscriptions are refused, then the ACL (or the `authorizeSubscribe`
 * seam) decides; a refusal is SUBACK 0x80, logged.
 */
export function createAuthorizeSubscribe(
  deps: AuthorizeDeps & { seam: BrokerAccessControl['authorizeSubscribe'] },
): NonNullable<AedesOptions['authorizeSubscribe']> {
  const { connections, counters, logger, seam } = deps
  /**
   * Aedes has no shared subscriptions: it would grant `$share/group/filter` as a plain filter that
   * never matches, and the subscriber would silently get nothing. Refused instead (SUBACK 0x80),
   * so a client meant for EMQX/HiveMQ/Mosquitto learns it at once (ingest: use `partition` here).
   */
  const refuseShared = (client: Client, filter: string): boolean => {
    if (!filter.startsWith('$share/') && !filter.startsWith('$queue/')) return false
    counters.refusedSubscriptions++
    logger.warn(
      { clientId: client.id, filter: filter.slice(0, 200), code: 'BROKER_ERR_SHARED_SUBSCRIPTION' },
      'subscription refused (SUBACK 0x80): this broker has no shared subscriptions',
    )
    return true
  }
  if (seam) {
    return (client, subscription, done) => {
      if (refuseShared(client, subscription.topic)) return done(null, null)
      Promise.resolve(seam({ clientId: client.id, topic: subscription.topic })).then(
        (ok) => done(null, ok ? subscription : null),
        (err: unknown) => {
          logger.error({ clientId: client.id, err: describeError(err) }, 'subscribe authorization failed')
          done(null, null)
        },
      )
    }
  }
  return (client, subscription, done) => {
    if (refuseShared(client, subscription.topic)) return done(null, null)
    const acl = connections.get(client)?.acl
    if (acl && (acl.canSubscribe(subscription.topic) || sparkplugCanSubscribe(acl, subscription.topic))) {
      done(null, subscription)
      return
    }
    counters.refusedSubscriptions++
    logger.warn({ clientId: client.id, scope: acl?.scope, filter: subscription.topic.slice(0, 200) }, 'subscription refused (SUBACK 0x80)')
    done(null, null)
  }
}

/**
 * Every delivery, queued messages of a resumed session included: only what the receiving user may
 * read. A live subscription was checked when made; this catches a session kept across a change of
 * its user's role, and anything a persistence hands back that the user never subscribed to.
 */
export function createAuthorizeForward(deps: AuthorizeDeps): NonNullable<AedesOptions['authorizeForward']> {
  const { connections, counters, logger } = deps
  return (client, packet) => {
    const acl = connections.get(client)?.acl
    if (acl && (acl.canRead(packet.topic) || sparkplugCanSubscribe(acl, packet.topic))) return packet
    counters.deliveriesRefused++
    logger.warn(
      { clientId: client.id, scope: acl?.scope, topic: packet.topic.slice(0, 200), code: 'BROKER_ERR_DELIVERY_REFUSED' },
      'message not delivered: the user may not read this topic',
    )
    return null
  }
}
