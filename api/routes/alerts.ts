import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for alerts: list, acknowledge, resolve. (Being built: registered in app.ts so the work lands in one place.) */
export const alertRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
