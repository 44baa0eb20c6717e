import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { rateLimitSettings, resolveApiConfig } from '../config.ts'
import { NOBODY } from '../principal.ts'
import { rateLimitKey, rateLimitOptions } from './rate-limit.ts'

describe('rateLimitKey', () => {
  it('counts a request against its principal once known, against its address before', () => {
    expect(rateLimitKey({ principal: NOBODY, ip: '10.0.0.7' })).toBe('ip:10.0.0.7')
    expect(rateLimitKey({ principal: { id: 'gw-1', role: 'operator', enterprise: 'acme', via: 'api-key' }, ip: '10.0.0.7' })).toBe('api-key:gw-1')
    expect(rateLimitKey({ principal: { id: 'ann', role: 'admin', via: 'jwt' }, ip: '10.0.0.7' })).toBe('jwt:ann')
    expect(rateLimitKey({ principal: { id: 'x', role: 'admin' }, ip: '10.0.0.7' })).toBe('p:x')
  })
})

describe('rateLimitOptions', () => {
  it('is global only with a limit, allows health, answers 429 with a coded error', async () => {
    const limits = rateLimitSettings(resolveApiConfig({ rateLimit: { max: 50, timeWindowMs: 30_000 } }))
    const o = rateLimitOptions(limits)
    expect([o.global, o.max, o.timeWindow]).toEqual([true, 50, 30_000])
    expect(rateLimitOptions(rateLimitSettings(resolveApiConfig({ rateLimit: { max: 0 } }))).global).toBe(false)
    const route = (url: string) => ({ routeOptions: { url } }) as unknown as FastifyRequest
    expect(await (o.allowList as (req: FastifyRequest, key: string) => boolean)(route('/api/v1/health'), 'k')).toBe(true)
    expect(await (o.allowList as (req: FastifyRequest, key: string) => boolean)(route('/api/v1/devices'), 'k')).toBe(false)
    const err = o.errorResponseBuilder?.(route('/api/v1/devices'), { ban: false, after: '12 seconds', max: 50, ttl: 11_200, statusCode: 429 }) as {
      code: string
      message: string
      details: unknown
    }
    expect([err.code, err.message, err.details]).toEqual([
      'API_ERR_RATE_LIMITED',
      'too many requests: at most 50 per 30 s; retry in 12 seconds',
      { max: 50, retryAfterS: 12 },
    ])
  })
})
