import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for energy, cost, carbon, demand, SEC and grades, baselines and savings, power factor, data quality. (Being built: registered in app.ts so the work lands in one place.) */
export const reportRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
