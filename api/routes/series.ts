import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DAY_MS, parseDuration, type Duration } from '../../core/duration.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { QUANTITIES, QUANTITY_NAMES, isQuantity } from '../../core/quantities.ts'
import { addressTags, isValidId, type DeviceAddress } from '../../core/topic.ts'
import { AGGREGATE_FNS, TELEMETRY_MEASUREMENT } from '../../storage/store.ts'
import { windowRuns } from '../../core/windows.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { isValidTimeZone, parseRange } from '../time.ts'
import type { ApiContext, RouteOptions } from '../context.ts'
import { canSeeEnterprise, type Principal } from '../principal.ts'
import { deviceKey, lineKey } from '../../core/plant.ts'

const SeriesQuerySchema = Type.Object(
  {
    device: Type.String({ minLength: 1, maxLength: 300, description: 'enterprise/site/line/device, or a device id that is unique in the plant model' }),
    quantity: Type.String({ minLength: 1, maxLength: 64, description: 'canonical quantity, e.g. active_power_kw (see /api/v1/quantities)' }),
    start: InstantSchema('inclusive start'),
    stop: InstantSchema('exclusive stop'),
    every: Type.Optional(Type.String({ maxLength: 16, description: 'window length: 1m, 15m, 1h, 1d, 1w, 1mo, 1y …; absent = one window over the range' })),
    fn: Type.Optional(StringEnum(AGGREGATE_FNS, { default: 'mean', description: 'aggregate per window' })),
    tz: Type.Optional(Type.String({ maxLength: 64, description: "IANA time zone windows align in; default the device's site (or the plant's) time zone" })),
  },
  { additionalProperties: false },
)

const SeriesSchema = Type.Object(
  {
    device: Type.String({ description: 'enterprise/site/line/device' }),
    quantity: Type.String(),
    unit: Type.String(),
    fn: StringEnum(AGGREGATE_FNS),
    every: Type.Union([Type.String(), Type.Null()]),
    timezone: Type.String(),
    start: Type.Integer({ description: 'epoch ms' }),
    stop: Type.Integer({ description: 'epoch ms' }),
    points: Type.Array(
      Type.Object({
        ts: Type.Integer({ description: 'window start, epoch ms' }),
        value: Type.Number(),
      }),
      { description: 'one point per window that holds data, oldest first' },
    ),
  },
  { description: 'the series' },
)

interface ResolvedDevice extends DeviceAddress {
  timezone: string
}

/**
 * A full path must name a device of the model or one that has reported; a bare id must be unique
 * in the model (or, when absent from it, in telemetry). Only devices of enterprises the principal may
 * see count: another enterprise's device answers exactly as an unknown one.
 */
async function resolveDevice(ctx: ApiContext, text: string, principal: Principal): Promise<ResolvedDevice> {
  const parts = text.split('/')
  if ((parts.length !== 1 && parts.length !== 4) || !parts.every(isValidId)) {
    throw apiError('API_ERR_VALIDATION', `query parameter "device": ${JSON.stringify(text)} is neither enterprise/site/line/device nor a device id`, [
      { parameter: 'device', in: 'querystring', message: 'expected enterprise/site/line/device or a device id' },
    ])
  }
  const unknown = () => apiError('API_ERR_DEVICE_UNKNOWN', `device ${JSON.stringify(text)} is not in the plant model and has no telemetry`, { device: text })
  if (parts.length === 4) {
    const [enterprise, site, line, device] = parts as [string, string, string, string]
    const address = { enterprise, site, line, device }
    if (!canSeeEnterprise(principal, enterprise)) throw unknown()
    const known = ctx.plant.get(address)
    if (known) return { ...address, timezone: known.timezone }
    const rows = await ctx.store.latest({ measurement: TELEMETRY_MEASUREMENT, filter: addressTags(address) })
    if (rows.length === 0) throw unknown()
    return { ...address, timezone: ctx.plant.timezone }
  }
  const id = parts[0] as string
  const inModel = ctx.plant.withId(id).filter((d) => canSeeEnterprise(principal, d.enterprise))
  const candidates: DeviceAddress[] = [...inModel]
  if (candidates.length === 0) {
    const seen = new Map<string, DeviceAddress>()
    for (const row of await ctx.store.latest({
      measurement: TELEMETRY_MEASUREMENT,
      filter: { device: id, ...(principal.enterprise === undefined ? {} : { enterprise: principal.enterprise }) },
    })) {
      const { enterprise, site, line } = row.tags
      if (enterprise !== undefined && site !== undefined && line !== undefined && canSeeEnterprise(principal, enterprise))
        seen.set(lineKey({ enterprise, site, line }), { enterprise, site, line, device: id })
    }
    candidates.push(...seen.values())
  }
  const [only] = candidates
  if (only === undefined) throw unknown()
  if (candidates.length > 1) {
    const paths = candidates.map(deviceKey)
    throw apiError(
      'API_ERR_DEVICE_AMBIGUOUS',
      `query parameter "device": id ${JSON.stringify(id)} names ${paths.length} devices (${paths.join(', ')}); give enterprise/site/line/device`,
      { candidates: paths },
    )
  }
  const { enterprise, site, line, device } = only
  return { enterprise, site, line, device, timezone: inModel[0]?.timezone ?? ctx.plant.timezone }
}

function parseEvery(text: string): Duration {
  const bad = (message: string) => apiError('API_ERR_VALIDATION', `query parameter "every": ${message}`, [{ parameter: 'every', in: 'querystring', message }])
  let every: Duration
  try {
    every = parseDuration(text)
  } catch (err) {
    if (!isPlantWattError(err)) throw err
    throw bad(err.message)
  }
  // Windows of a day or more align on local midnights (core/windows.ts): 36h has no such grid.
  if (every.kind === 'fixed' && every.ms >= DAY_MS && every.ms % DAY_MS !== 0) {
    throw bad(`${JSON.stringify(text)}: windows of a day or longer must be whole days (1d, 2d), weeks, months or years`)
  }
  return every
}

export const seriesRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/series',
    {
      config: { permission: 'live' },
      schema: {
        summary: 'Window aggregates of one quantity of one device over a time range',
        tags: ['telemetry'],
        querystring: SeriesQuerySchema,
        response: { 200: SeriesSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      const fn = q.fn ?? 'mean'
      // Cheap checks first, so a bad request never costs a store query.
      if (!isQuantity(q.quantity)) {
        throw apiError(
          'API_ERR_QUANTITY_UNKNOWN',
          `query parameter "quantity": ${JSON.stringify(q.quantity)} is not a canonical quantity (e.g. ${QUANTITY_NAMES.slice(0, 4).join(', ')}; see /api/v1/quantities)`,
          {
            parameter: 'quantity',
          },
        )
      }
      if (q.tz !== undefined && !isValidTimeZone(q.tz)) {
        throw apiError('API_ERR_VALIDATION', `query parameter "tz": ${JSON.stringify(q.tz)} is not an IANA time zone (e.g. Asia/Shanghai)`, [
          { parameter: 'tz', in: 'querystring', message: 'unknown time zone' },
        ])
      }
      const every = q.every === undefined ? undefined : parseEvery(q.every)
      const device = await resolveDevice(ctx, q.device, req.principal)
      const timezone = q.tz ?? device.timezone
      const { start, stop } = parseRange(q.start, q.stop, timezone, { maxDays: ctx.config.maxRangeDays })
      const { maxPoints } = ctx.config
      if (every) {
        // The exact count in the time zone, from the same window grid the stores use.
        const windows = windowRuns(start, stop, every.text, timezone).reduce((n, run) => n + run.count, 0)
        if (windows > maxPoints) {
          throw apiError(
            'API_ERR_RANGE_TOO_LARGE',
            `query parameter "every": ${every.text} windows over this range give ${windows} points; at most ${maxPoints}: use a longer "every" or a shorter range`,
            { windows, maxPoints },
          )
        }
      }
      const rows = await ctx.store.aggregate({
        measurement: TELEMETRY_MEASUREMENT,
        fields: [q.quantity],
        filter: addressTags(device),
        start,
        stop,
        fn,
        timezone,
        ...(every ? { every: every.text } : {}),
      })
      return {
        device: deviceKey(device),
        quantity: q.quantity,
        unit: QUANTITIES[q.quantity].unit,
        fn,
        every: every?.text ?? null,
        timezone,
        start,
        stop,
        points: rows.filter((r) => r.field === q.quantity).map((r) => ({ ts: r.windowStart, value: r.value })),
      }
    },
  )
}
