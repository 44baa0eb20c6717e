import { randomBytes } from 'node:crypto'
import { PlantWattError } from '../../core/errors.ts'

/**
 * The secret login tokens are signed with: the configured one (api.auth.jwtSecret, else
 * PLANTWATT_JWT_SECRET), at least 32 characters; none → a random one, and `warn` is told when there
 * are users (their tokens then die with the process). Throws CORE_ERR_CONFIG for a short secret.
 */
export function resolveJwtSecret(configured: string | undefined, hasUsers: boolean, warn: (message: string) => void): string {
  if (configured === undefined || configured.length === 0) {
    if (hasUsers) warn('api.auth.jwtSecret and PLANTWATT_JWT_SECRET are not set: login tokens are signed with a random secret and die with this process')
    return randomBytes(32).toString('base64')
  }
  if (configured.length < 32)
    throw new PlantWattError('CORE_ERR_CONFIG', 'PLANTWATT_JWT_SECRET must have at least 32 characters (e.g. openssl rand -base64 48)')
  return configured
}
