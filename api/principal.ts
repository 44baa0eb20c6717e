import type { FastifyRequest } from 'fastify'
import { apiError } from './errors.ts'

/**
 * Who is asking. Set on every request by the auth plugin (`api/auth.ts`) before any route runs.
 *
 * Roles: operator (live data and alerts of the enterprise), engineer (+ energy figures, baselines,
 * imports), commission (read access to every enterprise's figures and the commission scope), admin
 * (everything). Tenant scope: `enterprise` set = only that enterprise's data; absent = all (commission
 * and admin only). What each role may do is the one table `ROLE_PERMISSIONS` below: routes ask
 * `can(principal, 'import')` or declare `config: { permission: 'import' }`, never compare roles.
 */
export const ROLES = ['operator', 'engineer', 'commission', 'admin'] as const
export type Role = (typeof ROLES)[number]

/** Roles that must be bound to one enterprise (`enterprise` required in their config entry). */
export const ENTERPRISE_ROLES: readonly Role[] = ['operator', 'engineer']

/** What a route may require. Every permission is still cut to the principal's enterprise. */
export const PERMISSIONS = {
  live: 'devices, live values, series, the plant tree and the live stream',
  alerts: 'read alerts',
  ack: 'acknowledge and comment alerts',
  reports: 'report figures: energy, cost, carbon, demand, SEC and grades, baselines, savings, efficiency',
  import: 'import production figures and other data',
  commission: 'the commission views: rankings, NC rate and grades across enterprises',
  system: 'dead letters and the internals of the running components',
} as const
export type Permission = keyof typeof PERMISSIONS

/**
 * The one role → permission table.
 *
 * | role       | live | alerts | ack | reports | import | commission | system |
 * |------------|------|--------|-----|---------|--------|------------|--------|
 * | operator   | ✓    | ✓      | ✓   |         |        |            |        |
 * | engineer   | ✓    | ✓      | ✓   | ✓       | ✓      |            |        |
 * | commission | ✓    | ✓      |     | ✓       |        | ✓          |        |
 * | admin      | ✓    | ✓      | ✓   | ✓       | ✓      | ✓          | ✓      |
 *
 * The commission reads everything but writes nothing (no ack, no import). Writing alert events —
 * acknowledging, and a backtest's alerts (POST /alerts/replay with write) — needs `ack`.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  operator: ['live', 'alerts', 'ack'],
  engineer: ['live', 'alerts', 'ack', 'reports', 'import'],
  commission: ['live', 'alerts', 'reports', 'commission'],
  admin: ['live', 'alerts', 'ack', 'reports', 'import', 'commission', 'system'],
}

/** How a principal proved who it is. */
export type AuthVia = 'none' | 'api-key' | 'jwt'

export interface Principal {
  /** Key id, username (JWT subject), or `anonymous`. */
  id: string
  role: Role
  /** The one enterprise this principal may see; undefined = every enterprise. */
  enterprise?: string
  /** How it was authenticated; 'none' = auth is off, or a public route called without credentials. */
  via?: AuthVia
}

/** Everyone while no API key and no user is configured: the one-command demo needs no login. */
export const ANONYMOUS_ADMIN: Principal = Object.freeze({ id: 'anonymous', role: 'admin', via: 'none' })

/**
 * The caller of a public route (health, login, docs) without valid credentials while auth is on.
 * Its enterprise '' matches no id (ids are non-empty), and `can` refuses it everything.
 */
export const NOBODY: Principal = Object.freeze({ id: 'anonymous', role: 'operator', enterprise: '', via: 'none' })

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Checked before validation: 403 API_ERR_FORBIDDEN unless the principal `can` this. */
    permission?: Permission
    /** Reachable without credentials when auth is on (health, login). */
    public?: boolean
    /** Also takes the bearer token as `?access_token=` (EventSource cannot send headers). */
    tokenInQuery?: boolean
    /** File name (without .csv) of this route's CSV export; default from the path. */
    csvName?: string
  }
}

/** True when the principal may see data of `enterprise`. */
export function canSeeEnterprise(p: Principal, enterprise: string): boolean {
  return p.enterprise === undefined || p.enterprise === enterprise
}

/** True when the principal's role grants `permission`. */
export function can(p: Principal, permission: Permission): boolean {
  if (p.enterprise === '') return false // NOBODY
  return ROLE_PERMISSIONS[p.role].includes(permission)
}

/** Throws API_ERR_FORBIDDEN unless the request's principal `can` do `permission`. */
export function requirePermission(req: FastifyRequest, permission: Permission): void {
  const p = req.principal
  if (!can(p, permission)) {
    const roles = ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(permission))
    throw apiError('API_ERR_FORBIDDEN', `role ${p.role} may not access ${PERMISSIONS[permission]} (needs ${roles.join(' or ')})`, { permission, role: p.role })
  }
}

/** Throws API_ERR_FORBIDDEN unless the request's principal has one of `roles`. Prefer `requirePermission`. */
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

/**
 * The enterprise a query may read: the principal's own when it is bound to one and the query names
 * none; `null` when the query names another (the caller answers as for an unknown enterprise).
 */
export function scopedEnterprise(p: Principal, requested: string | undefined): string | undefined | null {
  if (p.enterprise === undefined) return requested
  if (requested !== undefined && requested !== p.enterprise) return null
  return p.enterprise
}
