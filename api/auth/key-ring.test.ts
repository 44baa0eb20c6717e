import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../broker/password.ts'
import { HashGate } from '../hash-gate.ts'
import { sha256Hex } from './identity.ts'
import { KeyRing } from './key-ring.ts'

/** A cheap scrypt keeps the test fast; the format and the code path are the production ones. */
const CHEAP = { N: 1024, r: 8, p: 1 }

describe('KeyRing', () => {
  it('finds a sha256 key at once and knows a bad key is bad when no scrypt key is configured', async () => {
    const ring = new KeyRing(
      [{ id: 'gw', role: 'operator', enterprise: 'acme', keyHash: `sha256$${sha256Hex('k-gw')}` }],
      new HashGate({ perS: 10, atOnce: 1 }),
    )
    expect(ring.quick(sha256Hex('k-gw'))).toEqual({ id: 'gw', role: 'operator', enterprise: 'acme', via: 'api-key' })
    expect(Object.isFrozen(ring.quick(sha256Hex('k-gw')))).toBe(true)
    expect(ring.quick(sha256Hex('wrong'))).toBeNull()
    expect(await ring.check('wrong', sha256Hex('wrong'))).toBeNull()
  })

  it('checks a scrypt key once at the gate, then remembers good and bad keys; concurrent checks share one', async () => {
    const gate = new HashGate({ perS: 100, atOnce: 2 })
    const ring = new KeyRing(
      [
        { id: 'a', role: 'admin', keyHash: await hashPassword('k-a', CHEAP) },
        { id: 'b', role: 'engineer', enterprise: 'acme', keyHash: await hashPassword('k-b', CHEAP) },
      ],
      gate,
    )
    const digest = sha256Hex('k-b')
    expect(ring.quick(digest)).toBeUndefined()
    const [x, y] = await Promise.all([ring.check('k-b', digest), ring.check('k-b', digest)])
    expect(x).toEqual({ id: 'b', role: 'engineer', enterprise: 'acme', via: 'api-key' })
    expect(y).toBe(x)
    expect(gate.ran).toBe(1)
    expect(ring.quick(digest)).toBe(x)
    expect(await ring.check('nope', sha256Hex('nope'))).toBeNull()
    expect(gate.ran).toBe(2)
    expect(ring.quick(sha256Hex('nope'))).toBeNull()
    expect(await ring.check('nope', sha256Hex('nope'))).toBeNull()
    expect(gate.ran).toBe(2)
  })
})
