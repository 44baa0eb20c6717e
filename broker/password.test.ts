import { describe, expect, it } from 'vitest'
import { hashPassword, parsePasswordHash, verifyPassword } from './password.ts'

describe('broker passwords (scrypt)', () => {
  it('hashes to scrypt$N$r$p$salt$hash with a fresh salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse')
    const b = await hashPassword('correct horse')
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/)
    expect(a).not.toBe(b)
    expect(a).not.toContain('correct horse')
    const parsed = parsePasswordHash(a)
    expect(parsed).toMatchObject({ N: 16384, r: 8, p: 1 })
    expect(parsed.salt).toHaveLength(16)
    expect(parsed.hash).toHaveLength(32)
    expect(await verifyPassword('correct horse', parsed)).toBe(true)
    expect(await verifyPassword(Buffer.from('correct horse'), parsed)).toBe(true)
    expect(await verifyPassword('correct horsE', parsed)).toBe(false)
    expect(await verifyPassword('', parsed)).toBe(false)
  })

  it('keeps the parameters in the string, so a cheaper or costlier hash still verifies', async () => {
    const cheap = await hashPassword('pw', { N: 1024, r: 8, p: 1 })
    expect(cheap.startsWith('scrypt$1024$8$1$')).toBe(true)
    expect(await verifyPassword('pw', parsePasswordHash(cheap))).toBe(true)
  })

  it.each([
    ['plain text', 'secret'],
    ['another scheme', '$2b$10$abcdefghijklmnopqrstuv'],
    ['N not a power of two', 'scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    ['a missing part', 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA=='],
  ])('refuses %s as a stored hash with BROKER_ERR_PASSWORD_HASH', (_what, text) => {
    expect(() => parsePasswordHash(text)).toThrow(expect.objectContaining({ code: 'BROKER_ERR_PASSWORD_HASH' }))
  })

  it('refuses to hash an empty password', async () => {
    await expect(hashPassword('')).rejects.toMatchObject({ code: 'BROKER_ERR_PASSWORD_EMPTY' })
  })
})
