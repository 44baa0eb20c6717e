import type { AedesOptions, AuthenticateError, Client } from 'aedes'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { ClientAcl } from './acl.ts'
import { ADMIN_ACL } from './authorize.ts'
import type { BrokerConfig } from './config.ts'
import type { Connections } from './connections.ts'
import type { LoginThrottle } from './login-throttle.ts'
import { parsePasswordHash, verifyPassword } from './password.ts'
import { PublishThrottle } from './rate-limit.ts'
import type { BrokerAccessControl } from './server.ts'
import type { SessionOwners } from './session-owners.ts'
import type { BrokerCounters } from './stats.ts'
import type { CompiledUser } from './users.ts'

type AuthenticateDone = (error: AuthenticateError | null, success: boolean | null) => void

/** [MQTT-3.2.2-3] CONNACK return codes. */
export const CONNACK = { identifierRejected: 2, unavailable: 3, badCredentials: 4, notAuthorized: 5 } as const
const CONNACK_TEXT: Record<number, string> = { 2: 'identifier rejected', 3: 'server unavailable', 4: 'bad username or password', 5: 'not authorized' }
/** The identity of clients without a username. */
export const ANONYMOUS = 'anonymous'
/** Checked against when a username is unknown, so the answer takes as long as for a known one. */
const DUMMY_HASH = parsePasswordHash('scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')

/** Whether a client without a username, connecting from `remote`, may in under `policy` (auto resolved). */
export function anonymousAllowed(policy: 'loopback' | 'never' | 'always', remote: string | undefined): boolean {
  if (policy !== 'loopback') return policy === 'always'
  if (!remote) return false
  return remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.')
}

export interface AuthenticateDeps {
  config: BrokerConfig
  users: ReadonlyMap<string, CompiledUser>
  /** `anonymous` with `auto` resolved. */
  anonymous: 'loopback' | 'never' | 'always'
  connections: Connections
  owners: SessionOwners
  throttle: LoginThrottle
  counters: BrokerCounters
  logger: Logger
  /** Clients connected now (for maxConnections). */
  connectedClients: () => number
  /** A function that replaces the users check (clients it admits are admins). */
  seam: BrokerAccessControl['authenticate']
}

/**
 * Who may connect: maxConnections, then anonymous policy or a throttled, rate-bounded scrypt check
 * of the user's password, then the client id's owner. Each refusal is logged with its CONNACK code
 * and counted — never the password.
 */
export function createAuthenticate(deps: AuthenticateDeps): NonNullable<AedesOptions['authenticate']> {
  const { config, users, anonymous, connections, owners, throttle, counters, logger } = deps
  const rate = config.publishRate

  const refuse = (client: Client, returnCode: 3 | 4 | 5, username: string | undefined, why: string, done: AuthenticateDone): void => {
    if (returnCode === CONNACK.unavailable) counters.refusedConnections++
    else counters.authFailures++
    logger.warn(
      { clientId: client.id, username, remote: connections.remoteOf(client), returnCode },
      `connection refused (CONNACK ${returnCode}, ${CONNACK_TEXT[returnCode]}): ${why}`,
    )
    done(Object.assign(new Error(CONNACK_TEXT[returnCode]), { returnCode }) as AuthenticateError, false)
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
          logger.warn(
            { clientId: client.id, identity, owner, remote: connections.remoteOf(client), code: 'BROKER_ERR_CLIENT_ID_TAKEN' },
            'connection refused (CONNACK 2, identifier rejected): the client id and its session belong to another user',
          )
          done(Object.assign(new Error(CONNACK_TEXT[CONNACK.identifierRejected]), { returnCode: CONNACK.identifierRejected }) as AuthenticateError, false)
          return
        }
        connections.admit(client, { acl, identity, throttle: rate.messagesPerS > 0 ? new PublishThrottle(rate.messagesPerS, rate.burst) : undefined })
        done(null, true)
      },
      (err: unknown) => {
        logger.error({ clientId: client.id, err: describeError(err) }, 'cannot check who owns the client id')
        refuse(client, CONNACK.unavailable, undefined, 'session owner check failed', done)
      },
    )
  }

  const checkPassword = (client: Client, username: string, password: Buffer | undefined, done: AuthenticateDone): void => {
    const remote = connections.remoteOf(client) ?? 'unknown'
    const verdict = throttle.check(username, remote)
    if (!verdict.allowed) {
      refuse(
        client,
        CONNACK.notAuthorized,
        username,
        `too many failed logins (by ${verdict.by}): retry in ${Math.ceil(verdict.retryAfterMs / 1000)} s (BROKER_ERR_LOGIN_THROTTLED)`,
        done,
      )
      return
    }
    const user = users.get(username)
    throttle
      .schedule(() => verifyPassword(password ?? Buffer.alloc(0), user?.hash ?? DUMMY_HASH), throttle.isKnown(username, remote))
      .then(
        (ok) => {
          if (ok === null) {
            throttle.abandoned(remote)
            refuse(
              client,
              CONNACK.unavailable,
              username,
              `too many password checks waiting (${throttle.settings.maxWaiting}; ${throttle.settings.hashesPerS}/s) (BROKER_ERR_LOGIN_BUSY)`,
              done,
            )
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

  const seam = deps.seam
  if (seam) {
    return (client, username, password, done) => {
      Promise.resolve(seam({ clientId: client.id, username, password })).then(
        (ok) =>
          ok
            ? admit(client, ADMIN_ACL, username ? `user:${username}` : ANONYMOUS, done)
            : refuse(client, CONNACK.notAuthorized, username, 'refused by the authenticate function', done),
        (err: unknown) => {
          logger.error({ clientId: client.id, err: describeError(err) }, 'authentication failed')
          refuse(client, CONNACK.unavailable, username, 'authentication unavailable', done)
        },
      )
    }
  }
  return (client, username, password, done) => {
    if (deps.connectedClients() >= config.maxConnections) {
      refuse(client, CONNACK.unavailable, username, `maxConnections (${config.maxConnections}) reached`, done)
      return
    }
    if (username === undefined || username === '') {
      const remote = connections.remoteOf(client)
      if (anonymousAllowed(anonymous, remote)) admit(client, ADMIN_ACL, ANONYMOUS, done)
      else refuse(client, CONNACK.notAuthorized, username, `anonymous clients are not allowed (anonymous: ${anonymous}) from ${remote ?? 'unknown'}`, done)
      return
    }
    checkPassword(client, username, password, done)
  }
}
