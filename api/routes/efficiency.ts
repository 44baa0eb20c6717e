import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'

/** Routes for ISO 50006 baselines and savings, power factor and data quality. (Being built: registered in app.ts so the work lands in one place.) */
export const efficiencyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async () => {}
