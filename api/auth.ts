import type { FastifyInstance } from 'fastify'
import type { ApiContext } from './context.ts'
import type { Principal } from './principal.ts'

/**
 * Authentication: sets `req.principal` on every request before routes run. (Being built: API keys,
 * JWT, roles, tenant scope, rate limiting. Until then every request is an anonymous admin.)
 */
export async function installAuth(app: FastifyInstance, _ctx: ApiContext): Promise<void> {
  const anonymous: Principal = { id: 'anonymous', role: 'admin' }
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (req) => {
    req.principal = anonymous
  })
}
