import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for CSV import of historical interval data. (Being built: registered in app.ts so the work lands in one place.) */
export const importRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
