import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { replayAlerts } from '../../alerts/replay.ts'
import { RECOMMENDED_RULES, RuleSchema, validateAlertsConfig } from '../../alerts/rules.ts'
import { isPlantWattError } from '../../core/errors.ts'
import type { RouteOptions } from '../context.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { ROLES, ROLE_PERMISSIONS, can, scopedEnterprise } from '../principal.ts'
import { IdSchema, InstantSchema, StringEnum } from '../schemas.ts'
import { parseInstant, parseRange } from '../time.ts'

/** Longest replay one request may ask for, days (a replay reads every sample of the range). */
const MAX_REPLAY_DAYS = 366

const ReplayBodySchema = Type.Object(
  {
    from: InstantSchema('start of the replayed range'),
    to: InstantSchema('end of the replayed range (exclusive)'),
    learnUntil: Type.Optional(
      InstantSchema(
        'baselines learn from the history before this (default from); with relearn live only the first learning: the later ones read all history before their day',
      ),
    ),
    relearn: Type.Optional(
      StringEnum(['live', 'once'] as const, {
        description:
          'live (default): the baselines are learned again every relearnEvery of the rules (1 day by default), each time from the history before that instant, as the alert service does; once: only at learnUntil',
      }),
    ),
    rules: Type.Optional(
      Type.Array(RuleSchema, {
        description:
          'rules to try instead of the configured ones, as in the alerts: section of the config (alerts/README.md); default the configured rules, the recommended set when none is configured',
      }),
    ),
    enterprise: Type.Optional(IdSchema('only devices of this enterprise')),
    site: Type.Optional(IdSchema('only devices of this site')),
    line: Type.Optional(IdSchema('only devices of this line')),
    device: Type.Optional(IdSchema('only this device')),
    write: Type.Boolean({
      default: false,
      description: 'append the transitions to the event log (default: nothing is written); needs a role that may write alert events (permission ack)',
    }),
  },
  { additionalProperties: false },
)

const ReplayAlertSchema = Type.Object({
  id: Type.String(),
  rule: Type.String(),
  ruleKind: Type.String(),
  severity: Type.String(),
  enterprise: Type.String(),
  site: Type.String(),
  line: Type.String(),
  device: Type.String(),
  quantity: Type.String(),
  state: Type.String(),
  openedAt: Type.Integer(),
  resolvedAt: Type.Union([Type.Integer(), Type.Null()]),
  value: Type.Number({ description: 'the value that opened the alert (valueBasis), in valueUnit' }),
  valueUnit: Type.String({ description: "unit of value: kW, kWh, min (offline: minutes since data), '' for a power factor" }),
  threshold: Type.Union([Type.Number(), Type.Null()], { description: 'the limit, or the expected value (anomaly), as the alert opened, in thresholdUnit' }),
  thresholdUnit: Type.String({ description: 'unit of threshold and the band: kW, min (offline, and stuck: the minutes it had been stuck), …' }),
  expectedLow: Type.Union([Type.Number(), Type.Null()]),
  expectedHigh: Type.Union([Type.Number(), Type.Null()]),
})

const RULES_BASES = ['configured', 'recommended', 'request'] as const

const ReplayResponseSchema = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  learnUntil: Type.Integer(),
  rulesBasis: StringEnum(RULES_BASES, {
    description: "which rules ran: the configured ones (alerts.rules, as the alert service), the recommended set (none configured), or the request's",
  }),
  timezone: Type.String({ description: "the plant model's time zone (local dates of the range)" }),
  valueBasis: Type.Literal('opened', { description: "each alert's value, limit and band are those it opened with" }),
  devices: Type.Integer({ description: 'devices with at least one sample in the range' }),
  deviceWeeks: Type.Number({ description: 'devices × the length of [from, to) in weeks' }),
  alertsPerDeviceWeek: Type.Number({ description: 'alerts opened in the range ÷ deviceWeeks (every rule)' }),
  samples: Type.Integer({
    description: 'device samples fed to the engine (last value per device and step: 1 min, 15 min where the store keeps nothing finer)',
  }),
  resolutions: Type.Array(
    Type.Object({ from: Type.Integer(), to: Type.Integer(), everyMs: Type.Integer({ description: 'the store was read at this resolution there, ms' }) }),
    {
      description:
        'which stretch of [from, to) was read at what resolution: the 1-minute step, or 15 minutes where retention left nothing finer (also a problems entry ALERTS_WARN_RESOLUTION)',
    },
  ),
  baselines: Type.Integer({ description: 'devices whose normal load any learning of the replay learned (at learnUntil, or later as live)' }),
  relearn: StringEnum(['live', 'once'] as const, { description: 'how the baselines were learned (the request, default live)' }),
  relearned: Type.Integer({ description: 'times the baselines were learned again during the range (relearn live)' }),
  written: Type.Integer({ description: 'events appended to the event log (0 unless write)' }),
  byRule: Type.Record(Type.String(), Type.Object({ kind: Type.String(), alerts: Type.Integer(), devices: Type.Integer() })),
  problems: Type.Array(Type.Object({ code: Type.String(), device: Type.String(), message: Type.String() }), {
    description:
      "per device: ALERTS_ERR_HISTORY (too little history to learn: its anomaly and standby rules stay silent); for every device (device ''): ALERTS_WARN_CALENDAR, ALERTS_WARN_RESOLUTION, ALERTS_WARN_RELEARN (a range longer than 31 days learns at most 31 times, not every day)",
  }),
  alerts: Type.Array(ReplayAlertSchema),
})

/** The replay's coded errors as API answers: the API's code and status, the replay's own code in `details.code` (as the import's). */
function asApiError(err: unknown): unknown {
  if (!isPlantWattError(err)) return err
  const own = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    code: err.code,
    ...(typeof err.details === 'object' && err.details !== null && !Array.isArray(err.details) ? err.details : {}),
    ...extra,
  })
  switch (err.code) {
    case 'ALERTS_ERR_NO_DATA':
    case 'ALERTS_ERR_SCOPE':
      return apiError('API_ERR_NOT_FOUND', err.message, own())
    case 'ALERTS_ERR_HISTORY':
      return apiError('API_ERR_CONFLICT', err.message, own({ problems: err.details }))
    case 'ALERTS_ERR_RANGE':
      return apiError('API_ERR_RANGE', err.message, own())
    case 'ALERTS_ERR_CONFIG':
      return apiError('API_ERR_VALIDATION', err.message, err.details)
    default:
      return err
  }
}

/** POST /alerts/replay: the backtest of alerts/replay.ts — the rules over stored history. */
export const alertReplayRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.post(
    '/alerts/replay',
    {
      config: { permission: 'alerts' },
      schema: {
        summary: 'Backtest: run rules and the anomaly detector over stored history; the alerts that would have fired, per-rule counts, alerts per device-week',
        tags: ['alerts'],
        body: ReplayBodySchema,
        response: { 200: ReplayResponseSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const b = req.body
      const tz = ctx.model.timezone
      const range = parseRange(b.from, b.to, tz, { names: ['from', 'to'], place: 'body', maxDays: MAX_REPLAY_DAYS })
      // Written alerts look like live ones (restored, escalated): only a role that may write alert events.
      if (b.write && !can(req.principal, 'ack')) {
        const roles = ROLES.filter((r) => ROLE_PERMISSIONS[r].includes('ack'))
        throw apiError(
          'API_ERR_FORBIDDEN',
          `write: role ${req.principal.role} may not write alerts to the event log (needs ${roles.join(' or ')}); replay without write`,
          {
            field: 'write',
            role: req.principal.role,
          },
        )
      }
      const enterprise = scopedEnterprise(req.principal, b.enterprise)
      if (enterprise === null) throw apiError('API_ERR_NOT_FOUND', `no enterprise ${JSON.stringify(b.enterprise)}`)
      const filter: Record<string, string> = {}
      if (enterprise !== undefined) filter.enterprise = enterprise
      for (const k of ['site', 'line', 'device'] as const) if (b[k] !== undefined) filter[k] = b[k]
      try {
        const configured = ctx.alertRules ?? []
        const rulesBasis: (typeof RULES_BASES)[number] = b.rules !== undefined ? 'request' : configured.length > 0 ? 'configured' : 'recommended'
        const raw = rulesBasis === 'request' ? b.rules : rulesBasis === 'configured' ? configured : RECOMMENDED_RULES
        const { rules } = validateAlertsConfig({ rules: raw }, rulesBasis === 'request' ? 'rules' : 'alerts')
        const r = await replayAlerts({
          store: ctx.store,
          plant: ctx.model,
          rules,
          from: range.start,
          to: range.stop,
          ...(b.learnUntil !== undefined ? { learnUntil: parseInstant(b.learnUntil, 'learnUntil', tz, 'body') } : {}),
          ...(b.relearn !== undefined ? { relearn: b.relearn } : {}),
          ...(Object.keys(filter).length > 0 ? { filter } : {}),
          // Always read (recorded meter events explain counter drops, as live and as the CLI); written only when asked.
          events: ctx.events,
          ...(b.write ? { write: true } : {}),
        })
        const alerts = r.alerts.map((a) => ({
          id: a.id,
          rule: a.rule,
          ruleKind: a.ruleKind,
          severity: a.severity,
          ...a.address,
          quantity: a.quantity,
          state: a.state,
          openedAt: a.openedAt,
          resolvedAt: a.resolvedAt ?? null,
          value: a.value,
          valueUnit: a.valueUnit,
          threshold: a.threshold ?? null,
          thresholdUnit: a.thresholdUnit,
          expectedLow: a.expectedLow ?? null,
          expectedHigh: a.expectedHigh ?? null,
        }))
        return { ...r, rulesBasis, alerts }
      } catch (err) {
        throw asApiError(err)
      }
    },
  )
}
