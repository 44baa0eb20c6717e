import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RouteOptions } from '../context.ts'
import { apiError, ERROR_RESPONSES } from '../errors.ts'
import { canSeeEnterprise } from '../principal.ts'
import { IdSchema } from '../schemas.ts'

/**
 * GET /uploads: what this plant's uploaders (upload/) sent to the provincial platform — counts,
 * the newest rejected (with the province's reason), pending (with the last failure) and
 * acknowledged (with the receipt) indicator records per enterprise. Permission `reports`; only the
 * caller's enterprises. 503 when no uploader runs in this process (`plantwatt upload --status`
 * reads an outbox file instead).
 */

const UploadRowSchema = Type.Object({
  indicator: Type.String(),
  subject: Type.String({ description: 'boundary, process/<id>, product/<id>, device/<id>' }),
  carrier: Type.Union([Type.String(), Type.Null()]),
  period: Type.String({ description: '15m, day or month' }),
  start: Type.String({ description: 'ISO 8601' }),
  revision: Type.Integer(),
  value: Type.Number(),
  unit: Type.String(),
  attempts: Type.Integer(),
  reason: Type.Union([Type.String(), Type.Null()], { description: "the province's refusal, or the last failure of a pending record" }),
  receipt: Type.Union([Type.String(), Type.Null()]),
})

const UploadStatusSchema = Type.Object({
  enterprise: Type.String(),
  counts: Type.Object({ pending: Type.Integer(), acked: Type.Integer(), rejected: Type.Integer() }),
  rejected: Type.Array(UploadRowSchema),
  pending: Type.Array(UploadRowSchema),
  uploaded: Type.Array(UploadRowSchema),
})

const UploadsQuery = Type.Object(
  {
    enterprise: Type.Optional(IdSchema('one enterprise; default every one the caller may see')),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'newest records of each state' }),
  },
  { additionalProperties: false },
)

export const uploadRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/uploads',
    {
      config: { permission: 'reports' },
      schema: {
        summary: 'What the uploaders sent to the provincial platform: uploaded, pending, rejected and why',
        tags: ['province'],
        querystring: UploadsQuery,
        response: { 200: Type.Object({ enterprises: Type.Array(UploadStatusSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const uploads = ctx.uploads
      if (!uploads) throw apiError('API_ERR_UNAVAILABLE', 'no uploader runs in this process (plantwatt upload --status reads its outbox)')
      const wanted = req.query.enterprise === undefined ? uploads.enterprises() : [req.query.enterprise]
      const visible = wanted.filter((e) => canSeeEnterprise(req.principal, e))
      if (req.query.enterprise !== undefined && visible.length === 0)
        throw apiError('API_ERR_NOT_FOUND', `no uploader of enterprise ${JSON.stringify(req.query.enterprise)}`)
      const enterprises = visible.flatMap((e) => {
        const s = uploads.status(e, req.query.limit)
        return s ? [s] : []
      })
      if (req.query.enterprise !== undefined && enterprises.length === 0)
        throw apiError('API_ERR_NOT_FOUND', `no uploader of enterprise ${JSON.stringify(req.query.enterprise)}`)
      return { enterprises }
    },
  )
}
