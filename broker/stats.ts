import type { SessionStat } from './sessions.ts'

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

/** The counters the broker's parts add to; the rest of BrokerStats is read from where it lives. */
export class BrokerCounters {
  messagesIn = 0
  messagesOut = 0
  accepted = 0
  diverted = 0
  readonly divertedByReason: Record<string, number> = {}
  rejected = 0
  oversizePackets = 0
  authFailures = 0
  refusedConnections = 0
  refusedSubscriptions = 0
  throttled = 0
  heldForRouting = 0
  takeoversRefused = 0
  deliveriesRefused = 0

  divert(reason: string): void {
    this.diverted++
    this.divertedByReason[reason] = (this.divertedByReason[reason] ?? 0) + 1
  }

  snapshot(): Omit<BrokerStats, 'clients' | 'loginsThrottled' | 'loginsShed' | 'queueDropped' | 'sessionsExpired' | 'sessions'> {
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      accepted: this.accepted,
      diverted: this.diverted,
      divertedByReason: { ...this.divertedByReason },
      rejected: this.rejected,
      oversizePackets: this.oversizePackets,
      authFailures: this.authFailures,
      refusedConnections: this.refusedConnections,
      refusedSubscriptions: this.refusedSubscriptions,
      throttled: this.throttled,
      heldForRouting: this.heldForRouting,
      takeoversRefused: this.takeoversRefused,
      deliveriesRefused: this.deliveriesRefused,
    }
  }
}
