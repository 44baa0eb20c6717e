import { parsePasswordHash, verifyPassword, type PasswordHash } from '../../broker/password.ts'
import type { AuthConfig } from '../config.ts'
import type { HashGate } from '../hash-gate.ts'
import type { Principal } from '../principal.ts'
import { principalOf } from './identity.ts'

/** Bad keys remembered, so repeating one costs no scrypt; bounded so random keys cannot grow it. */
export const REJECTED_KEYS_MAX = 1024

/**
 * API keys: sha256 hashes are looked up directly; scrypt hashes cost one scrypt per configured key on
 * the first use of a key (~50 ms each), after which the key is remembered (by its sha256) in memory.
 */
export class KeyRing {
  private readonly bySha = new Map<string, Principal>()
  private readonly scrypt: { principal: Principal; hash: PasswordHash }[] = []
  private readonly verified = new Map<string, Principal>()
  private readonly rejected = new Set<string>()
  private readonly pending = new Map<string, Promise<Principal | null>>()

  constructor(
    keys: AuthConfig['apiKeys'],
    private readonly gate: HashGate,
  ) {
    for (const k of keys) {
      const principal = principalOf(k.id, k.role, k.enterprise, 'api-key')
      if (k.keyHash.startsWith('sha256$')) this.bySha.set(k.keyHash.slice('sha256$'.length), principal)
      else this.scrypt.push({ principal, hash: parsePasswordHash(k.keyHash) })
    }
  }

  /** The key's principal, null when it is known to be bad, undefined when a scrypt check is needed. */
  quick(digest: string): Principal | null | undefined {
    const known = this.bySha.get(digest) ?? this.verified.get(digest)
    if (known) return known
    if (this.rejected.has(digest) || this.scrypt.length === 0) return null
    return undefined
  }

  /** The slow path, after rate limiting: concurrent requests with the same key share one check. */
  check(key: string, digest: string): Promise<Principal | null> {
    const quick = this.quick(digest)
    if (quick !== undefined) return Promise.resolve(quick)
    let p = this.pending.get(digest)
    if (!p) {
      // A flood of random keys queues at the gate instead of taking every core.
      p = this.gate.run(() => this.scan(key, digest)).finally(() => this.pending.delete(digest))
      this.pending.set(digest, p)
    }
    return p
  }

  private async scan(key: string, digest: string): Promise<Principal | null> {
    for (const entry of this.scrypt) {
      if (await verifyPassword(key, entry.hash)) {
        this.verified.set(digest, entry.principal)
        return entry.principal
      }
    }
    if (this.rejected.size >= REJECTED_KEYS_MAX) this.rejected.delete(this.rejected.values().next().value as string)
    this.rejected.add(digest)
    return null
  }
}
