import { describe, expect, it } from 'vitest'
import { LoginThrottle, type LoginThrottleSettings } from './login-throttle.ts'

const settings: LoginThrottleSettings = { addressFailures: 3, userFailures: 6, windowMs: 60_000, maxBlockMs: 8_000, hashesPerS: 1000, maxWaiting: 2 }

function throttle(): { t: LoginThrottle; advance(ms: number): void } {
  let now = 1_000_000
  return { t: new LoginThrottle(settings, () => now), advance: (ms) => (now += ms) }
}

/** One failed attempt, if it was allowed. */
function fail(t: LoginThrottle, user: string, address: string): boolean {
  const v = t.check(user, address)
  if (v.allowed) t.failed(user, address)
  return v.allowed
}

describe('login throttle', () => {
  it('holds an address after addressFailures, 1 s doubling to maxBlockMs, and lets the right password in after the wait', () => {
    const { t, advance } = throttle()
    expect([fail(t, 'u', 'a'), fail(t, 'u', 'a'), fail(t, 'u', 'a')]).toEqual([true, true, true])
    expect(t.check('u', 'a')).toEqual({ allowed: false, retryAfterMs: 1000, by: 'address' })
    advance(1000)
    expect(fail(t, 'u', 'a')).toBe(true)
    expect(t.check('u', 'a')).toMatchObject({ allowed: false, retryAfterMs: 2000 })
    advance(2000)
    fail(t, 'u', 'a')
    advance(4000)
    fail(t, 'u', 'a')
    // Capped at maxBlockMs (8 s), never longer.
    advance(8000)
    fail(t, 'u', 'a')
    expect(t.check('u', 'a')).toMatchObject({ allowed: false, retryAfterMs: 8000 })
    advance(8000)
    expect(t.check('u', 'a').allowed).toBe(true)
    t.succeeded('u', 'a')
    // Success forgets the address's failures.
    expect(fail(t, 'u', 'a')).toBe(true)
    expect(t.check('u', 'a').allowed).toBe(true)
    expect(t.throttled).toBe(3)
  })

  it('does not lock a gateway out of the address it logged in from when others guess from there (a shared NAT)', () => {
    const { t } = throttle()
    expect(t.check('gw-1', 'nat').allowed).toBe(true)
    t.succeeded('gw-1', 'nat')
    for (let i = 0; i < 3; i++) fail(t, 'guessed', 'nat')
    expect(t.check('guessed', 'nat')).toMatchObject({ allowed: false, by: 'address' })
    expect(t.check('gw-1', 'nat').allowed).toBe(true)
    t.succeeded('gw-1', 'nat')
    // Guessing the known user's password from there is throttled for that pair.
    for (let i = 0; i < 3; i++) fail(t, 'gw-1', 'nat')
    expect(t.check('gw-1', 'nat')).toMatchObject({ allowed: false, by: 'address' })
  })

  it('counts checks under way, so a parallel burst from one address gets addressFailures checks', () => {
    const { t } = throttle()
    const allowed = Array.from({ length: 10 }, () => t.check('u', 'a').allowed)
    expect(allowed.filter(Boolean)).toHaveLength(3)
  })

  it('throttles a username guessed from many addresses, except from addresses it logged in from before', () => {
    const { t, advance } = throttle()
    expect(t.check('gw', 'home').allowed).toBe(true)
    t.succeeded('gw', 'home')
    for (let i = 0; i < 6; i++) expect(fail(t, 'gw', `attacker-${i}`)).toBe(true)
    expect(t.check('gw', 'attacker-99')).toMatchObject({ allowed: false, by: 'user' })
    expect(t.check('gw', 'new-place')).toMatchObject({ allowed: false, by: 'user' })
    expect(t.check('gw', 'home').allowed).toBe(true)
    // Another user is not affected.
    expect(t.check('other', 'attacker-99').allowed).toBe(true)
    // The window passes: everybody may try again.
    advance(61_000)
    expect(t.check('gw', 'new-place').allowed).toBe(true)
  })

  it('starts at most hashesPerS checks a second and sheds beyond maxWaiting', async () => {
    let now = 0
    const t = new LoginThrottle({ ...settings, hashesPerS: 2, maxWaiting: 2 }, () => now)
    let started = 0
    const check = async (): Promise<boolean> => {
      started++
      return true
    }
    const results = [t.schedule(check), t.schedule(check), t.schedule(check), t.schedule(check), t.schedule(check)]
    // 2 at once (the bucket), 2 waiting, 1 shed.
    expect(started).toBe(2)
    expect(t.queued).toBe(2)
    expect(await results[4]).toBeNull()
    expect(t.shed).toBe(1)
    // A known (user, address) pair is never shed and goes first.
    const order: string[] = []
    const known = t.schedule(async () => order.push('known'), true)
    void results[2]?.then(() => order.push('other'))
    now += 1000
    await known
    now += 1000
    expect(await Promise.all(results.slice(0, 4))).toEqual([true, true, true, true])
    expect(order[0]).toBe('known')
    expect(started).toBe(4)
    t.close()
  })
})
