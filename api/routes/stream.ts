import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for live stream (SSE) of a line's latest values. (Being built: registered in app.ts so the work lands in one place.) */
export const streamRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
