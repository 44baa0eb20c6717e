import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { DAY_MS } from '../../core/duration.ts'
import { ALERT_ID_PATTERN, ALERT_STATES, type AlertState } from '../../alerts/engine.ts'
import { loadAlert, loadAlerts, manualEvent, type AlertRecord } from '../../alerts/events.ts'
import { SEVERITIES } from '../../alerts/rules.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { IdSchema, InstantSchema, StringEnum } from '../schemas.ts'
import { checkRange, parseInstant } from '../time.ts'
import type { ApiContext, RouteOptions } from '../context.ts'
import { assertEnterprise, canSeeEnterprise, requirePermission } from '../principal.ts'

/**
 * Alerts, read from the event log (`ctx.events`, kind `alert_event`): the alert service may run in
 * another process, so the log is the only shared state. Acknowledging or resolving appends an event
 * to the log; the service reads it within its poll interval (alerts.pollEventsMs) and acts on it.
 */

/** Default look-back of the list: alerts opened in the last 30 days. */
const DEFAULT_RANGE_MS = 30 * DAY_MS

const ListQuerySchema = Type.Object(
  {
    state: Type.Optional(StringEnum(ALERT_STATES, { description: 'only alerts in this state' })),
    enterprise: Type.Optional(IdSchema('only this enterprise')),
    site: Type.Optional(IdSchema('only this site')),
    line: Type.Optional(IdSchema('only this line')),
    device: Type.Optional(IdSchema('only this device id')),
    severity: Type.Optional(StringEnum(SEVERITIES, { description: 'only this severity' })),
    rule: Type.Optional(IdSchema('only this rule id')),
    from: Type.Optional(InstantSchema('alerts opened at or after (default: 30 days ago)')),
    to: Type.Optional(InstantSchema('alerts opened before (default: now)')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500, description: 'most alerts returned, newest first' })),
  },
  { additionalProperties: false },
)

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

const AlertRowSchema = Type.Object(
  {
    id: Type.String({ description: 'alert id' }),
    state: StringEnum(ALERT_STATES),
    enterprise: Type.String(),
    site: Type.String(),
    line: Type.String(),
    device: Type.String(),
    rule: Type.String({ description: 'rule id' }),
    ruleKind: Type.String({ description: 'threshold, rate, offline, stuck, counter, power_factor, demand, standby or anomaly' }),
    severity: StringEnum(SEVERITIES),
    quantity: Type.String(),
    value: Nullable(Type.Number({ description: 'the value that triggered (or cleared) the alert' })),
    threshold: Nullable(Type.Number({ description: 'the limit, or the expected value (anomaly)' })),
    expectedLow: Nullable(Type.Number({ description: 'lower edge of the expected band' })),
    expectedHigh: Nullable(Type.Number({ description: 'upper edge of the expected band' })),
    openedAt: Type.Integer({ description: 'epoch ms' }),
    acknowledgedAt: Nullable(Type.Integer()),
    acknowledgedBy: Nullable(Type.String()),
    comment: Nullable(Type.String()),
    resolvedAt: Nullable(Type.Integer()),
    resolvedBy: Nullable(Type.String({ description: "who resolved it by hand; '' when it resolved itself" })),
    message: Type.String({ description: 'English text' }),
    messageZh: Type.String({ description: 'Chinese text' }),
  },
  { description: 'one alert (flat, for CSV)' },
)

const HistoryRowSchema = Type.Object({
  ts: Type.Integer({ description: 'epoch ms' }),
  event: StringEnum(['opened', 'acknowledged', 'cleared'] as const),
  user: Type.String(),
  comment: Type.String(),
  value: Nullable(Type.Number()),
  message: Type.String(),
  messageZh: Type.String(),
})

const IdParamsSchema = Type.Object({ id: Type.String({ pattern: ALERT_ID_PATTERN, description: 'alert id' }) }, { additionalProperties: false })
const ActionBodySchema = Type.Object(
  { comment: Type.String({ maxLength: 1000, default: '', description: 'why, what was done' }) },
  { additionalProperties: false },
)

type AlertRow = Type.Static<typeof AlertRowSchema>
const finiteOrNull = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v)

function rowOf(a: AlertRecord): AlertRow {
  return {
    id: a.id,
    state: a.state,
    ...a.address,
    rule: a.rule,
    ruleKind: a.ruleKind,
    severity: a.severity,
    quantity: a.quantity,
    value: finiteOrNull(a.value),
    threshold: finiteOrNull(a.threshold),
    expectedLow: finiteOrNull(a.expectedLow),
    expectedHigh: finiteOrNull(a.expectedHigh),
    openedAt: a.openedAt,
    acknowledgedAt: a.acknowledgedAt ?? null,
    acknowledgedBy: a.acknowledgedBy ?? null,
    comment: a.comment ?? null,
    resolvedAt: a.resolvedAt ?? null,
    resolvedBy: a.resolvedBy ?? null,
    message: a.text.en,
    messageZh: a.text.zh,
  }
}

/** The alert, or 404 when unknown or outside the principal's enterprise (the same answer). */
async function visibleAlert(ctx: ApiContext, req: FastifyRequest, id: string): Promise<AlertRecord> {
  const alert = await loadAlert(ctx.events, id)
  if (!alert || !canSeeEnterprise(req.principal, alert.address.enterprise)) throw apiError('API_ERR_NOT_FOUND', `no alert ${id}`)
  return alert
}

export const alertRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/alerts',
    {
      config: { permission: 'alerts' },
      schema: {
        summary: 'Alerts opened in a time range, with their current state (newest first)',
        tags: ['alerts'],
        querystring: ListQuerySchema,
        response: { 200: Type.Object({ rows: Type.Array(AlertRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      if (q.enterprise !== undefined) assertEnterprise(req, q.enterprise)
      const to = q.to === undefined ? ctx.now() + 1 : parseInstant(q.to, 'to', ctx.plant.timezone)
      const from = q.from === undefined ? to - DEFAULT_RANGE_MS : parseInstant(q.from, 'from', ctx.plant.timezone)
      checkRange({ start: from, stop: to }, { names: ['from', 'to'] })
      const filter: Record<string, string> = {}
      for (const key of ['enterprise', 'site', 'line', 'device', 'severity', 'rule'] as const) {
        const v = q[key]
        if (v !== undefined) filter[key] = v
      }
      // An enterprise user sees only their enterprise, asked or not.
      const own = req.principal.enterprise
      if (own !== undefined) filter.enterprise = own
      const alerts = await loadAlerts(ctx.events, { start: from, stop: to, filter, ...(q.state ? { state: q.state as AlertState } : {}) })
      const rows = alerts
        .filter((a) => canSeeEnterprise(req.principal, a.address.enterprise))
        .sort((a, b) => b.openedAt - a.openedAt)
        .slice(0, q.limit ?? 500)
        .map(rowOf)
      return { rows }
    },
  )

  app.get(
    '/alerts/:id',
    {
      config: { permission: 'alerts', csvName: 'alert-history' },
      schema: {
        summary: 'One alert with its event history (oldest first, in rows)',
        tags: ['alerts'],
        params: IdParamsSchema,
        response: { 200: Type.Object({ alert: AlertRowSchema, rows: Type.Array(HistoryRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const alert = await visibleAlert(ctx, req, req.params.id)
      return {
        alert: rowOf(alert),
        rows: alert.history.map((h) => ({
          ts: h.ts,
          event: h.event,
          user: h.user,
          comment: h.comment,
          value: finiteOrNull(h.value),
          message: h.text.en,
          messageZh: h.text.zh,
        })),
      }
    },
  )

  const action = (kind: 'ack' | 'resolve') =>
    app.post(
      `/alerts/:id/${kind}`,
      {
        // Operators, engineers and admins act on alerts; the commission reads only.
        config: { permission: 'ack' },
        // The comment is optional: no body at all is the same as {}.
        preValidation: async (req) => {
          if (req.body === undefined || req.body === null) req.body = { comment: '' }
        },
        schema: {
          summary:
            kind === 'ack'
              ? 'Acknowledge a firing alert (409 when already acknowledged or resolved)'
              : 'Resolve an open alert by hand (409 when already resolved)',
          tags: ['alerts'],
          params: IdParamsSchema,
          body: ActionBodySchema,
          response: { 200: Type.Object({ alert: AlertRowSchema }), ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        requirePermission(req, 'ack')
        const alert = await visibleAlert(ctx, req, req.params.id)
        if (alert.state === 'resolved') throw apiError('API_ERR_CONFLICT', `alert ${alert.id} is already resolved`)
        if (kind === 'ack' && alert.state === 'acknowledged')
          throw apiError('API_ERR_CONFLICT', `alert ${alert.id} is already acknowledged by ${alert.acknowledgedBy ?? '?'}`)
        const comment = req.body.comment ?? ''
        // Never before the last event of the alert: the fold orders by time.
        const ts = Math.max(ctx.now(), ...alert.history.map((h) => h.ts + 1))
        const deviceName = ctx.plant.get(alert.address)?.name ?? alert.address.device
        const event = manualEvent(alert, kind === 'ack' ? 'acknowledged' : 'cleared', { user: req.principal.id, comment, ts, deviceName })
        await ctx.events.append([event])
        const after = await loadAlert(ctx.events, alert.id)
        return { alert: rowOf(after ?? alert) }
      },
    )
  action('ack')
  action('resolve')
}
