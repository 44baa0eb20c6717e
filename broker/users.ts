import { PlantWattError } from '../core/errors.ts'
import { compileAcl, type ClientAcl } from './acl.ts'
import type { BrokerUser } from './config.ts'
import { parsePasswordHash, type PasswordHash } from './password.ts'

/** A configured user, ready to check: parsed hash and compiled ACL. */
export interface CompiledUser {
  username: string
  hash: PasswordHash
  acl: ClientAcl
}

/**
 * Parses every hash and compiles every ACL once, at broker start. All problems are reported in one
 * BROKER_ERR_CONFIG (paths into `broker.users`), never a hash or password.
 */
export function compileUsers(users: readonly BrokerUser[]): Map<string, CompiledUser> {
  const out = new Map<string, CompiledUser>()
  const problems: { path: string; message: string }[] = []
  const seen = new Set<string>()
  users.forEach((u, i) => {
    if (seen.has(u.username)) {
      problems.push({ path: `/users/${i}/username`, message: `user ${JSON.stringify(u.username)} is configured twice` })
      return
    }
    seen.add(u.username)
    try {
      const hash = parsePasswordHash(u.passwordHash)
      const acl = compileAcl(u)
      out.set(u.username, { username: u.username, hash, acl })
    } catch (err) {
      problems.push({ path: `/users/${i}`, message: err instanceof Error ? err.message : String(err) })
    }
  })
  if (problems.length > 0) {
    throw new PlantWattError('BROKER_ERR_CONFIG', `broker: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
      details: problems,
    })
  }
  return out
}
