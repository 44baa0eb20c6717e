import { describe, expect, it } from 'vitest'
import { compileAcl, filterWithin } from './acl.ts'
import { PublishThrottle } from './rate-limit.ts'
import { anonymousAllowed } from './server.ts'

const split = (t: string): string[] => t.split('/')

describe('filterWithin', () => {
  it.each([
    ['pw/v1/a/b/l/d/command', 'pw/v1/a/b/+/+/command', true],
    ['pw/v1/a/b/+/+/command', 'pw/v1/a/b/+/+/command', true],
    ['pw/v1/a/b/l/+/command', 'pw/v1/a/b/+/+/command', true],
    ['pw/v1/a/+/l/d/command', 'pw/v1/a/b/+/+/command', false],
    ['pw/v1/a/b/#', 'pw/v1/a/b/+/+/command', false],
    ['pw/v1/a/b/l/d/data', 'pw/v1/a/b/+/+/command', false],
    ['pw/v1/a/b/l/d/command/x', 'pw/v1/a/b/+/+/command', false],
    ['pw/v1/a/b/l/d', 'pw/v1/a/b/+/+/command', false],
    ['#', 'pw/#', false],
    ['pw/#', 'pw/#', true],
    ['pw/v1/+/+/+/+/data', 'pw/#', true],
    ['pw/dead-letter', 'pw/#', true],
    ['$SYS/#', 'pw/#', false],
  ])('%s within %s → %s', (filter, pattern, expected) => {
    expect(filterWithin(split(filter), split(pattern))).toBe(expected)
  })
})

describe('compileAcl', () => {
  it('lets a gateway publish data and state only under its own enterprise and site', () => {
    const acl = compileAcl({ role: 'gateway', enterprise: 'hb-steel', site: 'wuhan' })
    expect(acl.scope).toBe('gateway hb-steel/wuhan')
    expect(acl.canPublish('pw/v1/hb-steel/wuhan/rolling-1/main-meter/data')).toBe(true)
    expect(acl.canPublish('pw/v1/hb-steel/wuhan/rolling-1/edge-1/state')).toBe(true)
    expect(acl.canPublish('pw/v1/hb-steel/wuhan/rolling-1/main-meter/alert')).toBe(false)
    expect(acl.canPublish('pw/v1/hb-steel/xiaogan/rolling-1/main-meter/data')).toBe(false)
    expect(acl.canPublish('pw/v1/hb-steel2/wuhan/rolling-1/main-meter/data')).toBe(false)
    expect(acl.canPublish('pw/v1/other/wuhan/rolling-1/main-meter/data')).toBe(false)
    expect(acl.canPublish('pw/dead-letter')).toBe(false)
    expect(acl.canPublish('$SYS/broker/data')).toBe(false)
    expect(acl.canSubscribe('pw/v1/hb-steel/wuhan/rolling-1/edge-1/command')).toBe(true)
    expect(acl.canSubscribe('pw/v1/hb-steel/wuhan/+/+/command')).toBe(true)
    expect(acl.canSubscribe('#')).toBe(false)
    expect(acl.canSubscribe('pw/v1/+/+/+/+/data')).toBe(false)
    expect(acl.canSubscribe('pw/v1/hb-steel/xiaogan/l/d/command')).toBe(false)
    expect(acl.canSubscribe('$SYS/#')).toBe(false)
  })

  it('without a site, a gateway covers every site of its enterprise and no other enterprise', () => {
    const acl = compileAcl({ role: 'gateway', enterprise: 'acme' })
    expect(acl.canPublish('pw/v1/acme/any-site/l/d/data')).toBe(true)
    expect(acl.canPublish('pw/v1/beta/any-site/l/d/data')).toBe(false)
    expect(acl.canSubscribe('pw/v1/acme/+/+/+/command')).toBe(true)
    expect(acl.canSubscribe('pw/v1/+/+/+/+/command')).toBe(false)
  })

  it('gives ingest and services read access, services alert publishing, admin everything', () => {
    const ingest = compileAcl({ role: 'ingest' })
    expect(ingest.canSubscribe('pw/v1/+/+/+/+/data')).toBe(true)
    expect(ingest.canSubscribe('pw/dead-letter')).toBe(true)
    expect(ingest.canSubscribe('#')).toBe(false)
    expect(ingest.canSubscribe('$SYS/#')).toBe(false)
    expect(ingest.canPublish('pw/v1/a/b/c/d/data')).toBe(false)
    const service = compileAcl({ role: 'service' })
    expect(service.canPublish('pw/v1/a/b/c/d/alert')).toBe(true)
    expect(service.canPublish('pw/v1/a/b/c/d/data')).toBe(false)
    const admin = compileAcl({ role: 'admin' })
    expect(admin.canSubscribe('$SYS/#')).toBe(true)
    expect(admin.canPublish('pw/v1/a/b/c/d/data')).toBe(true)
  })

  it.each([
    [{ role: 'gateway' as const }, /needs its enterprise/],
    [{ role: 'gateway' as const, enterprise: 'A+' }, /not a valid id/],
    [{ role: 'ingest' as const, enterprise: 'acme' }, /do not apply/],
  ])('refuses a scope that does not fit the role: %j', (subject, message) => {
    expect(() => compileAcl(subject)).toThrow(expect.objectContaining({ code: 'BROKER_ERR_ACL', message: expect.stringMatching(message) }))
  })
})

describe('PublishThrottle', () => {
  it('lets a burst through, then paces to the rate, queueing later callers behind earlier ones', () => {
    let now = 0
    const t = new PublishThrottle(100, 3, () => now)
    expect([t.delayMs(), t.delayMs(), t.delayMs()]).toEqual([0, 0, 0])
    expect([t.delayMs(), t.delayMs()]).toEqual([10, 20])
    now = 1000
    // A second later the bucket is full again.
    expect([t.delayMs(), t.delayMs(), t.delayMs()]).toEqual([0, 0, 0])
    expect(t.delayMs()).toBe(10)
  })
})

describe('anonymousAllowed', () => {
  it.each([
    ['loopback', '127.0.0.1', true],
    ['loopback', '::1', true],
    ['loopback', '::ffff:127.0.0.1', true],
    ['loopback', '10.1.2.3', false],
    ['loopback', undefined, false],
    ['never', '127.0.0.1', false],
    ['always', '10.1.2.3', true],
  ] as const)('%s from %s → %s', (policy, remote, expected) => {
    expect(anonymousAllowed(policy, remote)).toBe(expected)
  })
})
