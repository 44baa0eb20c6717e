import type { Aedes, Client } from 'aedes'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { ANONYMOUS } from './authenticate.ts'
import type { Connections } from './connections.ts'
import type { IndexedMemoryPersistence } from './persistence.ts'
import type { SessionOwners } from './session-owners.ts'
import type { SessionTable } from './sessions.ts'

export interface SessionKeeperDeps {
  sessions: SessionTable
  connections: Connections
  owners: SessionOwners
  /** The built-in persistence (its queues can be measured and dropped); absent in a cluster. */
  memory: IndexedMemoryPersistence | undefined
  /** Another persistence (a cluster's, or one injected): only its subscriptions can be removed. */
  other: { cleanSubscriptions?(client: { id: string }): Promise<unknown> } | undefined
  sweepIntervalMs: number
  logger: Logger
}

/**
 * Follows sessions through Aedes' connect and disconnect events: a clean session's client id is
 * released when it disconnects; a persistent one waits offline until its expiry, when it is removed
 * with its queue and its id is released.
 */
export class SessionKeeper {
  private readonly timer: NodeJS.Timeout

  constructor(
    aedes: Aedes,
    private readonly deps: SessionKeeperDeps,
  ) {
    const { sessions, connections } = deps
    aedes.on('clientReady', (client: Client) => {
      connections.ready(client)
      const admitted = connections.get(client)
      sessions.connected(client.id, admitted?.identity ?? ANONYMOUS, admitted?.acl.role ?? 'admin', client.clean === false)
    })
    aedes.on('clientDisconnect', (client: Client) => {
      // A reconnect of the same identity replaced this connection: the session lives on.
      if (!connections.gone(client)) return
      const { ended, identity } = sessions.disconnected(client.id)
      if (ended && identity) this.release(client.id, identity)
    })
    this.timer = setInterval(() => this.sweep(), deps.sweepIntervalMs)
    this.timer.unref()
  }

  /** Removes the persistent sessions offline past their expiry. */
  sweep(): void {
    const { sessions, memory, logger } = this.deps
    for (const s of sessions.takeExpired()) {
      const removed = memory ? memory.dropSession(s.clientId) : this.cleanElsewhere(s.clientId)
      removed
        .then(({ messages }) => {
          sessions.expired++
          sessions.expiredMessages += messages
          logger.warn(
            { clientId: s.clientId, identity: s.identity, messages, code: 'BROKER_ERR_SESSION_EXPIRED' },
            'persistent session expired: removed with its queue',
          )
          this.release(s.clientId, s.identity)
        })
        .catch((err: unknown) => logger.warn({ clientId: s.clientId, err: describeError(err) }, 'cannot remove an expired session'))
    }
  }

  close(): void {
    clearInterval(this.timer)
  }

  /** The subscriptions go; what is still queued is only ever delivered through the ACL. */
  private async cleanElsewhere(clientId: string): Promise<{ messages: number; bytes: number }> {
    await this.deps.other?.cleanSubscriptions?.({ id: clientId })
    return { messages: 0, bytes: 0 }
  }

  private release(clientId: string, identity: string): void {
    this.deps.owners
      .release(clientId, identity)
      .catch((err: unknown) => this.deps.logger.warn({ clientId, err: describeError(err) }, 'cannot release the client id'))
  }
}
