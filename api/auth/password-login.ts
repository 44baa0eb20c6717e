import { parsePasswordHash, verifyPassword } from '../../broker/password.ts'
import type { RateLimitConfig } from '../config.ts'
import { apiError } from '../errors.ts'
import type { HashGate } from '../hash-gate.ts'
import { LoginThrottle } from '../login-throttle.ts'
import type { Principal } from '../principal.ts'
import type { UserDirectory } from './user-directory.ts'

/** An unknown user is checked against this hash, so that the answer takes as long as for a known one. */
const DUMMY_HASH = parsePasswordHash('scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')

const THROTTLED_BY = { 'user-address': 'of this username from this address', address: 'from this address', user: 'of this username' } as const

/** The login throttle the rate-limit settings describe. */
export function loginThrottleFor(limits: Readonly<RateLimitConfig>, now: () => number): LoginThrottle {
  return new LoginThrottle(
    {
      freeFailures: limits.loginFreeFailures,
      backoffMs: limits.loginBackoffMs,
      windowMs: limits.loginWindowMs,
      failuresPerAddress: limits.loginFailuresPerAddress,
      failuresPerUser: limits.loginFailuresPerUser,
    },
    now,
  )
}

/** Username and password → principal: throttled (api/login-throttle.ts), one scrypt at the gate, constant time for unknown users. */
export class PasswordLogin {
  constructor(
    private readonly users: UserDirectory,
    private readonly throttle: LoginThrottle,
    private readonly gate: HashGate,
  ) {}

  /** The user's principal when the password is right, null otherwise; throws API_ERR_RATE_LIMITED while throttled. */
  async login(username: string, password: string, address: string): Promise<Principal | null> {
    const verdict = this.throttle.check(username, address)
    if (!verdict.allowed) {
      const retryAfterS = Math.ceil(verdict.retryAfterMs / 1000)
      throw apiError('API_ERR_RATE_LIMITED', `too many failed logins ${THROTTLED_BY[verdict.by]}; retry in ${retryAfterS} s`, { retryAfterS, by: verdict.by })
    }
    const user = this.users.get(username)
    const ok = await this.gate.run(() => verifyPassword(password, user?.hash ?? DUMMY_HASH))
    if (ok && user) {
      this.throttle.succeeded(username, address)
      return user.principal
    }
    this.throttle.failed(username, address)
    return null
  }
}
