import { join } from 'node:path'
import {
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  MessageSecurityMode,
  OPCUAClient,
  type ReadValueIdOptions,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua'
import { PlantWattError } from '../../core/errors.ts'
import type { OpcuaConnection } from '../config.ts'
import { opcuaApplicationUri, opcuaTrustMayHaveChanged, sharedOpcuaCertificateManager } from './certificates.ts'
import { opcuaEndpointOf } from './lazy.ts'
import { opcuaPassword, opcuaSessionKey } from './session-key.ts'

/**
 * Bounds a node-opcua promise: a vanished server may never answer. A plain timer, cleared when `p`
 * settles: an aborted timers/promises sleep builds an AbortError (a DOMException with its stack) on
 * every call, which was most of the agent's own CPU per read (bench/opcua-notify.ts --reads).
 */
export async function within<T>(ms: number, what: string, p: Promise<T>, code = 'EDGE_ERR_TIMEOUT'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PlantWattError(code, `${what}: no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** `p`, or EDGE_ERR_CONNECT "aborted" as soon as `signal` aborts (the listener goes when `p` settles). */
async function unlessAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(new PlantWattError('EDGE_ERR_CONNECT', 'aborted'))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, abort])
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/** How a failed connect reads: a certificate refused on either side gets its own code. */
function connectError(endpoint: string, pkiDir: string, cause: unknown): PlantWattError {
  const reason = (cause as Error).message.replace(/\s+/g, ' ').trim()
  // "collect server's certificate" is what node-opcua says of any failed first contact: not a certificate problem.
  const status = /Bad\w*Certificate\w*|BadSecurityChecksFailed/.exec(reason)?.[0]
  if (status || /certificate verification|untrusted/i.test(reason)) {
    const hint = ` (is the server's certificate in ${join(pkiDir, 'trusted', 'certs')}? refused ones are in ${join(pkiDir, 'rejected')})`
    return new PlantWattError(
      'EDGE_ERR_OPCUA_CERTIFICATE',
      `cannot connect to ${endpoint}: certificate refused${status ? ` (${status})` : ''}: ${reason}${hint}`,
      { cause },
    )
  }
  return new PlantWattError('EDGE_ERR_CONNECT', `cannot connect to ${endpoint}: ${reason}`, { cause })
}

/** Bounded and never throwing: closing what may already be gone. */
async function quietly(what: Promise<unknown> | undefined): Promise<void> {
  if (what) await within(1000, 'close', what).catch(() => {})
}

/** Nodes per joined Read at most (servers cap a Read: node-opcua's default MaxNodesPerRead is 1000). */
const MAX_NODES_PER_READ = 500

interface ReadBatch {
  session: ClientSession
  nodes: ReadValueIdOptions[]
  waiters: { from: number; count: number; resolve: (values: DataValue[]) => void; reject: (err: unknown) => void }[]
}

/** A device's hold on the shared session: good while `isCurrent(lease)`. */
export interface SessionLease {
  readonly session: ClientSession
}

/**
 * One OPC UA client, secure channel and session, shared by every device whose connection settings
 * make them interchangeable (session-key.ts), and one subscription per publishing interval on it.
 * Each device keeps its own monitored items, node check, qualities and condition (driver.ts).
 * Opened by the first device's `acquire`, closed when the last one `release`s; a lost session
 * (server restart, a failed read) is re-opened by the next `acquire`, and every device holding a
 * lease on the old one finds it no longer current at its next poll.
 */
export class SharedOpcuaSession {
  readonly endpoint: string
  private client: OPCUAClient | undefined
  private session: ClientSession | undefined
  private lost = false
  private opening: Promise<void> | undefined
  private readonly members = new Set<object>()
  private readonly subscriptions = new Map<number, Promise<ClientSubscription>>()
  private closing: Promise<void> = Promise.resolve()
  /** Aborted when the last member leaves: stops an open in progress. */
  private stop = new AbortController()
  private batch: ReadBatch | undefined
  /** Read requests sent, and the device reads they carried (`opcuaSessionsInUse`). */
  readonly counters = { reads: 0, deviceReads: 0 }

  constructor(
    readonly key: string,
    private readonly conn: OpcuaConnection,
    private readonly onEmpty: () => void,
  ) {
    this.endpoint = opcuaEndpointOf(conn)
  }

  /** Devices holding it. */
  get size(): number {
    return this.members.size
  }

  /** Joins `member` (once) and answers a live session, opening it first (or again, if lost). */
  async acquire(member: object, signal: AbortSignal): Promise<SessionLease> {
    this.members.add(member)
    try {
      if (!this.session || this.lost) {
        this.opening ??= this.open(this.stop.signal).finally(() => (this.opening = undefined))
        await unlessAborted(this.opening, signal)
      }
      const session = this.session
      if (!session || this.lost) throw new PlantWattError('EDGE_ERR_CONNECTION', `${this.endpoint}: connection lost while connecting`)
      return { session }
    } catch (err) {
      await this.release(member)
      throw err
    }
  }

  /** The lease is on the session in use and the connection has not been lost. */
  isCurrent(lease: SessionLease): boolean {
    return !this.lost && this.session === lease.session
  }

  /** A request on `lease` failed as a whole: the next `acquire` opens a new session for everyone. */
  fail(lease: SessionLease): void {
    if (this.session === lease.session) this.lost = true
  }

  /** `member` leaves; the last one closes the session. Resolves when every close so far is done. */
  release(member: object): Promise<void> {
    if (this.members.delete(member) && this.members.size === 0) {
      this.stop.abort()
      this.stop = new AbortController()
      this.detach()
      this.onEmpty()
    }
    return this.closing
  }

  /**
   * A device's Read on the session, joined with the other devices' Reads of the same event-loop turn
   * into one request: the devices' pollers tick on one grid, so their node checks go out together —
   * one Read per session and poll instead of one per device (fewer requests for the PLC and the agent).
   */
  read(lease: SessionLease, nodes: readonly ReadValueIdOptions[]): Promise<DataValue[]> {
    let batch = this.batch
    if (!batch || batch.session !== lease.session || (batch.nodes.length > 0 && batch.nodes.length + nodes.length > MAX_NODES_PER_READ)) {
      const made: ReadBatch = { session: lease.session, nodes: [], waiters: [] }
      this.batch = batch = made
      setImmediate(() => this.flush(made))
    }
    const from = batch.nodes.length
    batch.nodes.push(...nodes)
    const waiters = batch.waiters
    return new Promise((resolve, reject) => waiters.push({ from, count: nodes.length, resolve, reject }))
  }

  private flush(batch: ReadBatch): void {
    if (this.batch === batch) this.batch = undefined
    this.counters.reads++
    this.counters.deviceReads += batch.waiters.length
    batch.session.read(batch.nodes).then(
      (values) => {
        for (const w of batch.waiters) w.resolve(values.slice(w.from, w.from + w.count))
      },
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err)
      },
    )
  }

  /** The session's subscription for `publishingIntervalMs`, created by the first device that asks. */
  subscription(lease: SessionLease, publishingIntervalMs: number): Promise<ClientSubscription> {
    let made = this.subscriptions.get(publishingIntervalMs)
    if (!made) {
      made = within(
        this.conn.timeoutMs,
        'create subscription',
        lease.session.createSubscription2({
          requestedPublishingInterval: publishingIntervalMs,
          // OPC UA Part 4, CreateSubscription: lifetime count at least 3 × keep-alive count.
          requestedLifetimeCount: 60,
          requestedMaxKeepAliveCount: 10,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
      )
      const mine = made
      this.subscriptions.set(publishingIntervalMs, mine)
      mine.catch(() => {
        if (this.subscriptions.get(publishingIntervalMs) === mine) this.subscriptions.delete(publishingIntervalMs)
      })
    }
    return made
  }

  /** Forgets the session in use at once; closing it (politely unless it was lost) runs in the background. */
  private detach(): void {
    const { client, session, lost } = this
    const subscriptions = [...this.subscriptions.values()]
    this.client = undefined
    this.session = undefined
    this.subscriptions.clear()
    if (!client) return
    this.closing = this.closing.then(async () => {
      if (!lost) {
        await Promise.all(subscriptions.map((s) => quietly(s.then((sub) => sub.terminate()))))
        await quietly(session?.close())
      }
      await quietly(client.disconnect())
    })
  }

  private async open(stop: AbortSignal): Promise<void> {
    this.detach()
    await this.closing
    const c = this.conn
    const client = OPCUAClient.create({
      applicationName: c.applicationName,
      applicationUri: opcuaApplicationUri(c),
      // One store per PKI folder for the process: a new one per attempt leaked (certificates.ts).
      clientCertificateManager: await sharedOpcuaCertificateManager(c, true),
      securityMode: MessageSecurityMode[c.securityMode],
      securityPolicy: c.securityPolicy === 'None' ? SecurityPolicy.None : SecurityPolicy.Basic256Sha256,
      endpointMustExist: false,
      // Reconnection is the devices' pollers': a lost session is closed and a new one opened by the
      // next acquire, with the subscriptions and monitored items made again.
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 500 },
      requestedSessionTimeout: 60_000,
      transportTimeout: c.timeoutMs,
      defaultTransactionTimeout: c.timeoutMs,
    })
    // Only the current client's events count: an old one may report its close after a reconnect.
    const lost = () => {
      if (this.client === client) this.lost = true
    }
    client.on('connection_lost', lost)
    client.on('close', lost)
    try {
      await unlessAborted(within(c.timeoutMs, `connect to ${c.endpointUrl}`, client.connect(c.endpointUrl), 'EDGE_ERR_CONNECT'), stop)
    } catch (cause) {
      await quietly(client.disconnect())
      const err = connectError(this.endpoint, c.pkiDir, cause)
      if (err.code === 'EDGE_ERR_OPCUA_CERTIFICATE') opcuaTrustMayHaveChanged(c)
      throw err
    }
    let session: ClientSession
    try {
      session = await unlessAborted(within(c.timeoutMs, 'create session', client.createSession(identityOf(c)), 'EDGE_ERR_CONNECT'), stop)
    } catch (cause) {
      await quietly(client.disconnect())
      const reason = (cause as Error).message
      const auth = /BadUserAccessDenied|BadIdentityToken|user/i.test(reason)
      throw new PlantWattError(
        auth ? 'EDGE_ERR_AUTH' : 'EDGE_ERR_CONNECT',
        `${this.endpoint}: session refused${auth ? ` for user ${JSON.stringify(c.username)}` : ''}: ${reason}`,
        { cause },
      )
    }
    if (stop.aborted) {
      await quietly(session.close())
      await quietly(client.disconnect())
      throw new PlantWattError('EDGE_ERR_CONNECT', 'aborted')
    }
    this.client = client
    this.session = session
    this.lost = false
  }
}

function identityOf(c: OpcuaConnection): UserIdentityInfo {
  return c.username === undefined ? { type: UserTokenType.Anonymous } : { type: UserTokenType.UserName, userName: c.username, password: opcuaPassword(c) }
}

const pool = new Map<string, SharedOpcuaSession>()

/**
 * The session `device` should use now: the one its connection settings share with other devices
 * (`session: shared`, the default) or its own. Ask again at each connect: a session whose last
 * device left is gone from the pool.
 */
export function sharedOpcuaSession(conn: OpcuaConnection, device: string): SharedOpcuaSession {
  const key = opcuaSessionKey(conn, device)
  if (conn.session === 'own') return new SharedOpcuaSession(key, conn, () => {})
  let s = pool.get(key)
  if (!s) {
    const made: SharedOpcuaSession = new SharedOpcuaSession(key, conn, () => {
      if (pool.get(key) === made) pool.delete(key)
    })
    pool.set(key, made)
    s = made
  }
  return s
}

/**
 * Shared sessions open or opening in this process (`session: own` ones are not listed): the devices
 * on each, and the Read requests sent on it with the device reads (node checks, polls) they carried.
 */
export function opcuaSessionsInUse(): { key: string; devices: number; reads: number; deviceReads: number }[] {
  return [...pool.values()].map((s) => ({ key: s.key, devices: s.size, ...s.counters }))
}
