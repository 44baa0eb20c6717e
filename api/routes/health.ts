import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { describeError } from '../../core/errors.ts'
import { ErrorBodySchema } from '../errors.ts'
import { StringEnum } from '../schemas.ts'
import type { RouteOptions } from '../context.ts'
import { authSettings } from '../config.ts'
import { can } from '../principal.ts'

const PING_TIMEOUT_MS = 5000

const HealthSchema = Type.Object({
  status: StringEnum(['ok', 'degraded'] as const),
  store: Type.Object({
    backend: Type.String(),
    ok: Type.Boolean(),
    error: Type.Optional(Type.String({ description: 'why the store did not answer' })),
  }),
  components: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'status reported by the other components of this process (admins only while auth is on)' })),
  auth: StringEnum(['on', 'off'] as const, { description: 'off: no API key and no user configured, every request is an anonymous admin' }),
}, { description: 'ok (200) or degraded (503)' })

function pingWithin(ping: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer))
}

export const healthRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const auth = authSettings(ctx.config)
  const authMode = auth.apiKeys.length + auth.users.length > 0 ? ('on' as const) : ('off' as const)
  app.get(
    '/health',
    {
      // Public: load balancers and monitors probe it without credentials.
      config: { public: true },
      schema: {
        summary: 'Liveness of the API and its telemetry store',
        tags: ['system'],
        response: { 200: HealthSchema, 503: HealthSchema, 500: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      let error: string | undefined
      try {
        await pingWithin(ctx.store.ping(), PING_TIMEOUT_MS)
      } catch (err) {
        error = describeError(err)
      }
      let components: Record<string, unknown> | undefined
      try {
        // The components' figures (broker clients, ingest counters) are for admins, not for anyone probing.
        if (can(req.principal, 'system')) components = ctx.status?.()
      } catch (err) {
        components = { error: describeError(err) }
      }
      const body = {
        status: error === undefined ? ('ok' as const) : ('degraded' as const),
        store: error === undefined ? { backend: ctx.store.backend, ok: true } : { backend: ctx.store.backend, ok: false, error },
        ...(components === undefined ? {} : { components }),
        auth: authMode,
      }
      return reply.code(error === undefined ? 200 : 503).send(body)
    },
  )
}
