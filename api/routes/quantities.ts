import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { QUANTITIES, QUANTITY_NAMES } from '../../core/quantities.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import type { RouteOptions } from '../context.ts'

const QuantitiesSchema = Type.Object(
  {
    quantities: Type.Array(
      Type.Object({
        name: Type.String({ description: 'canonical name, unit included' }),
        unit: Type.String(),
        description: Type.String(),
        min: Type.Number({ description: 'lowest plausible value' }),
        max: Type.Number({ description: 'highest plausible value' }),
        cumulative: Type.Boolean({ description: 'a counter that only grows (except on reset)' }),
      }),
    ),
  },
  { description: 'canonical quantities' },
)

const BODY = {
  quantities: QUANTITY_NAMES.map((name) => {
    const q: { unit: string; description: string; min: number; max: number; cumulative?: boolean } = QUANTITIES[name]
    return { name, unit: q.unit, description: q.description, min: q.min, max: q.max, cumulative: q.cumulative === true }
  }),
}

export const quantityRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app) => {
  app.get(
    '/quantities',
    {
      schema: {
        summary: 'The canonical quantities with their units',
        tags: ['reference'],
        response: { 200: QuantitiesSchema, ...ERROR_RESPONSES },
      },
    },
    async () => BODY,
  )
}
