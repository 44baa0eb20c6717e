import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ERROR_RESPONSES } from '../errors.ts'
import { StatusMetrics } from '../metrics.ts'
import type { RouteOptions } from '../context.ts'

/**
 * GET /metrics: the status of this process's components (broker, ingest, edge connections, alerts —
 * whatever `/health` shows admins) in Prometheus' text format, for a scraper with an admin key.
 */
export const metricsRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const metrics = new StatusMetrics(() => ctx.status?.() ?? {})
  app.get(
    '/metrics',
    {
      config: { permission: 'system' },
      schema: {
        summary: 'Counters of the components of this process, Prometheus text format',
        tags: ['system'],
        response: { 200: Type.String({ description: 'text/plain; version=0.0.4' }), ...ERROR_RESPONSES },
      },
    },
    async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.scrape()),
  )
}
