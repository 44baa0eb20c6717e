import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TELEMETRY_MEASUREMENT } from '../../storage/store.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import { AddressFilterSchema, QualitySchema } from '../schemas.ts'
import { snapshotsFromLatest } from '../telemetry.ts'
import type { RouteOptions } from '../context.ts'
import { tagFilterOf } from './filter.ts'
import { scopedEnterprise } from '../principal.ts'

const LiveDeviceSchema = Type.Object({
  enterprise: Type.String(),
  site: Type.String(),
  line: Type.String(),
  device: Type.String(),
  name: Type.String({ description: 'display name from the plant model; the device id otherwise' }),
  ts: Type.Integer({ description: 'newest sample of the device, epoch ms' }),
  ageMs: Type.Integer({ description: 'server time minus ts' }),
  online: Type.Boolean({ description: 'ageMs at most onlineAfterMs' }),
  seq: Type.Optional(Type.Number({ description: "the edge agent's newest sequence number; absent when none was stored" })),
  values: Type.Record(Type.String(), Type.Number(), { description: 'canonical quantity → newest value' }),
  quality: Type.Record(Type.String(), QualitySchema, { description: 'quantities whose newest sample was flagged; absent = good' }),
})

const CellSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])

const LiveSchema = Type.Object(
  {
    ts: Type.Integer({ description: 'server time of the answer, epoch ms' }),
    devices: Type.Array(LiveDeviceSchema),
    rows: Type.Array(Type.Record(Type.String(), CellSchema), {
      description: 'the same as a flat table (CSV export): address, name, ts, ageMs, online, seq, one column per quantity, quality_<quantity> where flagged',
    }),
  },
  { description: 'newest values per device' },
)

export const liveRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/live',
    {
      config: { permission: 'live' },
      schema: {
        summary: 'Newest value of every quantity of every device that reported within the live window',
        tags: ['telemetry'],
        querystring: AddressFilterSchema,
        response: { 200: LiveSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const now = ctx.now()
      // Another enterprise's data answers as an unknown enterprise's: nothing.
      const enterprise = scopedEnterprise(req.principal, req.query.enterprise)
      if (enterprise === null) return { ts: now, devices: [], rows: [] }
      const filter = tagFilterOf({ ...req.query, ...(enterprise === undefined ? {} : { enterprise }) })
      const rows = await ctx.store.latest({ measurement: TELEMETRY_MEASUREMENT, since: now - ctx.config.liveWindowS * 1000, ...(filter ? { filter } : {}) })
      const devices = snapshotsFromLatest(rows).map((s) => {
        // Not clamped at 0: a negative age shows an edge clock running ahead.
        const ageMs = now - s.ts
        const { seq, ...rest } = s
        return { ...rest, ...(seq === null ? {} : { seq }), name: ctx.plant.get(s)?.name ?? s.device, ageMs, online: ageMs <= ctx.config.onlineAfterMs }
      })
      const table = devices.map((d) => {
        const row: Record<string, string | number | boolean | null> = {
          enterprise: d.enterprise,
          site: d.site,
          line: d.line,
          device: d.device,
          name: d.name,
          ts: d.ts,
          ageMs: d.ageMs,
          online: d.online,
          seq: d.seq ?? null,
        }
        for (const [q, v] of Object.entries(d.values)) row[q] = v
        for (const [q, v] of Object.entries(d.quality)) row[`quality_${q}`] = v
        return row
      })
      return { ts: now, devices, rows: table }
    },
  )
}
