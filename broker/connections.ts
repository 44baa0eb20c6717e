import type { Client } from 'aedes'
import type { ClientAcl } from './acl.ts'
import type { PublishThrottle } from './rate-limit.ts'

/** What the broker knows of an authenticated connection. */
export interface Admitted {
  acl: ClientAcl
  /** `user:<name>` or `anonymous`: who owns the connection's client id. */
  identity: string
  /** The per-connection publish rate limit, when one is configured. */
  throttle: PublishThrottle | undefined
}

/**
 * The broker's view of its connections: each one's permissions are set once when it authenticates
 * (no lookup by name per message), its remote address when it arrives.
 */
export class Connections {
  private readonly admitted = new WeakMap<Client, Admitted>()
  private readonly remotes = new WeakMap<object, string>()
  /** The connection that holds each client id now (a reconnect of the same identity replaces it). */
  private readonly current = new Map<string, Client>()

  admit(client: Client, info: Admitted): void {
    this.admitted.set(client, info)
  }

  get(client: Client): Admitted | undefined {
    return this.admitted.get(client)
  }

  /** The transport's stream (what Aedes calls `client.conn`) came from `remote`. */
  arrived(conn: object, remote: string): void {
    this.remotes.set(conn, remote)
  }

  remoteOf(client: Client): string | undefined {
    return this.remotes.get(client.conn)
  }

  ready(client: Client): void {
    this.current.set(client.id, client)
  }

  /** True when `client` still held its id (not replaced by a newer connection of the same owner). */
  gone(client: Client): boolean {
    if (this.current.get(client.id) !== client) return false
    this.current.delete(client.id)
    return true
  }
}
