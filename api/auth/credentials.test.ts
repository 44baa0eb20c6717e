import { describe, expect, it } from 'vitest'
import { readCredentials, type CredentialSource } from './credentials.ts'

function request(headers: Record<string, string | string[]>, query: Record<string, unknown> = {}, tokenInQuery = false): CredentialSource {
  return { headers, query, routeOptions: { config: tokenInQuery ? { tokenInQuery: true } : {} } } as unknown as CredentialSource
}

describe('readCredentials', () => {
  it('reads one API key or one bearer token', () => {
    expect(readCredentials(request({ 'x-api-key': 'k-123' }))).toEqual({ kind: 'api-key', key: 'k-123' })
    expect(readCredentials(request({ authorization: 'Bearer abc.def-ghi_~+/=' }))).toEqual({ kind: 'token', token: 'abc.def-ghi_~+/=' })
  })

  it('takes ?access_token= only on routes that opt in, and removes it from the query', () => {
    const query: Record<string, unknown> = { access_token: 't0k', line: 'l1' }
    expect(readCredentials(request({}, query, true))).toEqual({ kind: 'token', token: 't0k' })
    expect(query).toEqual({ line: 'l1' })
    const elsewhere: Record<string, unknown> = { access_token: 't0k' }
    expect(readCredentials(request({}, elsewhere)).kind).toBe('refused')
    expect(elsewhere).toEqual({ access_token: 't0k' })
  })

  it('refuses no credentials, several, a bad key header and an Authorization that is not Bearer', () => {
    const problem = (req: CredentialSource) => {
      const c = readCredentials(req)
      return c.kind === 'refused' ? c.problem : c.kind
    }
    expect(problem(request({}))).toBe('credentials required: send "Authorization: Bearer <token>" (from POST /api/v1/auth/login) or "X-API-Key: <key>"')
    expect(problem(request({ authorization: 'Bearer a', 'x-api-key': 'k' }))).toBe('send one credential: Authorization, X-API-Key or access_token, not several')
    expect(problem(request({ authorization: 'Bearer a' }, { access_token: 'b' }, true))).toBe(
      'send one credential: Authorization, X-API-Key or access_token, not several',
    )
    expect(problem(request({ 'x-api-key': ['k1', 'k2'] }))).toBe('X-API-Key header must hold one key')
    expect(problem(request({ 'x-api-key': '' }))).toBe('X-API-Key header must hold one key')
    expect(problem(request({ 'x-api-key': 'k'.repeat(513) }))).toBe('X-API-Key header must hold one key')
    expect(problem(request({ 'x-api-key': 'k'.repeat(512) }))).toBe('api-key')
    expect(problem(request({ authorization: 'Basic dXNlcjpwdw==' }))).toBe('Authorization header must be "Bearer <token>"')
    expect(problem(request({ authorization: 'Bearer a b' }))).toBe('Authorization header must be "Bearer <token>"')
  })
})
