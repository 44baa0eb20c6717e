import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../broker/password.ts'
import { principalOf, sha256Hex } from './identity.ts'
import { UserDirectory } from './user-directory.ts'

describe('UserDirectory', () => {
  it('holds each user with a frozen principal and a fingerprint of the password hash', async () => {
    const hash = await hashPassword('pw', { N: 1024, r: 8, p: 1 })
    const users = new UserDirectory([
      { username: 'ann', role: 'admin', passwordHash: hash },
      { username: 'eng', role: 'engineer', enterprise: 'acme', passwordHash: hash },
    ])
    expect(users.size).toBe(2)
    expect(users.has('ann')).toBe(true)
    expect(users.has('bob')).toBe(false)
    expect(users.get('eng')?.principal).toEqual({ id: 'eng', role: 'engineer', enterprise: 'acme', via: 'jwt' })
    expect(users.get('ann')?.principal).toEqual({ id: 'ann', role: 'admin', via: 'jwt' })
    expect(Object.isFrozen(users.get('ann')?.principal)).toBe(true)
    expect(users.get('ann')?.fingerprint).toBe(sha256Hex(hash).slice(0, 16))
  })
})

describe('identity', () => {
  it('sha256Hex and principalOf', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(Object.keys(principalOf('x', 'admin', undefined, 'api-key'))).toEqual(['id', 'role', 'via'])
  })
})
