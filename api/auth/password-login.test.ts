import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../broker/password.ts'
import { isPlantWattError, type PlantWattError } from '../../core/errors.ts'
import { rateLimitSettings, resolveApiConfig } from '../config.ts'
import { HashGate } from '../hash-gate.ts'
import { PasswordLogin, loginThrottleFor } from './password-login.ts'
import { UserDirectory } from './user-directory.ts'

async function setup() {
  let now = Date.UTC(2025, 10, 29)
  const limits = rateLimitSettings(resolveApiConfig({ rateLimit: { loginFreeFailures: 2, loginBackoffMs: 4000, loginWindowMs: 60_000 } }))
  const gate = new HashGate({ perS: 100, atOnce: 2 })
  const users = new UserDirectory([{ username: 'ann', role: 'admin', passwordHash: await hashPassword('right', { N: 1024, r: 8, p: 1 }) }])
  const login = new PasswordLogin(
    users,
    loginThrottleFor(limits, () => now),
    gate,
  )
  return { login, gate, advance: (ms: number) => (now += ms) }
}

describe('PasswordLogin', () => {
  it("answers the user's principal for the right password and null for a wrong one or an unknown user, each one scrypt", async () => {
    const { login, gate } = await setup()
    expect(await login.login('ann', 'right', '10.0.0.1')).toEqual({ id: 'ann', role: 'admin', via: 'jwt' })
    expect(await login.login('ann', 'wrong', '10.0.0.1')).toBeNull()
    expect(await login.login('bob', 'right', '10.0.0.1')).toBeNull()
    expect(gate.ran).toBe(3)
  })

  it('throttles a username from an address after the free failures, without a scrypt; the wait runs out', async () => {
    const { login, gate, advance } = await setup()
    expect(await login.login('ann', 'x', '10.0.0.1')).toBeNull()
    expect(await login.login('ann', 'x', '10.0.0.1')).toBeNull()
    const ran = gate.ran
    const refused = await login.login('ann', 'right', '10.0.0.1').catch((e: unknown) => e)
    expect(isPlantWattError(refused, 'API_ERR_RATE_LIMITED')).toBe(true)
    expect((refused as PlantWattError).message).toBe('too many failed logins of this username from this address; retry in 4 s')
    expect((refused as PlantWattError).details).toEqual({ retryAfterS: 4, by: 'user-address' })
    expect(gate.ran).toBe(ran)
    // Another address is not held up by this pair.
    expect(await login.login('ann', 'right', '10.0.0.2')).not.toBeNull()
    advance(4000)
    expect(await login.login('ann', 'right', '10.0.0.1')).toEqual({ id: 'ann', role: 'admin', via: 'jwt' })
  })
})
