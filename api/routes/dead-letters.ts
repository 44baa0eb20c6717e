import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { DeadLetterQuery } from '../../core/dead-letter.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { InstantSchema } from '../schemas.ts'
import { parseInstant } from '../time.ts'
import type { RouteOptions } from '../context.ts'

const DeadLettersQuerySchema = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 128, description: 'only this coded reason, e.g. CORE_ERR_PAYLOAD_JSON' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'most entries to return, newest first' })),
    since: Type.Optional(InstantSchema('only entries at or after')),
  },
  { additionalProperties: false },
)

const DeadLetterSchema = Type.Object({
  ts: Type.Integer({ description: 'when it was set aside, epoch ms' }),
  reason: Type.String(),
  message: Type.String(),
  topic: Type.String(),
  payload: Type.String({ description: 'payload as UTF-8 text, possibly cut' }),
  payloadBytes: Type.Integer({ description: 'size of the original payload' }),
  source: Type.String({ description: 'broker or ingest' }),
})

const DeadLettersSchema = Type.Object(
  {
    counts: Type.Record(Type.String(), Type.Integer(), { description: 'reason → number set aside since start' }),
    items: Type.Array(DeadLetterSchema),
  },
  { description: 'dead letters, newest first' },
)

export const deadLetterRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/dead-letters',
    {
      // Payloads of every enterprise, unfiltered: admins only.
      config: { permission: 'system' },
      schema: {
        summary: 'Messages that were set aside instead of stored, newest first, with counts per reason',
        tags: ['system'],
        querystring: DeadLettersQuerySchema,
        response: { 200: DeadLettersSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const log = ctx.deadLetters
      // In `plantwatt up` ingest's own log; a standalone API reads the file ingest appends to.
      if (!log)
        throw apiError(
          'API_ERR_UNAVAILABLE',
          'dead letters are not available: this API runs without ingest in its process and no ingest.deadLetterFile is configured for it to read',
        )
      const query: DeadLetterQuery = { limit: req.query.limit ?? 100 }
      if (req.query.reason !== undefined) query.reason = req.query.reason
      if (req.query.since !== undefined) query.since = parseInstant(req.query.since, 'since', ctx.plant.timezone)
      return { counts: log.counts(), items: log.list(query) }
    },
  )
}
