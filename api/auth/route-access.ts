import type { FastifyRequest } from 'fastify'
import { API_PREFIX } from '../prefix.ts'
import { requirePermission } from '../principal.ts'

/**
 * Routes the key-failure (per-address) rate limit never answers with 429: a load balancer's health check
 * and the static UI and docs stay up for an address that floods bad keys elsewhere.
 */
const UNLIMITED_ROUTES = new Set([`${API_PREFIX}/health`, '/', '/ui/:file'])

/** Health, the UI page and its files, and the docs: never rate limited. */
export function isUnlimited(req: FastifyRequest): boolean {
  const url = req.routeOptions.url ?? ''
  return UNLIMITED_ROUTES.has(url) || url === '/docs' || url.startsWith('/docs/')
}

/** An /api/v1 route that is not `config.public`: credentials required (401 without). */
export function isProtected(req: FastifyRequest): boolean {
  if (req.routeOptions.config?.public === true) return false
  const path = req.url.split('?')[0] ?? ''
  return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)
}

/** The route's `config.permission`, checked against the principal (403 API_ERR_FORBIDDEN). */
export function checkRoutePermission(req: FastifyRequest): void {
  const permission = req.routeOptions.config?.permission
  if (permission !== undefined) requirePermission(req, permission)
}
