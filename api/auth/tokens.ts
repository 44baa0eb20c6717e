import { apiError } from '../errors.ts'
import type { Principal } from '../principal.ts'
import type { UserDirectory } from './user-directory.ts'

/** A signed login token and when it expires (epoch ms). */
export interface IssuedToken {
  token: string
  expiresAt: number
}

/** What tokens need of @fastify/jwt (`app.jwt`): HS256 signing and verifying, `exp` required. */
export interface JwtCodec {
  sign(payload: TokenClaims, options: { expiresIn: number; clockTimestamp: number }): string
  verify(token: string, options: { clockTimestamp: number }): unknown
}

/** The claims of a login token. */
export interface TokenClaims {
  sub: string
  role: string
  enterprise?: string
  /** fingerprint of the user's password hash at login */
  pwh: string
  /** expiry, epoch s: required */
  exp?: number
}

/** Login tokens of configured users: issued after a login, verified against the users of now. */
export class LoginTokens {
  constructor(
    private readonly jwt: JwtCodec,
    private readonly users: UserDirectory,
    /** Token lifetime, s. */
    private readonly ttlS: number,
    private readonly now: () => number,
  ) {}

  issue(principal: Principal): IssuedToken {
    const user = this.users.get(principal.id)
    if (!user) throw apiError('API_ERR_UNAUTHORIZED', 'only configured users get tokens')
    const now = this.now()
    const claims: TokenClaims = {
      sub: principal.id,
      role: principal.role,
      pwh: user.fingerprint,
      ...(principal.enterprise === undefined ? {} : { enterprise: principal.enterprise }),
    }
    const token = this.jwt.sign(claims, { expiresIn: this.ttlS, clockTimestamp: now })
    // exp is whole seconds from iat (floor of now in s), as the verifier reads it.
    return { token, expiresAt: (Math.floor(now / 1000) + this.ttlS) * 1000 }
  }

  /** The token's principal, or why it is refused (the 401's message). */
  verify(token: string): Principal | string {
    let claims: TokenClaims
    try {
      claims = this.jwt.verify(token, { clockTimestamp: this.now() }) as TokenClaims
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'FAST_JWT_EXPIRED') return 'bearer token has expired: log in again'
      if (code === 'FAST_JWT_MISSING_REQUIRED_CLAIM') return 'bearer token has no expiry (exp): log in again'
      return 'bearer token is not valid'
    }
    // Also checked here, so that no verifier option can let a token without an end through.
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return 'bearer token has no expiry (exp): log in again'
    // The role and scope come from the config of now, not from the token: removing a user, changing
    // their role or password takes effect at once.
    const user = this.users.get(claims.sub)
    if (!user || user.fingerprint !== claims.pwh) return 'bearer token is not valid'
    return user.principal
  }
}
