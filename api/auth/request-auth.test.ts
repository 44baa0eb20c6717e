import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../broker/password.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { HashGate } from '../hash-gate.ts'
import { ANONYMOUS_ADMIN, NOBODY } from '../principal.ts'
import { sha256Hex } from './identity.ts'
import { KeyRing } from './key-ring.ts'
import { RequestAuthentication } from './request-auth.ts'
import { LoginTokens, type JwtCodec } from './tokens.ts'
import { UserDirectory } from './user-directory.ts'

const users = new UserDirectory([{ username: 'ann', role: 'admin', passwordHash: await hashPassword('pw', { N: 1024, r: 8, p: 1 }) }])
/** A codec that takes "good" for ann's valid token and refuses anything else as fast-jwt would. */
const codec: JwtCodec = {
  sign: () => 'good',
  verify: (token) => {
    if (token === 'good') return { sub: 'ann', role: 'admin', pwh: users.get('ann')?.fingerprint, exp: 2e9 }
    throw Object.assign(new Error('expired'), { code: 'FAST_JWT_EXPIRED' })
  },
}

async function setup(enabled = true, gate = new HashGate({ perS: 100, atOnce: 2 })) {
  const keys = new KeyRing(
    [
      { id: 'gw', role: 'operator', enterprise: 'acme', keyHash: `sha256$${sha256Hex('k-gw')}` },
      { id: 'slow', role: 'engineer', enterprise: 'acme', keyHash: await hashPassword('k-slow', { N: 1024, r: 8, p: 1 }) },
    ],
    gate,
  )
  return new RequestAuthentication(enabled, keys, new LoginTokens(codec, users, 3600, () => 0))
}

function request(headers: Record<string, string>, url = '/api/v1/devices', config: Record<string, unknown> = {}): FastifyRequest {
  return { headers, query: {}, url, routeOptions: { url, config } } as unknown as FastifyRequest
}

/** identify then settle; the principal, or the code of what settle threw. */
async function authenticate(auth: RequestAuthentication, req: FastifyRequest): Promise<unknown> {
  auth.identify(req)
  try {
    await auth.settle(req)
  } catch (err) {
    return isPlantWattError(err) ? [err.code, err.message] : err
  }
  return req.principal
}

describe('RequestAuthentication', () => {
  it('auth off: everyone is the anonymous admin', async () => {
    expect(await authenticate(await setup(false), request({}))).toBe(ANONYMOUS_ADMIN)
  })

  it('a known key or a valid token is its principal at once, before the rate limit', async () => {
    const auth = await setup()
    const byKey = request({ 'x-api-key': 'k-gw' })
    auth.identify(byKey)
    expect(byKey.principal).toEqual({ id: 'gw', role: 'operator', enterprise: 'acme', via: 'api-key' })
    const byToken = request({ authorization: 'Bearer good' })
    auth.identify(byToken)
    expect(byToken.principal).toBe(users.get('ann')?.principal)
  })

  it('a scrypt key is NOBODY until settled, then its principal', async () => {
    const auth = await setup()
    const req = request({ 'x-api-key': 'k-slow' })
    auth.identify(req)
    expect(req.principal).toBe(NOBODY)
    await auth.settle(req)
    expect(req.principal).toEqual({ id: 'slow', role: 'engineer', enterprise: 'acme', via: 'api-key' })
  })

  it('refused credentials answer 401 on a protected route with why, and are NOBODY on a public one', async () => {
    const auth = await setup()
    expect(await authenticate(auth, request({}))).toEqual(['API_ERR_UNAUTHORIZED', expect.stringMatching(/^credentials required/)])
    expect(await authenticate(auth, request({ 'x-api-key': 'wrong' }))).toEqual(['API_ERR_UNAUTHORIZED', 'API key not recognised'])
    expect(await authenticate(auth, request({ authorization: 'Bearer old' }))).toEqual(['API_ERR_UNAUTHORIZED', 'bearer token has expired: log in again'])
    expect(await authenticate(auth, request({ 'x-api-key': 'wrong' }, '/api/v1/health', { public: true }))).toBe(NOBODY)
    expect(await authenticate(auth, request({}, '/'))).toBe(NOBODY)
  })

  it('a full hash gate: 429 on a protected route, NOBODY on a public one', async () => {
    const gate = new HashGate({ perS: 1, atOnce: 1, maxWaiting: 0 })
    const auth = await setup(true, gate)
    // Hold the gate's one slot.
    let release: () => void = () => {}
    const holding = gate.run(() => new Promise<void>((r) => (release = r)))
    expect(await authenticate(auth, request({ 'x-api-key': 'k-new-1' }))).toEqual(['API_ERR_RATE_LIMITED', expect.stringMatching(/too many password checks/)])
    expect(await authenticate(auth, request({ 'x-api-key': 'k-new-2' }, '/api/v1/health', { public: true }))).toBe(NOBODY)
    release()
    await holding
  })
})
