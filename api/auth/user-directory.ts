import { parsePasswordHash, type PasswordHash } from '../../broker/password.ts'
import type { AuthConfig } from '../config.ts'
import type { Principal } from '../principal.ts'
import { principalOf, sha256Hex } from './identity.ts'

/** A configured user. */
export interface UserEntry {
  principal: Principal
  hash: PasswordHash
  /** Changes with the password hash: a token issued before a password change no longer verifies. */
  fingerprint: string
}

/** The configured users by username (`api.auth.users`), as of this configuration. */
export class UserDirectory {
  private readonly users: Map<string, UserEntry>

  constructor(users: AuthConfig['users']) {
    this.users = new Map(
      users.map((u) => [
        u.username,
        {
          principal: principalOf(u.username, u.role, u.enterprise, 'jwt'),
          hash: parsePasswordHash(u.passwordHash),
          fingerprint: sha256Hex(u.passwordHash).slice(0, 16),
        },
      ]),
    )
  }

  get size(): number {
    return this.users.size
  }

  get(username: string): UserEntry | undefined {
    return this.users.get(username)
  }

  has(username: string): boolean {
    return this.users.has(username)
  }
}
