import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { ANONYMOUS_ADMIN, type Permission, type Principal } from '../principal.ts'
import { checkRoutePermission, isProtected, isUnlimited } from './route-access.ts'

function request(
  url: string,
  routeUrl: string,
  config: { public?: boolean; permission?: Permission } = {},
  principal: Principal = ANONYMOUS_ADMIN,
): FastifyRequest {
  return { url, routeOptions: { url: routeUrl, config }, principal } as unknown as FastifyRequest
}

describe('route access', () => {
  it('protects /api/v1 and what is under it, unless the route is public', () => {
    expect(isProtected(request('/api/v1/devices?x=1', '/api/v1/devices'))).toBe(true)
    expect(isProtected(request('/api/v1', '/api/v1'))).toBe(true)
    expect(isProtected(request('/api/v1/health', '/api/v1/health', { public: true }))).toBe(false)
    expect(isProtected(request('/ui/app.js', '/ui/:file'))).toBe(false)
    expect(isProtected(request('/api/v10/x', '/api/v10/x'))).toBe(false)
  })

  it('never rate limits health, the UI and the docs', () => {
    expect(['/api/v1/health', '/', '/ui/:file', '/docs', '/docs/json'].map((u) => isUnlimited(request(u, u)))).toEqual([true, true, true, true, true])
    expect(isUnlimited(request('/api/v1/devices', '/api/v1/devices'))).toBe(false)
    expect(isUnlimited(request('/docsx', '/docsx'))).toBe(false)
  })

  it("checks the route's permission against the principal", () => {
    const operator: Principal = { id: 'op', role: 'operator', enterprise: 'acme', via: 'jwt' }
    expect(() => checkRoutePermission(request('/api/v1/x', '/api/v1/x', {}, operator))).not.toThrow()
    expect(() => checkRoutePermission(request('/api/v1/x', '/api/v1/x', { permission: 'live' }, operator))).not.toThrow()
    expect(() => checkRoutePermission(request('/api/v1/x', '/api/v1/x', { permission: 'import' }, operator))).toThrow(
      expect.toSatisfy((e: unknown) => isPlantWattError(e, 'API_ERR_FORBIDDEN')),
    )
  })
})
