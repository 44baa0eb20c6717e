import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { resolveJwtSecret } from './jwt-secret.ts'

describe('resolveJwtSecret', () => {
  it('uses a configured secret of at least 32 characters', () => {
    const warnings: string[] = []
    expect(resolveJwtSecret('s'.repeat(32), true, (m) => warnings.push(m))).toBe('s'.repeat(32))
    expect(warnings).toEqual([])
  })

  it('refuses a short secret as a config error', () => {
    expect(() => resolveJwtSecret('short', true, () => {})).toThrow(
      expect.toSatisfy((e: unknown) => isPlantWattError(e, 'CORE_ERR_CONFIG') && /at least 32 characters/.test((e as Error).message)),
    )
  })

  it('without one: a fresh random secret each time, and a warning only when there are users to log in', () => {
    const warnings: string[] = []
    const a = resolveJwtSecret(undefined, false, (m) => warnings.push(m))
    expect(warnings).toEqual([])
    const b = resolveJwtSecret('', true, (m) => warnings.push(m))
    expect(Buffer.from(a, 'base64')).toHaveLength(32)
    expect(a).not.toBe(b)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/login tokens are signed with a random secret and die with this process/)
  })
})
