import { Redis, type RedisOptions } from 'ioredis'

/**
 * Who owns each MQTT client id. A client id — and with it the persistent session, its subscriptions
 * and every QoS 1 message queued for it — belongs to the identity that first used it (a username,
 * or `anonymous`) until the session ends: a clean session's at its disconnect, a persistent one's at
 * its expiry. Another identity connecting with that id is refused before Aedes looks at the session
 * (which would otherwise hand over the queue and disconnect the owner).
 */
export interface SessionOwners {
  /**
   * Claims `clientId` for `identity`: null when it is now (or already was) the owner, else the
   * identity that owns it.
   */
  claim(clientId: string, identity: string): Promise<string | null>
  /** Gives up the claim (only the owner's claim is removed). */
  release(clientId: string, identity: string): Promise<void>
  close(): Promise<void>
}

/** One broker on its own: owners in memory (sessions live in the same memory). */
export class MemorySessionOwners implements SessionOwners {
  private readonly owners = new Map<string, string>()

  async claim(clientId: string, identity: string): Promise<string | null> {
    const owner = this.owners.get(clientId)
    if (owner === undefined) {
      this.owners.set(clientId, identity)
      return null
    }
    return owner === identity ? null : owner
  }

  async release(clientId: string, identity: string): Promise<void> {
    if (this.owners.get(clientId) === identity) this.owners.delete(clientId)
  }

  /** Owned client ids now (for tests and stats). */
  get size(): number {
    return this.owners.size
  }

  async close(): Promise<void> {}
}

/** The hash every node of a cluster claims client ids in (sessions live in the same Redis). */
export const OWNERS_KEY = 'plantwatt:client-owners'

/** Compare-and-delete: only the owner's claim goes. */
const RELEASE_SCRIPT = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"

/**
 * A cluster: the claim is an HSETNX in the Redis that holds the sessions, so a gateway cannot take
 * over ingest's session by connecting to another node.
 */
export class RedisSessionOwners implements SessionOwners {
  private readonly redis: Redis

  constructor(options: RedisOptions) {
    this.redis = new Redis({ ...options, lazyConnect: false, maxRetriesPerRequest: 3 })
  }

  async claim(clientId: string, identity: string): Promise<string | null> {
    const set = await this.redis.hsetnx(OWNERS_KEY, clientId, identity)
    if (set === 1) return null
    const owner = await this.redis.hget(OWNERS_KEY, clientId)
    if (owner === null) return this.claim(clientId, identity)
    return owner === identity ? null : owner
  }

  async release(clientId: string, identity: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, OWNERS_KEY, clientId, identity)
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}
