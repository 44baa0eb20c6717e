import type { FastifyRequest } from 'fastify'
import { apiError } from './errors.ts'

/**
 * Who is asking. Set on every request by the auth plugin (`api/auth.ts`) before any route runs.
 *
 * Roles: operator (live data and alerts of the enterprise), engineer (+ energy figures, baselines,
 * imports), commission (read access to every enterprise's figures and the commission scope), admin
 * (everything). Tenant scope: `enterprise` set = only that enterprise's data; absent = all (commission
 * and admin only).
 */
export const ROLES = ['operator', 'engineer', 'commission', 'admin'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  /** Key id or JWT subject. */
  id: string
  role: Role
  /** The one enterprise this principal may see; undefined = every enterprise. */
  enterprise?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
}

/** True when the principal may see data of `enterprise`. */
export function canSeeEnterprise(p: Principal, enterprise: string): boolean {
  return p.enterprise === undefined || p.enterprise === enterprise
}

/** Throws API_ERR_FORBIDDEN unless the request's principal has one of `roles`. */
export function requireRole(req: FastifyRequest, ...roles: readonly Role[]): void {
  const p = req.principal
  if (!roles.includes(p.role)) throw apiError('API_ERR_FORBIDDEN', `role ${p.role} may not do this (needs ${roles.join(' or ')})`)
}

/**
 * Throws API_ERR_NOT_FOUND for an enterprise outside the principal's scope: the answer is the same
 * as for an enterprise that does not exist, so scope does not leak which enterprises there are.
 */
export function assertEnterprise(req: FastifyRequest, enterprise: string): void {
  if (!canSeeEnterprise(req.principal, enterprise)) throw apiError('API_ERR_NOT_FOUND', `no enterprise ${JSON.stringify(enterprise)}`)
}
