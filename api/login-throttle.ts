import { DAY_MS } from '../core/duration.ts'

/**
 * Failed API logins, throttled so that guessing is slow and the right password always works again.
 *
 * Three counters, each a window of `windowMs` that starts at its first failure and is then forgotten:
 *
 * - one username from one address: after `freeFailures` failures each further attempt waits
 *   `backoffMs`, doubling per failure, at most until the window ends;
 * - one address, any username (a spray of names): after `failuresPerAddress` it waits for the window end;
 * - one username, any address (a guess spread over many addresses): after `failuresPerUser` it waits for
 *   the window end — except from addresses where that user logged in before, so an attacker hammering a
 *   username does not lock its owner out.
 *
 * A throttled attempt is refused before its password is checked (no scrypt, and no oracle: the right
 * password is refused too while its turn has not come). Usernames that exist and those that do not are
 * throttled alike, so throttling does not tell which exist. Memory is bounded: the oldest entries go first.
 */
export interface LoginThrottleSettings {
  freeFailures: number
  /** First wait after the free failures, ms. */
  backoffMs: number
  /** How long failures are remembered from the first one, ms; also the longest wait. */
  windowMs: number
  failuresPerAddress: number
  failuresPerUser: number
}

export type LoginVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; by: 'user-address' | 'address' | 'user' }

interface Failures {
  count: number
  /** Start of the window, epoch ms. */
  since: number
  /** No attempt before this, epoch ms. */
  blockedUntil: number
}

/** Entries per table: a scan of random names or addresses cannot grow them without end. */
const MAX_TRACKED = 20_000
/** Addresses remembered per user after a successful login. */
const MAX_KNOWN_ADDRESSES = 32
/** How long a successful login makes its address known for that user, ms (30 days). */
const KNOWN_FOR_MS = 30 * DAY_MS

/** Insert or refresh `key` at the end of `map` (newest last), dropping the oldest beyond `max`. */
function touch<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value as K)
}

export class LoginThrottle {
  private readonly byPair = new Map<string, Failures>()
  private readonly byAddress = new Map<string, Failures>()
  private readonly byUser = new Map<string, Failures>()
  /** username → address → last successful login, epoch ms. */
  private readonly known = new Map<string, Map<string, number>>()

  constructor(
    private readonly settings: Readonly<LoginThrottleSettings>,
    private readonly now: () => number,
  ) {}

  /** Whether a login of `username` from `address` may have its password checked now. */
  check(username: string, address: string): LoginVerdict {
    const t = this.now()
    const waits: [number, 'user-address' | 'address' | 'user'][] = [
      [this.blockedUntil(this.byPair, pairKey(username, address), t), 'user-address'],
      [this.blockedUntil(this.byAddress, address, t), 'address'],
      [this.isKnown(username, address, t) ? 0 : this.blockedUntil(this.byUser, username, t), 'user'],
    ]
    const [until, by] = waits.reduce((a, b) => (b[0] > a[0] ? b : a))
    return until > t ? { allowed: false, retryAfterMs: until - t, by } : { allowed: true }
  }

  /** A password check failed. */
  failed(username: string, address: string): void {
    const t = this.now()
    const { freeFailures, backoffMs, failuresPerAddress, failuresPerUser } = this.settings
    this.count(this.byPair, pairKey(username, address), t, (f) =>
      f.count < freeFailures ? 0 : Math.min(f.since + this.settings.windowMs, t + backoffMs * 2 ** Math.min(30, f.count - freeFailures)),
    )
    this.count(this.byAddress, address, t, (f) => (f.count < failuresPerAddress ? 0 : f.since + this.settings.windowMs))
    this.count(this.byUser, username, t, (f) => (f.count < failuresPerUser ? 0 : f.since + this.settings.windowMs))
  }

  /** A password check passed: the pair starts afresh and the address becomes known for the user. */
  succeeded(username: string, address: string): void {
    const t = this.now()
    this.byPair.delete(pairKey(username, address))
    // The address counter is not reset: one account the attacker owns must not reset a spray's count.
    const addresses = this.known.get(username) ?? new Map<string, number>()
    touch(addresses, address, t, MAX_KNOWN_ADDRESSES)
    touch(this.known, username, addresses, MAX_TRACKED)
  }

  /** Entries held, for tests and status. */
  size(): { pairs: number; addresses: number; users: number } {
    return { pairs: this.byPair.size, addresses: this.byAddress.size, users: this.byUser.size }
  }

  private current(map: Map<string, Failures>, key: string, t: number): Failures | undefined {
    const f = map.get(key)
    if (f && t - f.since >= this.settings.windowMs) {
      map.delete(key)
      return undefined
    }
    return f
  }

  private blockedUntil(map: Map<string, Failures>, key: string, t: number): number {
    return this.current(map, key, t)?.blockedUntil ?? 0
  }

  private count(map: Map<string, Failures>, key: string, t: number, until: (f: Failures) => number): void {
    const f = this.current(map, key, t) ?? { count: 0, since: t, blockedUntil: 0 }
    f.count++
    f.blockedUntil = until(f)
    touch(map, key, f, MAX_TRACKED)
  }

  private isKnown(username: string, address: string, t: number): boolean {
    const at = this.known.get(username)?.get(address)
    return at !== undefined && t - at < KNOWN_FOR_MS
  }
}

// An address never holds U+0000, so the first one ends it: no two (address, username) pairs share a key.
const pairKey = (username: string, address: string) => `${address}\u0000${username}`
