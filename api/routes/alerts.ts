import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { DAY_MS } from '../../core/duration.ts'
import { ALERT_ID_PATTERN, ALERT_STATES, type AlertState } from '../../alerts/engine.ts'
import { loadAlert, loadAlerts, manualEvent, type AlertRecord } from '../../alerts/events.ts'
import { SEVERITIES } from '../../alerts/rules.ts'
import { SYSTEM_ENTERPRISE } from '../../alerts/system-text.ts'
import {
  MAX_LEAD_MS,
  MAX_SILENCE_MS,
  SILENCE_ID_PATTERN,
  SILENCE_STATES,
  loadSilence,
  loadSilences,
  newSilenceId,
  silenceCovers,
  silenceCreatedEvent,
  silenceDeletedEvent,
  silenceState,
  type Silence,
} from '../../alerts/silences.ts'
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
    ruleKind: Type.String({
      description:
        'threshold, rate, offline, stuck, counter, power_factor, demand, standby or anomaly; storage-fault for a system alert (enterprise system, quantity the store error code, value minutes since the fault began)',
    }),
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
    silenceId: Nullable(Type.String({ description: 'the silence (maintenance window) the alert was raised under: recorded, not notified' })),
  },
  { description: 'one alert (flat, for CSV)' },
)

const HistoryRowSchema = Type.Object({
  ts: Type.Integer({ description: 'epoch ms' }),
  event: StringEnum(['opened', 'acknowledged', 'cleared', 'escalated'] as const),
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

function rowOf(a: AlertRecord, silences: readonly Silence[] = []): AlertRow {
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
    silenceId: silences.find((s) => silenceCovers(s, a.address, a.openedAt))?.id ?? null,
  }
}

/** An alert of the principal's enterprise, or a system alert (storage faults: the installation's, every user's). */
const seesAlert = (req: FastifyRequest, enterprise: string): boolean => enterprise === SYSTEM_ENTERPRISE || canSeeEnterprise(req.principal, enterprise)

/** The alert, or 404 when unknown or outside the principal's enterprise (the same answer). */
async function visibleAlert(ctx: ApiContext, req: FastifyRequest, id: string): Promise<AlertRecord> {
  const alert = await loadAlert(ctx.events, id)
  if (!alert || !seesAlert(req, alert.address.enterprise)) throw apiError('API_ERR_NOT_FOUND', `no alert ${id}`)
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
      const filter: Record<string, string | string[]> = {}
      for (const key of ['enterprise', 'site', 'line', 'device', 'severity', 'rule'] as const) {
        const v = q[key]
        if (v !== undefined) filter[key] = v
      }
      // An enterprise user sees only their enterprise, asked or not — and the system alerts unless asked for one enterprise.
      const own = req.principal.enterprise
      if (own !== undefined) filter.enterprise = q.enterprise === undefined ? [own, SYSTEM_ENTERPRISE] : own
      const alerts = await loadAlerts(ctx.events, { start: from, stop: to, filter, ...(q.state ? { state: q.state as AlertState } : {}) })
      const rows = alerts
        .filter((a) => seesAlert(req, a.address.enterprise))
        .sort((a, b) => b.openedAt - a.openedAt)
        .slice(0, q.limit ?? 500)
      const silences = await loadSilences(ctx.events, { start: from, stop: to, ...(own === undefined ? {} : { enterprise: own }) })
      return { rows: rows.map((a) => rowOf(a, silences)) }
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
      const silences = await loadSilences(ctx.events, { start: alert.openedAt, stop: alert.openedAt + 1, enterprise: alert.address.enterprise })
      return {
        alert: rowOf(alert, silences),
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
  silenceRoutes(app, ctx)
}

// Silences (maintenance windows): alerts/silences.ts keeps them in the event log; the alert service
// reads them and sends nothing for alerts raised under one.

const SilenceRowSchema = Type.Object(
  {
    id: Type.String({ description: 'silence id' }),
    state: StringEnum(SILENCE_STATES, { description: 'active, scheduled (starts later), expired, deleted' }),
    enterprise: Type.String(),
    site: Nullable(Type.String({ description: 'null: the whole enterprise' })),
    line: Nullable(Type.String({ description: 'null: the whole site' })),
    device: Nullable(Type.String({ description: 'null: the whole line' })),
    start: Type.Integer({ description: 'epoch ms' }),
    end: Type.Integer({ description: 'epoch ms: the expiry' }),
    reason: Type.String(),
    createdBy: Type.String(),
    createdAt: Type.Integer({ description: 'epoch ms' }),
    deletedAt: Nullable(Type.Integer()),
    deletedBy: Nullable(Type.String()),
  },
  { description: 'one silence (flat, for CSV)' },
)
type SilenceRow = Type.Static<typeof SilenceRowSchema>

const SilenceListQuerySchema = Type.Object(
  {
    state: Type.Optional(StringEnum(SILENCE_STATES, { description: 'only silences in this state' })),
    enterprise: Type.Optional(IdSchema('only this enterprise')),
  },
  { additionalProperties: false },
)

const MAX_SILENCE_MIN = MAX_SILENCE_MS / 60_000
const SilenceBodySchema = Type.Object(
  {
    enterprise: IdSchema('enterprise of the scope'),
    site: Type.Optional(IdSchema('only this site')),
    line: Type.Optional(IdSchema('only this line (needs site)')),
    device: Type.Optional(IdSchema('only this device (needs line)')),
    start: Type.Optional(InstantSchema('start (default now)')),
    end: Type.Optional(InstantSchema('expiry (one of end, durationMinutes)')),
    durationMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SILENCE_MIN, description: 'length from start (one of end, durationMinutes)' })),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why (maintenance, trial run …)' }),
  },
  { additionalProperties: false },
)
const SilenceParamsSchema = Type.Object({ id: Type.String({ pattern: SILENCE_ID_PATTERN, description: 'silence id' }) }, { additionalProperties: false })

function silenceRow(s: Silence, now: number): SilenceRow {
  return {
    id: s.id,
    state: silenceState(s, now),
    enterprise: s.enterprise,
    site: s.site ?? null,
    line: s.line ?? null,
    device: s.device ?? null,
    start: s.start,
    end: s.end,
    reason: s.reason,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    deletedAt: s.deletedAt ?? null,
    deletedBy: s.deletedBy ?? null,
  }
}

type SilenceBody = Type.Static<typeof SilenceBodySchema>

/** The silence a request asks for, checked: scope in the plant and the principal's, window sane. */
function silenceOfBody(ctx: ApiContext, req: FastifyRequest, b: SilenceBody): Silence {
  assertEnterprise(req, b.enterprise)
  if (b.line !== undefined && b.site === undefined) throw apiError('API_ERR_VALIDATION', 'a line needs its site', { path: '/body/site' })
  if (b.device !== undefined && b.line === undefined) throw apiError('API_ERR_VALIDATION', 'a device needs its line', { path: '/body/line' })
  const known = ctx.plant.devices.some(
    (d) => d.enterprise === b.enterprise && (b.site ?? d.site) === d.site && (b.line ?? d.line) === d.line && (b.device ?? d.device) === d.device,
  )
  const scope = [b.enterprise, b.site, b.line, b.device].filter((x) => x !== undefined).join('/')
  if (!known) throw apiError('API_ERR_NOT_FOUND', `no ${scope} in the plant model`)
  const now = ctx.now()
  const start = b.start === undefined ? now : parseInstant(b.start, 'start', ctx.plant.timezone, 'body')
  if ((b.end === undefined) === (b.durationMinutes === undefined))
    throw apiError('API_ERR_VALIDATION', 'give exactly one of end, durationMinutes', { path: '/body/end' })
  const end = b.end === undefined ? start + (b.durationMinutes ?? 0) * 60_000 : parseInstant(b.end, 'end', ctx.plant.timezone, 'body')
  if (!(end > start)) throw apiError('API_ERR_RANGE', 'end must be after start')
  if (end <= now) throw apiError('API_ERR_RANGE', 'the silence would already have expired')
  if (end - start > MAX_SILENCE_MS) throw apiError('API_ERR_RANGE', `a silence lasts at most ${MAX_SILENCE_MIN / 1440} days`)
  if (start > now + MAX_LEAD_MS) throw apiError('API_ERR_RANGE', `a silence starts at most ${MAX_LEAD_MS / 86_400_000} days ahead`)
  const s: Silence = { id: newSilenceId(now), enterprise: b.enterprise, start, end, reason: b.reason, createdBy: req.principal.id, createdAt: now }
  if (b.site !== undefined) s.site = b.site
  if (b.line !== undefined) s.line = b.line
  if (b.device !== undefined) s.device = b.device
  return s
}

function silenceRoutes(app: Parameters<FastifyPluginAsyncTypebox<RouteOptions>>[0], ctx: ApiContext): void {
  app.get(
    '/silences',
    {
      config: { permission: 'alerts' },
      schema: {
        summary: 'Silences (maintenance windows) of the last 30 days and to come, newest start first',
        tags: ['alerts'],
        querystring: SilenceListQuerySchema,
        response: { 200: Type.Object({ rows: Type.Array(SilenceRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      if (q.enterprise !== undefined) assertEnterprise(req, q.enterprise)
      const enterprise = req.principal.enterprise ?? q.enterprise
      const now = ctx.now()
      const list = await loadSilences(ctx.events, {
        start: now - DEFAULT_RANGE_MS,
        stop: now + MAX_LEAD_MS + MAX_SILENCE_MS,
        ...(enterprise === undefined ? {} : { enterprise }),
      })
      const rows = list
        .filter((s) => canSeeEnterprise(req.principal, s.enterprise))
        .map((s) => silenceRow(s, now))
        .filter((r) => q.state === undefined || r.state === q.state)
        .sort((a, b) => b.start - a.start)
      return { rows }
    },
  )

  app.post(
    '/silences',
    {
      // Operators and engineers of the enterprise (and admins); the commission reads only.
      config: { permission: 'ack' },
      schema: {
        summary: 'Create a silence: alerts of the scope are still recorded but not notified until it expires',
        tags: ['alerts'],
        body: SilenceBodySchema,
        response: { 201: Type.Object({ silence: SilenceRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      requirePermission(req, 'ack')
      const silence = silenceOfBody(ctx, req, req.body)
      await ctx.events.append([silenceCreatedEvent(silence)])
      reply.code(201)
      return { silence: silenceRow(silence, ctx.now()) }
    },
  )

  app.delete(
    '/silences/:id',
    {
      config: { permission: 'ack' },
      schema: {
        summary: 'End a silence now (409 when already deleted or expired)',
        tags: ['alerts'],
        params: SilenceParamsSchema,
        response: { 200: Type.Object({ silence: SilenceRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'ack')
      const silence = await loadSilence(ctx.events, req.params.id)
      if (!silence || !canSeeEnterprise(req.principal, silence.enterprise)) throw apiError('API_ERR_NOT_FOUND', `no silence ${req.params.id}`)
      const now = ctx.now()
      const state = silenceState(silence, now)
      if (state === 'deleted' || state === 'expired') throw apiError('API_ERR_CONFLICT', `silence ${silence.id} is already ${state}`)
      // Never at or before its creation: the fold orders by time.
      const ts = Math.max(now, silence.createdAt + 1)
      await ctx.events.append([silenceDeletedEvent(silence, { user: req.principal.id, ts })])
      return { silence: silenceRow({ ...silence, deletedAt: ts, deletedBy: req.principal.id }, now) }
    },
  )
}
