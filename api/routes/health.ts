import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { describeError } from '../../core/errors.ts'
import { ErrorBodySchema } from '../errors.ts'
import { StringEnum } from '../schemas.ts'
import type { RouteOptions } from '../context.ts'
import { authSettings } from '../config.ts'
import { can } from '../principal.ts'

const PING_TIMEOUT_MS = 5000

const ProblemSchema = Type.Object({
  component: Type.String({ description: 'the component of this process, e.g. edge, ingest, alerts' }),
  code: Type.String({ description: 'why, coded: EDGE_ERR_MQTT_BAD_CREDENTIALS, EDGE_ERR_MQTT_PUBLISH_REFUSED, …' }),
  message: Type.Optional(Type.String({ description: 'the reason in words (admins only while auth is on)' })),
  at: Type.Integer({ description: 'when it happened last, epoch ms' }),
})

const HealthSchema = Type.Object(
  {
    status: StringEnum(['ok', 'degraded'] as const),
    problems: Type.Optional(Type.Array(ProblemSchema, { description: 'components of this process that are down, e.g. refused by the broker' })),
    store: Type.Object({
      backend: Type.String(),
      ok: Type.Boolean(),
      error: Type.Optional(Type.String({ description: 'why the store did not answer' })),
    }),
    components: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'status reported by the other components of this process (admins only while auth is on)' }),
    ),
    auth: StringEnum(['on', 'off'] as const, { description: 'off: no API key and no user configured, every request is an anonymous admin' }),
  },
  { description: 'ok (200) or degraded (503)' },
)

/**
 * What a component's status must carry for its broker connection to count (core/mqtt.ts
 * MqttConnectionStatus): at its top level (ingest, alerts) or under `mqtt` (edge agent).
 */
const ConnectionSchema = Type.Object({
  connected: Type.Boolean(),
  lastConnectionError: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), at: Type.Number() })),
})
const checkConnection = Compile(ConnectionSchema)
type Connection = Type.Static<typeof ConnectionSchema>

function connectionOf(status: unknown): Connection | undefined {
  if (checkConnection.Check(status)) return status
  const nested = typeof status === 'object' && status !== null ? (status as { mqtt?: unknown }).mqtt : undefined
  return checkConnection.Check(nested) ? nested : undefined
}

/** A component whose store writes fail now (ingest's `storeError`: disk full, read-only, corrupt). */
const StoreErrorSchema = Type.Object({ storeError: Type.Object({ code: Type.String(), message: Type.String(), at: Type.Number() }) })
const checkStoreError = Compile(StoreErrorSchema)

/** Components that tried to reach the broker and are not connected now (refused, or cut off), and components whose store writes fail. */
export function componentProblems(components: Record<string, unknown>): Type.Static<typeof ProblemSchema>[] {
  const out: Type.Static<typeof ProblemSchema>[] = []
  for (const [component, status] of Object.entries(components)) {
    if (checkStoreError.Check(status)) {
      const e = status.storeError
      out.push({ component, code: e.code, message: e.message, at: e.at })
    }
    const c = connectionOf(status)
    // Not connected yet without an error is a component still starting, not a failure.
    if (!c || c.connected || !c.lastConnectionError) continue
    const e = c.lastConnectionError
    out.push({ component, code: e.code, message: e.message, at: e.at })
  }
  return out
}

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
      let statusError: string | undefined
      try {
        components = ctx.status?.()
      } catch (err) {
        statusError = describeError(err)
      }
      // The components' figures (broker clients, ingest counters) and the problems' texts (topics,
      // users) are for admins; anyone probing learns which component is down and the code.
      const admin = can(req.principal, 'system')
      const problems = components ? componentProblems(components).map((p) => (admin ? p : { component: p.component, code: p.code, at: p.at })) : []
      const ok = error === undefined && problems.length === 0
      const body = {
        status: ok ? ('ok' as const) : ('degraded' as const),
        ...(problems.length > 0 ? { problems } : {}),
        store: error === undefined ? { backend: ctx.store.backend, ok: true } : { backend: ctx.store.backend, ok: false, error },
        ...(admin && statusError !== undefined ? { components: { error: statusError } } : admin && components !== undefined ? { components } : {}),
        auth: authMode,
      }
      return reply.code(ok ? 200 : 503).send(body)
    },
  )
}
