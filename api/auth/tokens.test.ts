import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { afterAll, describe, expect, it } from 'vitest'
import { hashPassword } from '../../broker/password.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { LoginTokens, type JwtCodec } from './tokens.ts'
import { UserDirectory } from './user-directory.ts'

const CHEAP = { N: 1024, r: 8, p: 1 }
const T0 = Date.UTC(2025, 10, 29, 4, 0, 0, 500)
const app = Fastify()
await app.register(fastifyJwt, { secret: 's'.repeat(32), sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'], requiredClaims: ['exp'] } })
afterAll(() => app.close())

const users = new UserDirectory([
  { username: 'ann', role: 'admin', passwordHash: await hashPassword('pw', CHEAP) },
  { username: 'eng', role: 'engineer', enterprise: 'acme', passwordHash: await hashPassword('pw', CHEAP) },
])
const ANN = users.get('ann')?.principal
const ENG = users.get('eng')?.principal

describe('LoginTokens', () => {
  it('issues a token that verifies to the user of now, expiring ttl seconds after the whole second it was issued in', () => {
    let now = T0
    const tokens = new LoginTokens(app.jwt, users, 3600, () => now)
    const { token, expiresAt } = tokens.issue(ENG!)
    expect(expiresAt).toBe(Date.UTC(2025, 10, 29, 5, 0, 0))
    expect(app.jwt.decode(token)).toMatchObject({ sub: 'eng', role: 'engineer', enterprise: 'acme', pwh: users.get('eng')?.fingerprint, exp: expiresAt / 1000 })
    expect(tokens.verify(token)).toBe(ENG)
    now = expiresAt + 1000
    expect(tokens.verify(token)).toBe('bearer token has expired: log in again')
    expect(Object.keys(app.jwt.decode(tokens.issue(ANN!).token) as object)).not.toContain('enterprise')
  })

  it('refuses a token whose user is gone or whose password changed since, and a token that is not one', async () => {
    const tokens = new LoginTokens(app.jwt, users, 3600, () => T0)
    const { token } = tokens.issue(ANN!)
    const changed = new UserDirectory([{ username: 'ann', role: 'admin', passwordHash: await hashPassword('new', CHEAP) }])
    expect(new LoginTokens(app.jwt, changed, 3600, () => T0).verify(token)).toBe('bearer token is not valid')
    expect(new LoginTokens(app.jwt, new UserDirectory([]), 3600, () => T0).verify(token)).toBe('bearer token is not valid')
    expect(tokens.verify('not.a.token')).toBe('bearer token is not valid')
  })

  it('refuses a token without exp, whether the verifier or the claims check catches it', () => {
    const noExp = app.jwt.sign({ sub: 'ann', role: 'admin', pwh: users.get('ann')?.fingerprint ?? '' }, { clockTimestamp: T0 })
    expect(new LoginTokens(app.jwt, users, 3600, () => T0).verify(noExp)).toBe('bearer token has no expiry (exp): log in again')
    const lax: JwtCodec = { sign: () => '', verify: () => ({ sub: 'ann', role: 'admin', pwh: users.get('ann')?.fingerprint }) }
    expect(new LoginTokens(lax, users, 3600, () => T0).verify('t')).toBe('bearer token has no expiry (exp): log in again')
  })

  it('gives tokens to configured users only', () => {
    const tokens = new LoginTokens(app.jwt, users, 3600, () => T0)
    expect(() => tokens.issue({ id: 'gw', role: 'operator', enterprise: 'acme', via: 'api-key' })).toThrow(
      expect.toSatisfy((e: unknown) => isPlantWattError(e, 'API_ERR_UNAUTHORIZED')),
    )
  })
})
