/**
 * Failed MQTT logins, throttled per address and per username, and the scrypt work bounded per second.
 *
 * - An address that failed `addressFailures` times within `windowMs` waits before its next check:
 *   1 s, doubling per further failure, at most `maxBlockMs`. The wait ends by itself, so the right
 *   password always works again — no lock-out without end. A username that logged in from that
 *   address before is counted on its own (user and address together), so guesses from a shared
 *   address (a NAT, a plant network's gateway) do not lock out the gateways behind it.
 * - A username that failed `userFailures` times within the window (a guess spread over many
 *   addresses) is throttled the same way, except from addresses where that user logged in
 *   successfully before: the attacker is slowed, the real gateway still connects.
 * - Every password check is one scrypt (~50 ms of CPU): at most `hashesPerS` start per second, and
 *   at most `maxWaiting` wait for their turn; beyond that the broker answers "server unavailable"
 *   at once rather than queue CPU work without bound.
 */
export interface LoginThrottleSettings {
  /** Failures from one address before it is throttled. */
  addressFailures: number
  /** Failures for one username (from addresses it never logged in from) before it is throttled. */
  userFailures: number
  /** How long failures are remembered (ms). */
  windowMs: number
  /** Longest wait imposed (ms). */
  maxBlockMs: number
  /** scrypt checks started per second, all logins together. */
  hashesPerS: number
  /** Checks that may wait for their turn; more are refused at once. */
  maxWaiting: number
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleSettings = {
  addressFailures: 5,
  userFailures: 20,
  windowMs: 15 * 60_000,
  maxBlockMs: 5 * 60_000,
  hashesPerS: 20,
  maxWaiting: 200,
}

interface Failures {
  count: number
  /** When the window of these failures began. */
  since: number
  /** No check before this time. */
  blockedUntil: number
}

/** Bounds the tables so that a scan of random names or addresses cannot grow them without end. */
const MAX_TRACKED = 50_000
/** Successful (user, address) pairs remembered per user. */
const MAX_KNOWN_ADDRESSES = 64

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; by: 'address' | 'user' }

export class LoginThrottle {
  private readonly byAddress = new Map<string, Failures>()
  private readonly byUser = new Map<string, Failures>()
  /** Failures of a username from an address it logged in from before. */
  private readonly byPair = new Map<string, Failures>()
  private readonly knownAddresses = new Map<string, Set<string>>()
  /** Password checks under way per address: a burst of parallel guesses counts before its answers. */
  private readonly pending = new Map<string, number>()
  private tokens: number
  private last: number
  private readonly waiting: (() => void)[] = []
  /** Checks of a username from an address it logged in from before: they go first. */
  private readonly waitingKnown: (() => void)[] = []
  private timer: NodeJS.Timeout | undefined
  /** Logins answered without a password check because of a throttle. */
  throttled = 0
  /** Password checks refused because too many were waiting. */
  shed = 0

  constructor(
    readonly settings: LoginThrottleSettings = DEFAULT_LOGIN_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = settings.hashesPerS
    this.last = now()
  }

  /**
   * Whether a login of `username` from `address` may be checked now. An allowed check is counted as
   * under way until failed(), succeeded() or abandoned() is called for it.
   */
  check(username: string, address: string): ThrottleVerdict {
    const t = this.now()
    const known = this.knownAddresses.get(username)?.has(address) === true
    const a = known ? this.current(this.byPair, `${username}\n${address}`, t) : this.current(this.byAddress, address, t)
    if (a && a.blockedUntil > t) {
      this.throttled++
      return { allowed: false, retryAfterMs: a.blockedUntil - t, by: 'address' }
    }
    const under = this.pending.get(address) ?? 0
    if (under > 0 && (a?.count ?? 0) + under >= this.settings.addressFailures) {
      // As many checks under way as failures allowed: wait for their answers first.
      this.throttled++
      return { allowed: false, retryAfterMs: 1000, by: 'address' }
    }
    const u = this.current(this.byUser, username, t)
    if (u && u.blockedUntil > t && !known) {
      this.throttled++
      return { allowed: false, retryAfterMs: u.blockedUntil - t, by: 'user' }
    }
    this.pending.set(address, under + 1)
    return { allowed: true }
  }

  /** An allowed check that was not made (shed). */
  abandoned(address: string): void {
    const n = (this.pending.get(address) ?? 1) - 1
    if (n <= 0) this.pending.delete(address)
    else this.pending.set(address, n)
  }

  failed(username: string, address: string): void {
    this.abandoned(address)
    const t = this.now()
    if (this.knownAddresses.get(username)?.has(address)) {
      this.count(this.byPair, `${username}\n${address}`, t, this.settings.addressFailures)
      return
    }
    this.count(this.byAddress, address, t, this.settings.addressFailures)
    this.count(this.byUser, username, t, this.settings.userFailures)
  }

  succeeded(username: string, address: string): void {
    this.abandoned(address)
    this.byAddress.delete(address)
    this.byPair.delete(`${username}\n${address}`)
    let known = this.knownAddresses.get(username)
    if (!known) {
      if (this.knownAddresses.size >= MAX_TRACKED) this.knownAddresses.clear()
      known = new Set()
      this.knownAddresses.set(username, known)
    }
    if (known.size >= MAX_KNOWN_ADDRESSES) known.clear()
    known.add(address)
  }

  /** Whether `username` logged in from `address` before (its checks go first). */
  isKnown(username: string, address: string): boolean {
    return this.knownAddresses.get(username)?.has(address) === true
  }

  /**
   * Runs a password check when the per-second budget allows; resolves null (without running it)
   * when too many are already waiting. A check of a known (username, address) pair goes before the
   * others, so a flood of guesses from elsewhere does not keep a real gateway waiting.
   */
  schedule<T>(check: () => Promise<T>, known = false): Promise<T | null> {
    if (this.queued === 0 && this.take()) return check()
    if (this.queued >= this.settings.maxWaiting && !known) {
      this.shed++
      return Promise.resolve(null)
    }
    return new Promise<T | null>((resolve, reject) => {
      ;(known ? this.waitingKnown : this.waiting).push(() => check().then(resolve, reject))
      this.timer ??= setInterval(() => this.release(), Math.max(5, Math.floor(1000 / this.settings.hashesPerS)))
      this.timer.unref()
    })
  }

  /** Password checks waiting for their turn now. */
  get queued(): number {
    return this.waiting.length + this.waitingKnown.length
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private release(): void {
    while (this.queued > 0 && this.take()) ((this.waitingKnown.length > 0 ? this.waitingKnown : this.waiting).shift() as () => void)()
    if (this.queued === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private take(): boolean {
    const t = this.now()
    const rate = this.settings.hashesPerS
    this.tokens = Math.min(rate, this.tokens + ((t - this.last) * rate) / 1000)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  private current(table: Map<string, Failures>, key: string, t: number): Failures | undefined {
    const f = table.get(key)
    if (f && t - f.since > this.settings.windowMs && f.blockedUntil <= t) {
      table.delete(key)
      return undefined
    }
    return f
  }

  private count(table: Map<string, Failures>, key: string, t: number, limit: number): void {
    let f = this.current(table, key, t)
    if (!f) {
      if (table.size >= MAX_TRACKED) table.clear()
      f = { count: 0, since: t, blockedUntil: 0 }
      table.set(key, f)
    }
    f.count++
    if (f.count >= limit) f.blockedUntil = t + Math.min(this.settings.maxBlockMs, 1000 * 2 ** (f.count - limit))
  }
}
