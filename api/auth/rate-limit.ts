import type { FastifyRequest } from 'fastify'
import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import type { RateLimitConfig } from '../config.ts'
import { apiError } from '../errors.ts'
import { isUnlimited } from './route-access.ts'

/** Whom a request counts against: its principal once known (key id, username), its address before. */
export function rateLimitKey(req: Pick<FastifyRequest, 'principal' | 'ip'>): string {
  return req.principal.via === 'none' ? `ip:${req.ip}` : `${req.principal.via ?? 'p'}:${req.principal.id}`
}

/** @fastify/rate-limit's options: global when `max` > 0 (else only routes that opt in, the login), coded 429s. */
export function rateLimitOptions(limits: Readonly<RateLimitConfig>): RateLimitPluginOptions {
  return {
    global: limits.max > 0,
    max: limits.max,
    timeWindow: limits.timeWindowMs,
    keyGenerator: rateLimitKey,
    // Health, the UI page and its files, and the docs never answer 429 (route-access.ts).
    allowList: (req) => isUnlimited(req),
    errorResponseBuilder: (_req, c) =>
      apiError('API_ERR_RATE_LIMITED', `too many requests: at most ${c.max} per ${limits.timeWindowMs / 1000} s; retry in ${c.after}`, {
        max: c.max,
        retryAfterS: Math.ceil(c.ttl / 1000),
      }),
  }
}
