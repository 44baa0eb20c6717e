import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deviceKey } from '../../core/plant.ts'
import { TELEMETRY_MEASUREMENT } from '../../storage/store.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import { AddressFilterSchema } from '../schemas.ts'
import { snapshotsFromLatest } from '../telemetry.ts'
import type { RouteOptions } from '../context.ts'
import { matchesFilter, tagFilterOf } from './filter.ts'
import { scopedEnterprise } from '../principal.ts'

const DeviceSchema = Type.Object({
  enterprise: Type.String(),
  site: Type.String(),
  line: Type.String(),
  device: Type.String(),
  name: Type.String({ description: 'display name from the plant model; the device id otherwise' }),
  kind: Type.Union([Type.String(), Type.Null()], { description: 'meter, machine, plc or sensor; null when not in the plant model' }),
  mainMeter: Type.Boolean({ description: "the line's main meter" }),
  inModel: Type.Boolean({ description: 'declared in the plant model' }),
  lastSeen: Type.Union([Type.Integer(), Type.Null()], { description: 'newest sample within the live window, epoch ms' }),
  online: Type.Boolean({ description: 'newest sample at most onlineAfterMs old' }),
})

const DevicesSchema = Type.Object(
  {
    ts: Type.Integer({ description: 'server time of the answer, epoch ms' }),
    devices: Type.Array(DeviceSchema),
    rows: Type.Array(DeviceSchema, { description: 'the same devices, as the table of the CSV export' }),
  },
  { description: 'devices, ordered by address' },
)

export const deviceRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/devices',
    {
      config: { permission: 'live' },
      schema: {
        summary: 'Devices of the plant model and devices seen in telemetry, with when they last reported',
        tags: ['telemetry'],
        querystring: AddressFilterSchema,
        response: { 200: DevicesSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const now = ctx.now()
      // Another enterprise's devices answer as an unknown enterprise's: none.
      const enterprise = scopedEnterprise(req.principal, req.query.enterprise)
      if (enterprise === null) return { ts: now, devices: [], rows: [] }
      const query = { ...req.query, ...(enterprise === undefined ? {} : { enterprise }) }
      const filter = tagFilterOf(query)
      const seen = snapshotsFromLatest(
        await ctx.store.latest({ measurement: TELEMETRY_MEASUREMENT, since: now - ctx.config.liveWindowS * 1000, ...(filter ? { filter } : {}) }),
      )
      const lastSeen = new Map(seen.map((s) => [deviceKey(s), s.ts]))
      const out = new Map<string, Type.Static<typeof DeviceSchema>>()
      const entry = (key: string, base: Omit<Type.Static<typeof DeviceSchema>, 'lastSeen' | 'online'>) => {
        const ts = lastSeen.get(key) ?? null
        out.set(key, { ...base, lastSeen: ts, online: ts !== null && now - ts <= ctx.config.onlineAfterMs })
      }
      for (const d of ctx.plant.devices) {
        if (!matchesFilter(d, query)) continue
        const { enterprise, site, line, device } = d
        entry(deviceKey(d), { enterprise, site, line, device, name: d.name, kind: d.kind, mainMeter: d.mainMeter, inModel: true })
      }
      for (const s of seen) {
        const key = deviceKey(s)
        if (out.has(key)) continue
        const { enterprise, site, line, device } = s
        entry(key, { enterprise, site, line, device, name: device, kind: null, mainMeter: false, inModel: false })
      }
      const devices = [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d)
      return { ts: now, devices, rows: devices }
    },
  )
}
