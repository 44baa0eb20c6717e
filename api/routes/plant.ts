import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ERROR_RESPONSES } from '../errors.ts'
import { canSeeEnterprise } from '../principal.ts'
import type { RouteOptions } from '../context.ts'

const Named = { id: Type.String(), name: Type.String({ description: 'display name; the id when the model gives none' }) }

const PlantTreeSchema = Type.Object(
  {
    timezone: Type.String({ description: "the plant's IANA time zone" }),
    enterprises: Type.Array(
      Type.Object({
        ...Named,
        industry: Type.Union([Type.String(), Type.Null()]),
        region: Type.String(),
        sites: Type.Array(
          Type.Object({
            ...Named,
            timezone: Type.String(),
            lines: Type.Array(
              Type.Object({
                ...Named,
                path: Type.String({ description: 'enterprise/site/line: the scope of reports' }),
                mainMeter: Type.Union([Type.String(), Type.Null()]),
                product: Type.Union([
                  Type.Object({ id: Type.String(), name: Type.String(), unit: Type.String(), benchmark: Type.Union([Type.String(), Type.Null()]) }),
                  Type.Null(),
                ]),
                shifts: Type.Array(Type.Object({ name: Type.String(), start: Type.String(), end: Type.String() })),
                devices: Type.Array(Type.Object({ ...Named, kind: Type.String(), keyEquipment: Type.Boolean(), ncCapable: Type.Boolean() })),
              }),
            ),
          }),
        ),
      }),
    ),
  },
  { description: 'the plant model within the caller’s scope' },
)

/** The plant model as a tree of names, cut to what the caller may see: the UI's navigation. */
export const plantRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/plant',
    {
      schema: {
        summary: 'Enterprises, sites, lines and devices of the plant model (the caller’s scope)',
        tags: ['telemetry'],
        response: { 200: PlantTreeSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const m = ctx.model
      return {
        timezone: m.timezone,
        enterprises: m.enterprises
          .filter((e) => canSeeEnterprise(req.principal, e.id))
          .map((e) => ({
            id: e.id,
            name: e.name ?? e.id,
            industry: e.industry ?? null,
            region: e.region,
            sites: e.sites.map((s) => ({
              id: s.id,
              name: s.name ?? s.id,
              timezone: s.timezone ?? m.timezone,
              lines: s.lines.map((l) => ({
                id: l.id,
                name: l.name ?? l.id,
                path: `${e.id}/${s.id}/${l.id}`,
                mainMeter: l.mainMeter ?? null,
                product: l.product
                  ? { id: l.product.id, name: l.product.name ?? l.product.id, unit: l.product.unit, benchmark: l.product.benchmark ?? null }
                  : null,
                shifts: l.shifts.map((x) => ({ name: x.name, start: x.start, end: x.end })),
                devices: l.devices.map((d) => ({ id: d.id, name: d.name ?? d.id, kind: d.kind, keyEquipment: d.keyEquipment, ncCapable: d.ncCapable })),
              })),
            })),
          })),
      }
    },
  )
}
