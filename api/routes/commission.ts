import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for the commission scope: enterprises, grades, NC and networking rates, qualification, progress, ranking. (Being built: registered in app.ts so the work lands in one place.) */
export const commissionRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
