import { reportDepsOf } from '../report-deps.ts'
import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { DAY_MS } from '../../core/duration.ts'
import type { BaselineModel, Coefficient, TimeRange } from '../../analytics/index.ts'
import {
  BASELINE_PERIODS,
  BASELINE_VARIABLES,
  baselineHistory,
  lineOfScope,
  recordBaseline,
  savingsReport,
  type StoredRevision,
} from '../../reports/baselines.ts'
import { scopeTimezone } from '../../reports/energy.ts'
import { DEFAULT_PF_THRESHOLD, powerFactorReport } from '../../reports/power-factor.ts'
import { QUALITY_MAX_RANGE_MS, qualityReportOf } from '../../reports/quality.ts'
import { linesOf, parseScope, type Scope } from '../../reports/scope.ts'
import type { ApiContext, RouteOptions } from '../context.ts'
import { apiError, ERROR_RESPONSES } from '../errors.ts'
import { assertEnterprise, requireRole } from '../principal.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { parseInstant, parseRange } from '../time.ts'

/**
 * ISO 50006 baselines and savings, power factor and data quality (reports/baselines.ts,
 * power-factor.ts, quality.ts). Reading needs the `reports` permission; recording a baseline the
 * engineer or admin role. An enterprise outside the caller's scope answers 404 like an unknown one.
 */

/** Most raw samples per device the power-factor report may read (beyond: window means). */
export const PF_MAX_SAMPLES_CAP = 1_000_000
/** Most raw samples per device and field a quality report may read. */
export const QUALITY_LIMIT_CAP = 1_000_000

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const finite = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null)

const ScopeParam = Type.String({ minLength: 1, maxLength: 300, description: 'enterprise[/site[/line[/device]]] of the plant model' })
const LineParam = Type.String({ minLength: 1, maxLength: 300, description: 'a line: enterprise/site/line' })
const RangeQuery = { start: InstantSchema('inclusive start'), stop: InstantSchema('exclusive stop') }

// ---------------------------------------------------------------- power factor

const PowerFactorQuerySchema = Type.Object(
  {
    scope: ScopeParam,
    ...RangeQuery,
    threshold: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        default: DEFAULT_PF_THRESHOLD,
        description: '|PF| below this counts as time below the threshold (default 0.90, 功率因数调整电费办法)',
      }),
    ),
    per: Type.Optional(
      StringEnum(['device', 'line'] as const, {
        default: 'device',
        description: 'device: every meter of the scope; line: one row per line from its main meter (or only meter)',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: PF_MAX_SAMPLES_CAP,
        default: 200_000,
        description: `most raw samples read per device (at most ${PF_MAX_SAMPLES_CAP}); a device with more is summarised from window means (resolution 1m, 15m, 1h or 1d)`,
      }),
    ),
  },
  { additionalProperties: false },
)

const PowerFactorRowSchema = Type.Object({
  line: Type.String({ description: 'enterprise/site/line' }),
  device: Type.String(),
  mainMeter: Type.Boolean({ description: "the line's main meter: its figures are the line's" }),
  source: StringEnum(['power_factor', 'active_reactive_power', 'none'] as const, {
    description: 'power_factor samples, P and Q samples (PF = |P|/√(P²+Q²)), or no data',
  }),
  resolution: Type.String({ description: 'raw, or the window of the means used (1m, 15m, 1h, 1d)' }),
  samples: Type.Integer(),
  meanPf: Nullable(Type.Number({ description: 'time-weighted mean |PF|: each sample holds until the next, gaps excluded' })),
  sampleMeanPf: Nullable(Type.Number({ description: 'plain mean of |PF| samples' })),
  threshold: Type.Number(),
  belowThresholdH: Type.Number({ description: 'hours with |PF| below the threshold' }),
  coveredH: Type.Number({ description: 'hours covered by samples' }),
  belowThresholdShare: Nullable(Type.Number({ description: 'belowThresholdH / coveredH' })),
  activeKwh: Nullable(Type.Number({ description: 'active energy from energy_import_kwh, where a reactive counter exists' })),
  reactiveKvarh: Nullable(Type.Number({ description: 'reactive energy from reactive_energy_import_kvarh' })),
  energyPf: Nullable(Type.Number({ description: 'kWh / √(kWh² + kvarh²): the billing power factor' })),
})

const PowerFactorSchema = Type.Object(
  {
    scope: Type.String(),
    per: Type.String(),
    start: Type.Integer({ description: 'epoch ms' }),
    stop: Type.Integer({ description: 'epoch ms' }),
    threshold: Type.Number(),
    missing: Type.Array(Type.String(), { description: 'lines without a main meter or single meter (per=line)' }),
    rows: Type.Array(PowerFactorRowSchema, { description: 'one row per device (or line)' }),
  },
  { description: 'power factor of the scope' },
)

// ---------------------------------------------------------------- quality

const QualityQuerySchema = Type.Object(
  {
    scope: ScopeParam,
    ...RangeQuery,
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: QUALITY_LIMIT_CAP,
        default: 700_000,
        description: `most raw samples read per device (at most ${QUALITY_LIMIT_CAP}; 7 days of 1-second data = 604,800); beyond, the row is truncated`,
      }),
    ),
    quantity: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'the quantity judged on every device; default per device: energy_import_kwh, else output_t, output_count, active_power_kw, machine_state, temperature_c',
      }),
    ),
    expectedIntervalS: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'expected sampling interval, s; default per series: the median spacing of its samples' }),
    ),
  },
  { additionalProperties: false },
)

const QualityRowSchema = Type.Object({
  line: Type.String(),
  device: Type.String(),
  quantity: Type.String(),
  expectedIntervalS: Nullable(Type.Number({ description: 'interval completeness is measured against, s' })),
  intervalSource: Type.String({ description: 'given, median (of the sample spacing) or none (fewer than 2 samples)' }),
  samples: Type.Integer({ description: 'samples received in the range (bad ones included)' }),
  expectedSamples: Type.Integer(),
  completeness: Type.Number({ description: 'min(1, distinct good samples / expected samples)' }),
  gaps: Type.Integer({ description: 'spacings longer than 2 × the expected interval (range edges included)' }),
  missingSamples: Type.Integer(),
  longestGapS: Type.Number(),
  duplicates: Type.Integer(),
  outOfOrder: Type.Integer(),
  stuckRuns: Type.Integer({ description: 'runs of ≥ 10 equal consecutive values' }),
  stuckSamples: Type.Integer(),
  resets: Type.Integer({ description: 'counter resets (cumulative quantities): recorded and unexplained' }),
  unexplainedResets: Type.Integer({ description: 'counter drops no meter event explains (nor a rollover at the counterModulus, nor jitter ≤ 0.1 %)' }),
  meterEvents: Type.Integer({ description: 'recorded meter events the series crossed (replacement, ratio change, reset)' }),
  rollovers: Type.Integer(),
  badSamples: Type.Integer({ description: 'samples marked bad (q_<quantity> = 2)' }),
  uncertainSamples: Type.Integer({ description: 'samples marked uncertain (q_<quantity> = 1)' }),
  badShare: Type.Number(),
  uncertainShare: Type.Number(),
  truncated: Type.Boolean({ description: 'more than limit samples: the row covers [start, coveredUntil) only' }),
  coveredUntil: Type.Integer({ description: 'epoch ms' }),
})

const QualitySchema = Type.Object(
  {
    scope: Type.String(),
    start: Type.Integer(),
    stop: Type.Integer(),
    rows: Type.Array(QualityRowSchema, { description: 'one row per device' }),
    details: Type.Array(
      Type.Object({
        device: Type.String(),
        quantity: Type.String(),
        gaps: Type.Array(Type.Object({ from: Type.Integer(), to: Type.Integer(), missingSamples: Type.Integer() }), { description: 'first 100 gaps' }),
        stuck: Type.Array(Type.Object({ from: Type.Integer(), to: Type.Integer(), value: Type.Number(), samples: Type.Integer() }), {
          description: 'first 100 stuck runs',
        }),
      }),
    ),
    findings: Type.Array(
      Type.Object({
        kind: Type.Literal('unexplained-reset'),
        device: Type.String(),
        quantity: Type.String(),
        from: Type.Integer({ description: 'epoch ms: the reading before the drop' }),
        to: Type.Integer({ description: 'epoch ms: the reading after it' }),
        detail: Type.String(),
        message: Type.String(),
      }),
      { description: 'first 100 things to act on: unexplained resets (record the meter event: POST /api/v1/meter-events)' },
    ),
  },
  { description: 'data quality of the scope' },
)

// ---------------------------------------------------------------- baselines

const CoefficientSchema = Type.Object({
  name: Type.String(),
  value: Type.Number(),
  stdError: Type.Number(),
  tStat: Nullable(Type.Number({ description: 'null = infinite (a perfect fit)' })),
  pValue: Type.Number(),
})

const ModelSchema = Type.Object(
  {
    variables: Type.Array(Type.String()),
    intercept: CoefficientSchema,
    coefficients: Type.Array(CoefficientSchema),
    n: Type.Integer({ description: 'observations (periods) fitted' }),
    degreesOfFreedom: Type.Integer(),
    r2: Type.Number(),
    adjustedR2: Type.Number(),
    rmse: Type.Number({ description: '√(SSE / (n − p − 1)), kWh' }),
    cvRmse: Nullable(Type.Number({ description: 'RMSE / mean energy (null when the mean is 0)' })),
    meanEnergy: Type.Number(),
    validity: Type.Object({
      valid: Type.Boolean(),
      reasons: Type.Array(Type.String()),
      thresholds: Type.Object({ minR2: Type.Number(), maxCvRmse: Type.Number(), minAbsTStat: Type.Number(), minPointsPerVariable: Type.Integer() }),
    }),
    period: Type.Object({ from: Type.String(), to: Type.String() }),
  },
  { description: 'the regression E = b0 + Σ bi·xi and its validity' },
)

const RevisionRowSchema = Type.Object({
  line: Type.String(),
  revision: Type.Integer(),
  supersedes: Nullable(Type.Integer()),
  effectiveFrom: Type.Integer({ description: 'epoch ms: in force for periods starting at or after this, until the next revision' }),
  recordedAt: Type.Integer({ description: 'epoch ms' }),
  user: Type.String(),
  reason: Type.String(),
  period: Type.String({ description: 'day or week' }),
  variables: Type.String({ description: 'comma-separated' }),
  idleKw: Nullable(Type.Number({ description: 'idle level of operating hours, kW' })),
  baselineStart: Type.Integer(),
  baselineStop: Type.Integer(),
  n: Type.Integer(),
  intercept: Type.Number({ description: 'b0, kWh per period' }),
  bProduction: Nullable(Type.Number({ description: 'kWh per unit of output' })),
  tProduction: Nullable(Type.Number()),
  bOperatingHours: Nullable(Type.Number({ description: 'kWh per operating hour' })),
  tOperatingHours: Nullable(Type.Number()),
  r2: Type.Number(),
  adjustedR2: Type.Number(),
  cvRmse: Nullable(Type.Number()),
  valid: Type.Boolean(),
  validityReasons: Type.String({ description: 'why the model fails validity; empty when valid' }),
})

const RevisionSchema = Type.Object({ row: RevisionRowSchema, model: ModelSchema })

const BaselinesQuerySchema = Type.Object({ scope: LineParam }, { additionalProperties: false })

const BaselinesSchema = Type.Object(
  {
    line: Type.String(),
    rows: Type.Array(RevisionRowSchema, { description: 'every revision, oldest first' }),
    revisions: Type.Array(RevisionSchema, { description: 'the same revisions with their full models' }),
  },
  { description: 'baseline history of a line' },
)

const BaselineBodySchema = Type.Object(
  {
    scope: LineParam,
    baselineStart: InstantSchema('start of the baseline period (inclusive); only full days/weeks inside are used'),
    baselineStop: InstantSchema('end of the baseline period (exclusive)'),
    variables: Type.Array(StringEnum(BASELINE_VARIABLES), {
      minItems: 1,
      maxItems: 2,
      uniqueItems: true,
      description: 'relevant variables: production (line output), operating_hours (hours with mean power above the idle level)',
    }),
    period: StringEnum(BASELINE_PERIODS, { description: 'observation period: day, or week (Monday 00:00 local)' }),
    reason: Type.String({ minLength: 1, maxLength: 1000, description: 'why this baseline (revision) is recorded: ISO 50001 asks for it' }),
    effectiveFrom: Type.Optional(InstantSchema('when the revision takes effect; default baselineStop')),
    idleKw: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'idle level for operating hours, kW; default 20 % of the 95th percentile of hourly mean power over the baseline period',
      }),
    ),
  },
  { additionalProperties: false },
)

const FitRowSchema = Type.Object({
  period: Type.String({ description: 'local date of the period start' }),
  start: Type.Integer(),
  end: Type.Integer(),
  energyKwh: Type.Number(),
  production: Nullable(Type.Number()),
  operatingHours: Nullable(Type.Number()),
  fittedKwh: Type.Number(),
  residualKwh: Type.Number({ description: 'actual − fitted' }),
})

const ExcludedSchema = Type.Array(Type.Object({ period: Type.String(), start: Type.Integer(), end: Type.Integer(), reason: Type.String() }), {
  description: 'periods left out: data covering less than 90 % of them',
})

const BaselineFitSchema = Type.Object(
  {
    revision: RevisionSchema,
    rows: Type.Array(FitRowSchema, { description: 'the observations fitted' }),
    excluded: ExcludedSchema,
  },
  { description: 'the recorded revision' },
)

// ---------------------------------------------------------------- savings

const SavingsQuerySchema = Type.Object({ scope: LineParam, ...RangeQuery }, { additionalProperties: false })

const SavingsRowSchema = Type.Object({
  line: Type.String(),
  period: Type.String({ description: 'local date of the period start' }),
  start: Type.Integer(),
  end: Type.Integer(),
  revision: Type.Integer({ description: 'baseline revision in force at the period start' }),
  actual: Type.Number({ description: 'kWh' }),
  predicted: Type.Number({ description: 'kWh the baseline expects for the period’s variables' }),
  savings: Type.Number({ description: 'predicted − actual, kWh (positive = saved)' }),
  cusum: Type.Number({ description: 'running sum of savings, kWh' }),
  enpi: Nullable(Type.Number({ description: 'normalised EnPI: actual / predicted (below 1 = better than baseline)' })),
  production: Nullable(Type.Number()),
  operatingHours: Nullable(Type.Number()),
  coverage: Type.Number({ description: '0..1' }),
})

const SavingsSchema = Type.Object(
  {
    line: Type.String(),
    timezone: Type.String(),
    period: Type.String(),
    start: Type.Integer(),
    stop: Type.Integer(),
    revisions: Type.Array(Type.Integer(), { description: 'revisions used' }),
    modelValid: Type.Boolean({ description: 'false when a revision used fails validity: the savings are then indicative only' }),
    modelReasons: Type.Array(Type.String()),
    totalActual: Type.Number(),
    totalPredicted: Type.Number(),
    totalSavings: Type.Number(),
    savingsShare: Nullable(Type.Number({ description: '1 − actual / predicted' })),
    rows: Type.Array(SavingsRowSchema),
    excluded: ExcludedSchema,
  },
  { description: 'savings and CUSUM against the baseline' },
)

// ---------------------------------------------------------------- helpers

const depsOf = reportDepsOf

/**
 * The scope of a request, with the caller's tenant scope applied: an enterprise the caller may not
 * see, and one the model does not know, both answer 404 `no enterprise "x"`.
 */
function scopeOf(ctx: ApiContext, req: FastifyRequest, text: string): Scope {
  const scope = parseScope(text)
  assertEnterprise(req, scope.enterprise)
  if (!ctx.model.enterprises.some((e) => e.id === scope.enterprise)) throw apiError('API_ERR_NOT_FOUND', `no enterprise ${JSON.stringify(scope.enterprise)}`)
  return scope
}

function rangeOf(ctx: ApiContext, scope: Scope, q: { start: string; stop: string }, maxDays = ctx.config.maxRangeDays): TimeRange {
  const { start, stop } = parseRange(q.start, q.stop, scopeTimezone(ctx.model, linesOf(ctx.model, scope)), { maxDays })
  return { start, end: stop }
}

const coefficientOut = (c: Coefficient) => ({ name: c.name, value: c.value, stdError: c.stdError, tStat: finite(c.tStat), pValue: c.pValue })

function modelOut(m: BaselineModel) {
  return {
    variables: m.variables,
    intercept: coefficientOut(m.intercept),
    coefficients: m.coefficients.map(coefficientOut),
    n: m.n,
    degreesOfFreedom: m.degreesOfFreedom,
    r2: m.r2,
    adjustedR2: m.adjustedR2,
    rmse: m.rmse,
    cvRmse: finite(m.cvRmse),
    meanEnergy: m.meanEnergy,
    validity: m.validity,
    period: m.period,
  }
}

function revisionOut(r: StoredRevision) {
  const coef = (name: string) => r.model.coefficients.find((c) => c.name === name)
  return {
    row: {
      line: r.line,
      revision: r.revision,
      supersedes: r.supersedes ?? null,
      effectiveFrom: r.at,
      recordedAt: r.recordedAt,
      user: r.user,
      reason: r.reason,
      period: r.spec.period,
      variables: r.spec.variables.join(','),
      idleKw: r.spec.idleKw,
      baselineStart: r.spec.baselineStart,
      baselineStop: r.spec.baselineStop,
      n: r.model.n,
      intercept: r.model.intercept.value,
      bProduction: coef('production')?.value ?? null,
      tProduction: finite(coef('production')?.tStat),
      bOperatingHours: coef('operating_hours')?.value ?? null,
      tOperatingHours: finite(coef('operating_hours')?.tStat),
      r2: r.model.r2,
      adjustedR2: r.model.adjustedR2,
      cvRmse: finite(r.model.cvRmse),
      valid: r.model.validity.valid,
      validityReasons: r.model.validity.reasons.join('; '),
    },
    model: modelOut(r.model),
  }
}

/** GET /power-factor and GET /quality: what the meters say about the supply and about themselves. */
const supplyAndQualityRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/power-factor',
    {
      config: { permission: 'reports' },
      schema: {
        summary: 'Power factor per device or line: time-weighted mean |PF| and the time below a threshold',
        tags: ['reports'],
        querystring: PowerFactorQuerySchema,
        response: { 200: PowerFactorSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      const scope = scopeOf(ctx, req, q.scope)
      const range = rangeOf(ctx, scope, q)
      const r = await powerFactorReport(depsOf(ctx), scope, range, {
        maxSamples: q.limit ?? 200_000,
        ...(q.threshold !== undefined ? { threshold: q.threshold } : {}),
        ...(q.per ? { per: q.per } : {}),
      })
      return { scope: r.scope, per: r.per, start: r.start, stop: r.end, threshold: r.threshold, missing: r.missing, rows: r.rows }
    },
  )

  app.get(
    '/quality',
    {
      config: { permission: 'reports' },
      schema: {
        summary: `Data quality per device: completeness, gaps, stuck values, resets, bad and uncertain samples (raw samples: at most ${QUALITY_MAX_RANGE_MS / DAY_MS} days)`,
        tags: ['reports'],
        querystring: QualityQuerySchema,
        response: { 200: QualitySchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      const scope = scopeOf(ctx, req, q.scope)
      const range = rangeOf(ctx, scope, q, Math.min(QUALITY_MAX_RANGE_MS / DAY_MS, ctx.config.maxRangeDays))
      const r = await qualityReportOf(depsOf(ctx), scope, range, {
        limit: q.limit ?? 700_000,
        ...(q.quantity !== undefined ? { quantity: q.quantity } : {}),
        ...(q.expectedIntervalS !== undefined ? { expectedIntervalMs: q.expectedIntervalS * 1000 } : {}),
      })
      return { scope: r.scope, start: r.start, stop: r.end, rows: r.rows, details: r.details, findings: r.findings }
    },
  )
}

/** GET/POST /baselines and GET /savings: ISO 50006 baselines of a line and the savings against them. */
const baselineRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/baselines',
    {
      config: { permission: 'reports' },
      schema: {
        summary: 'Baseline revisions of a line (ISO 50006), oldest first',
        tags: ['reports'],
        querystring: BaselinesQuerySchema,
        response: { 200: BaselinesSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const scope = scopeOf(ctx, req, req.query.scope)
      const line = lineOfScope(ctx, scope)
      const history = (await baselineHistory(ctx.events, line)).map(revisionOut)
      return { line: line.path, rows: history.map((h) => h.row), revisions: history }
    },
  )

  app.post(
    '/baselines',
    {
      config: { permission: 'reports' },
      schema: {
        summary: 'Fit a baseline of a line (energy per day or week on production and/or operating hours) and record it as a new revision',
        tags: ['reports'],
        body: BaselineBodySchema,
        response: { 201: BaselineFitSchema, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      requireRole(req, 'engineer', 'admin')
      const b = req.body
      const scope = scopeOf(ctx, req, b.scope)
      const line = lineOfScope(ctx, scope)
      const { start: baselineStart, stop: baselineStop } = parseRange(b.baselineStart, b.baselineStop, line.timezone, {
        names: ['baselineStart', 'baselineStop'],
        place: 'body',
        maxDays: ctx.config.maxRangeDays,
      })
      const fit = await recordBaseline(depsOf(ctx), scope, {
        baselineStart,
        baselineStop,
        variables: b.variables,
        period: b.period,
        reason: b.reason,
        user: req.principal.id,
        ...(b.effectiveFrom !== undefined ? { effectiveFrom: parseInstant(b.effectiveFrom, 'effectiveFrom', line.timezone, 'body') } : {}),
        ...(b.idleKw !== undefined ? { idleKw: b.idleKw } : {}),
      })
      reply.code(201)
      return {
        revision: revisionOut(fit.revision),
        rows: fit.observations.map((o) => ({
          period: o.period,
          start: o.start,
          end: o.end,
          energyKwh: o.energyKwh,
          production: o.variables.production ?? null,
          operatingHours: o.variables.operating_hours ?? null,
          fittedKwh: o.fitted,
          residualKwh: o.residual,
        })),
        excluded: fit.excluded,
      }
    },
  )

  app.get(
    '/savings',
    {
      config: { permission: 'reports' },
      schema: {
        summary: 'Savings (predicted − actual) and CUSUM of a line per period, against the baseline revision in force',
        tags: ['reports'],
        querystring: SavingsQuerySchema,
        response: { 200: SavingsSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      const scope = scopeOf(ctx, req, q.scope)
      lineOfScope(ctx, scope)
      const range = rangeOf(ctx, scope, q)
      const r = await savingsReport(depsOf(ctx), scope, range)
      return { ...r, stop: r.end, savingsShare: finite(r.savingsShare) }
    },
  )
}

/** The efficiency area: power factor, data quality, baselines and savings. */
export const efficiencyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, opts) => {
  await supplyAndQualityRoutes(app, opts)
  await baselineRoutes(app, opts)
}
