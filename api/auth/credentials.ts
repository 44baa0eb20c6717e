import type { FastifyRequest } from 'fastify'
import { API_PREFIX } from '../prefix.ts'

const MISSING = `credentials required: send "Authorization: Bearer <token>" (from POST ${API_PREFIX}/auth/login) or "X-API-Key: <key>"`

/** What a request presents: one API key, one bearer token, or why what it sent is refused. */
export type PresentedCredentials = { kind: 'api-key'; key: string } | { kind: 'token'; token: string } | { kind: 'refused'; problem: string }

/** The parts of a request credentials are read from. */
export type CredentialSource = Pick<FastifyRequest, 'headers' | 'query' | 'routeOptions'>

/**
 * Reads a request's credentials: `X-API-Key`, `Authorization: Bearer <jwt>`, or, on routes with
 * `config.tokenInQuery`, `?access_token=` (EventSource cannot send headers; the parameter is removed
 * from the query so that no handler or log sees it). Exactly one must be sent.
 */
export function readCredentials(req: CredentialSource): PresentedCredentials {
  const header = req.headers.authorization
  const apiKey = req.headers['x-api-key']
  const query = req.query as Record<string, unknown> | undefined
  let queryToken: string | undefined
  if (req.routeOptions.config?.tokenInQuery === true && query && typeof query.access_token === 'string') {
    queryToken = query.access_token
    delete query.access_token
  }
  if (header === undefined && apiKey === undefined && queryToken === undefined) return { kind: 'refused', problem: MISSING }
  if ([header, apiKey, queryToken].filter((v) => v !== undefined).length > 1) {
    return { kind: 'refused', problem: 'send one credential: Authorization, X-API-Key or access_token, not several' }
  }
  if (apiKey !== undefined) {
    if (typeof apiKey !== 'string' || apiKey.length === 0 || apiKey.length > 512) return { kind: 'refused', problem: 'X-API-Key header must hold one key' }
    return { kind: 'api-key', key: apiKey }
  }
  if (queryToken !== undefined) return { kind: 'token', token: queryToken }
  const m = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/.exec(header ?? '')
  return m ? { kind: 'token', token: m[1] as string } : { kind: 'refused', problem: 'Authorization header must be "Bearer <token>"' }
}
