import type { FastifyRequest } from 'fastify'
import { apiError } from '../errors.ts'
import { ANONYMOUS_ADMIN, NOBODY, type Principal } from '../principal.ts'
import { readCredentials } from './credentials.ts'
import { sha256Hex } from './identity.ts'
import type { KeyRing } from './key-ring.ts'
import { isProtected } from './route-access.ts'
import type { LoginTokens } from './tokens.ts'

/** Per request: what `identify` found and `settle` must still decide. */
interface Pending {
  /** An X-API-Key that needs a scrypt check. */
  key?: { key: string; digest: string }
  /** Why the credentials were refused (401 on a protected route). */
  problem?: string
}

/**
 * Who a request is, in two steps around the rate limit: `identify` (onRequest) sets `req.principal`
 * from what costs no scrypt — auth off → ANONYMOUS_ADMIN, a known key or a valid token → its
 * principal, else NOBODY for now; `settle` (preValidation, after rate limiting) runs the scrypt check
 * of an unknown key and answers 401 on a protected route whose credentials were refused.
 */
export class RequestAuthentication {
  private readonly pending = new WeakMap<FastifyRequest, Pending>()

  constructor(
    /** False while no key and no user is configured. */
    private readonly enabled: boolean,
    private readonly keys: KeyRing,
    private readonly tokens: LoginTokens,
  ) {}

  identify(req: FastifyRequest): void {
    if (!this.enabled) {
      req.principal = ANONYMOUS_ADMIN
      return
    }
    req.principal = NOBODY
    const presented = readCredentials(req)
    if (presented.kind === 'refused') {
      this.pending.set(req, { problem: presented.problem })
      return
    }
    if (presented.kind === 'api-key') {
      const digest = sha256Hex(presented.key)
      const found = this.keys.quick(digest)
      if (found) req.principal = found
      else if (found === null) this.pending.set(req, { problem: 'API key not recognised' })
      else this.pending.set(req, { key: { key: presented.key, digest } })
      return
    }
    const found = this.tokens.verify(presented.token)
    if (typeof found === 'string') this.pending.set(req, { problem: found })
    else req.principal = found
  }

  async settle(req: FastifyRequest): Promise<void> {
    const p = this.pending.get(req)
    if (p?.key) {
      let found: Principal | null
      try {
        found = await this.keys.check(p.key.key, p.key.digest)
      } catch (err) {
        // The hash gate is full: a protected route answers 429; a public one (health) answers as to NOBODY.
        if (isProtected(req)) throw err
        found = null
      }
      if (found) req.principal = found
      else p.problem = 'API key not recognised'
    }
    if (p?.problem !== undefined && isProtected(req)) throw apiError('API_ERR_UNAUTHORIZED', p.problem)
  }
}
