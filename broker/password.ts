import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { PlantWattError } from '../core/errors.ts'

/**
 * scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB, ~50 ms on one core), the interactive-login figures of
 * the scrypt paper; the string carries them, so raising them later keeps old hashes valid.
 */
export const SCRYPT_DEFAULTS = { N: 16_384, r: 8, p: 1 } as const
const KEY_BYTES = 32
const SALT_BYTES = 16
const HASH_RE = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]{16,88}={0,2})\$([A-Za-z0-9+/]{16,88}={0,2})$/

/** A parsed `scrypt$N$r$p$salt$hash` string (salt and hash base64). */
export interface PasswordHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

function derive(plain: string | Buffer, salt: Buffer, params: { N: number; r: number; p: number }, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r * params.p + 1024 * 1024 }
  return new Promise((resolve, reject) => scrypt(plain, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))))
}

/** Parses and checks a stored hash; throws BROKER_ERR_PASSWORD_HASH naming what is wrong (never the hash). */
export function parsePasswordHash(text: string): PasswordHash {
  const m = HASH_RE.exec(text)
  if (!m)
    throw new PlantWattError('BROKER_ERR_PASSWORD_HASH', 'password hash is not of the form scrypt$N$r$p$salt$hash (make one with `plantwatt broker passwd`)')
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1)
    throw new PlantWattError('BROKER_ERR_PASSWORD_HASH', `scrypt parameters N=${N} r=${r} p=${p} are invalid (N a power of two ≥ 2)`)
  return { N, r, p, salt: Buffer.from(m[4] as string, 'base64'), hash: Buffer.from(m[5] as string, 'base64') }
}

/** Hashes a password for the broker's `users[].passwordHash` (what `plantwatt broker passwd` prints). */
export async function hashPassword(plain: string, params: { N: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  if (plain.length === 0) throw new PlantWattError('BROKER_ERR_PASSWORD_EMPTY', 'an empty password cannot be hashed')
  const salt = randomBytes(SALT_BYTES)
  const hash = await derive(plain, salt, params, KEY_BYTES)
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** Constant-time check of a password against a parsed hash. */
export async function verifyPassword(plain: string | Buffer, stored: PasswordHash): Promise<boolean> {
  const key = await derive(plain, stored.salt, stored, stored.hash.length)
  return timingSafeEqual(key, stored.hash)
}
