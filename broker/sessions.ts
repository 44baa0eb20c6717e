import type { BrokerRole } from './acl.ts'
import type { BrokerSessions } from './config.ts'
import type { QueueLimit } from './persistence.ts'

/** One session the broker knows of: who owns it and what its queue lost. */
export interface SessionInfo {
  clientId: string
  /** `user:<name>` or `anonymous`. */
  identity: string
  role: BrokerRole
  /** clean=false: the session (subscriptions, queue) outlives the connection. */
  persistent: boolean
  connected: boolean
  /** When the last connection of a persistent session ended (epoch ms); undefined while connected. */
  offlineSince: number | undefined
  /** Messages not queued because the queue was full, since start. */
  dropped: number
  droppedBytes: number
}

/** What stats() shows of a session (those that dropped messages, or are offline with a queue). */
export interface SessionStat {
  clientId: string
  identity: string
  role: BrokerRole
  connected: boolean
  queued: number
  queuedBytes: number
  dropped: number
  droppedBytes: number
  /** Seconds left before an offline persistent session is removed. */
  expiresInS?: number
}

/**
 * The broker's table of sessions: their owners' roles give each queue its limit, offline persistent
 * sessions expire, and what a full queue dropped is counted per session.
 */
export class SessionTable {
  private readonly sessions = new Map<string, SessionInfo>()
  /** Messages dropped from full queues, all sessions. */
  droppedTotal = 0
  /** Sessions removed by expiry. */
  expired = 0
  /** Messages removed with expired sessions. */
  expiredMessages = 0

  private readonly clientLimit: QueueLimit
  private readonly ingestLimit: QueueLimit

  constructor(
    private readonly config: BrokerSessions,
    private readonly now: () => number = Date.now,
  ) {
    this.clientLimit = { maxMessages: config.client.maxQueuedMessages, maxBytes: config.client.maxQueuedBytes }
    this.ingestLimit = { maxMessages: config.ingest.maxQueuedMessages, maxBytes: config.ingest.maxQueuedBytes }
  }

  private tier(role: BrokerRole): BrokerSessions['client'] {
    return role === 'ingest' || role === 'admin' ? this.config.ingest : this.config.client
  }

  /** The queue limit of a client id (a session not known yet gets the smaller one). */
  limitOf = (clientId: string): QueueLimit => {
    const s = this.sessions.get(clientId)
    // Asked at every enqueue: the two limits are made once, not per message.
    return s && (s.role === 'ingest' || s.role === 'admin') ? this.ingestLimit : this.clientLimit
  }

  onDrop = (clientId: string, bytes: number): void => {
    this.droppedTotal++
    const s = this.sessions.get(clientId)
    if (s) {
      s.dropped++
      s.droppedBytes += bytes
    }
  }

  connected(clientId: string, identity: string, role: BrokerRole, persistent: boolean): void {
    const old = this.sessions.get(clientId)
    this.sessions.set(clientId, {
      clientId,
      identity,
      role,
      persistent,
      connected: true,
      offlineSince: undefined,
      dropped: old?.dropped ?? 0,
      droppedBytes: old?.droppedBytes ?? 0,
    })
  }

  /** The connection ended: a clean session is gone (true), a persistent one waits for its expiry. */
  disconnected(clientId: string): { ended: boolean; identity: string | undefined } {
    const s = this.sessions.get(clientId)
    if (!s) return { ended: true, identity: undefined }
    if (!s.persistent) {
      this.sessions.delete(clientId)
      return { ended: true, identity: s.identity }
    }
    s.connected = false
    s.offlineSince = this.now()
    return { ended: false, identity: s.identity }
  }

  get(clientId: string): SessionInfo | undefined {
    return this.sessions.get(clientId)
  }

  /** Persistent sessions offline longer than their expiry: removed from the table and returned. */
  takeExpired(): SessionInfo[] {
    const t = this.now()
    const out: SessionInfo[] = []
    for (const s of this.sessions.values()) {
      if (s.connected || s.offlineSince === undefined) continue
      if (t - s.offlineSince >= this.tier(s.role).expiryS * 1000) out.push(s)
    }
    for (const s of out) this.sessions.delete(s.clientId)
    return out
  }

  /** Sessions worth showing: offline persistent ones and any that dropped messages. */
  stats(queueOf: (clientId: string) => { messages: number; bytes: number }): SessionStat[] {
    const t = this.now()
    const out: SessionStat[] = []
    for (const s of this.sessions.values()) {
      if (s.connected && s.dropped === 0) continue
      const q = queueOf(s.clientId)
      out.push({
        clientId: s.clientId,
        identity: s.identity,
        role: s.role,
        connected: s.connected,
        queued: q.messages,
        queuedBytes: q.bytes,
        dropped: s.dropped,
        droppedBytes: s.droppedBytes,
        ...(s.offlineSince !== undefined ? { expiresInS: Math.max(0, Math.round((s.offlineSince + this.tier(s.role).expiryS * 1000 - t) / 1000)) } : {}),
      })
    }
    return out
  }
}
