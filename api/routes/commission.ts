import { reportDepsOf } from '../report-deps.ts'
import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import {
  COMMISSION_PERIODS,
  commissionReport,
  resolveCommissionConfig,
  type CommissionPeriod,
  type CommissionReport,
  type EnterpriseFigures,
} from '../../reports/commission.ts'
import { QUALIFICATIONS } from '../../reports/qualification.ts'
import type { TimeRange } from '../../analytics/index.ts'
import type { RouteOptions, ApiContext } from '../context.ts'
import { apiError, ERROR_RESPONSES } from '../errors.ts'
import { assertEnterprise, canSeeEnterprise, requireRole } from '../principal.ts'
import { IdSchema, InstantSchema, StringEnum } from '../schemas.ts'
import { parseRange } from '../time.ts'

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const GRADES = ['benchmark', 'compliant', 'below_baseline'] as const

const PeriodQuery = {
  period: Type.Optional(
    StringEnum(COMMISSION_PERIODS, {
      description: 'complete calendar period before now (plant time zone); default: the configured commission.period (last-month)',
    }),
  ),
  start: Type.Optional(InstantSchema('start of a custom period (inclusive), with stop; overrides period')),
  stop: Type.Optional(InstantSchema('end of a custom period (exclusive), with start')),
}

const PeriodSchema = Type.Object(
  {
    start: Type.Integer({ description: 'epoch ms, inclusive' }),
    end: Type.Integer({ description: 'epoch ms, exclusive' }),
    timezone: Type.String({ description: 'time zone the calendar period is cut in' }),
  },
  { description: 'period SEC, grades and energy are computed over' },
)

const ProgressSchema = Type.Object({
  target: Type.Integer({ description: 'qualified smart factories + digital workshops the programme aims for (commission.target)' }),
  smartFactories: Type.Integer({ description: 'enterprises qualified as smart factory (智能工厂)' }),
  digitalWorkshops: Type.Integer({ description: 'enterprises qualified as digital workshop (数字化车间) and not as smart factory' }),
  qualified: Type.Integer({ description: 'smartFactories + digitalWorkshops' }),
  progressPct: Type.Number({ description: 'qualified / target × 100' }),
})

const OverviewSchema = Type.Object(
  {
    period: PeriodSchema,
    measuredAt: Type.Integer({ description: 'when networking was measured (server clock), epoch ms' }),
    networkingWindowS: Type.Integer({ description: 'a key device is networked when its newest sample is at most this old, s' }),
    progress: ProgressSchema,
    enterprises: Type.Integer({ description: 'enterprises in the plant model' }),
    keyEquipment: Type.Integer({ description: 'key equipment over all enterprises' }),
    ncRate: Nullable(Type.Number({ description: 'NC-capable key equipment / key equipment over all enterprises (0..1)' })),
    networkingRate: Nullable(Type.Number({ description: 'networked key equipment / key equipment over all enterprises (0..1)' })),
    grades: Type.Object(
      {
        benchmark: Type.Integer({ description: 'graded products at or better than 标杆' }),
        compliant: Type.Integer({ description: 'graded products between 标杆 and 基准' }),
        below_baseline: Type.Integer({ description: 'graded products worse than 基准' }),
        ungraded: Type.Integer({ description: 'products with a benchmark but no SEC in the period (no output or no data)' }),
      },
      { description: 'products graded against their benchmark, by grade' },
    ),
    energyKwh: Type.Number({ description: 'energy of all enterprises over the period, kWh' }),
    energyTce: Type.Number({ description: 'the same in tonnes of coal equivalent (0.1229 kgce/kWh, GB/T 2589-2020)' }),
    openAlerts: Type.Integer({ description: 'open alerts over all enterprises' }),
  },
  { description: 'progress of the programme and province-wide figures' },
)

const RowSchema = Type.Object({
  enterprise: Type.String({ description: 'enterprise id' }),
  name: Type.String(),
  industry: Nullable(Type.String()),
  region: Type.String(),
  keyEquipment: Type.Integer({ description: 'key equipment (plant model keyEquipment)' }),
  ncCapable: Type.Integer({ description: 'key equipment that is NC-capable' }),
  networked: Type.Integer({ description: 'key equipment that reported within networkingWindowS' }),
  ncRate: Nullable(Type.Number({ description: 'ncCapable / keyEquipment, 0..1 (数控化率)' })),
  networkingRate: Nullable(Type.Number({ description: 'networked / keyEquipment, 0..1 (联网率)' })),
  grades: Type.String({ description: 'grade per graded product: "line/product: grade; …" (empty: none graded)' }),
  gradedProducts: Type.Integer({ description: 'lines with a product benchmark' }),
  benchmarkGrades: Type.Integer(),
  compliantGrades: Type.Integer(),
  belowBaselineGrades: Type.Integer(),
  worstGapToBaselinePct: Nullable(Type.Number({ description: 'largest (worst) gap of a product SEC to its 基准, % (positive = worse than baseline)' })),
  energyKwh: Type.Number({ description: 'energy over the period, kWh' }),
  energyTce: Type.Number({ description: 'energy over the period, tce' }),
  energyCoverage: Type.Number({ description: '0..1 share of the period covered by energy data' }),
  openAlerts: Type.Integer({ description: 'open alerts (alert engine events)' }),
  qualifiedAs: StringEnum(QUALIFICATIONS, { description: 'highest qualification whose rule passed' }),
  score: Type.Number({ description: 'composite score 0..100 (reports/COMMISSION.md)' }),
  rank: Type.Integer({ description: 'province-wide rank by score, 1 = best' }),
})
type Row = Type.Static<typeof RowSchema>

const SORT_KEYS = Object.keys(RowSchema.properties) as Array<keyof Row>

const EnterprisesSchema = Type.Object(
  {
    period: PeriodSchema,
    measuredAt: Type.Integer({ description: 'when networking was measured, epoch ms' }),
    rows: Type.Array(RowSchema, { description: 'one row per enterprise the caller may see' }),
  },
  { description: 'enterprise table (CSV-exportable rows)' },
)

const LineSchema = Type.Object({
  line: Type.String({ description: 'enterprise/site/line' }),
  lineName: Type.String(),
  product: Type.String(),
  productName: Type.String(),
  outputUnit: Type.String({ description: 't or pcs' }),
  reference: Nullable(Type.String({ description: 'benchmark product id (analytics reference); null = not graded' })),
  energyKwh: Type.Number({ description: 'line energy over the period (its main meter), kWh' }),
  output: Type.Number({ description: 'output over the period, in outputUnit' }),
  coverage: Type.Number({ description: '0..1, lower of energy and production data coverage' }),
  sec: Nullable(Type.Number({ description: 'specific energy consumption in secUnit; null without output' })),
  secUnit: Type.String({ description: 'kWh/t, kgce/t (the reference unit) or kWh/<output unit>' }),
  grade: Nullable(StringEnum(GRADES, { description: 'benchmark (≤ 标杆), compliant (≤ 基准), below_baseline' })),
  basis: Nullable(StringEnum(['ndrc', 'gb'] as const, { description: 'ndrc = NDRC 标杆/基准; gb = GB level 1 / level 3 where no NDRC levels exist' })),
  benchmark: Nullable(Type.Number({ description: '标杆 level used, in secUnit' })),
  baseline: Nullable(Type.Number({ description: '基准 level used, in secUnit' })),
  gapToBenchmarkPct: Nullable(Type.Number({ description: '(sec − benchmark) / |benchmark| × 100; positive = worse' })),
  gapToBaselinePct: Nullable(Type.Number({ description: '(sec − baseline) / |baseline| × 100; positive = worse' })),
  unverified: Type.Boolean({ description: 'graded against NDRC values flagged unverified in the reference data' }),
  note: Nullable(Type.String({ description: 'why a line with a reference has no grade, or what was odd' })),
})

const EquipmentSchema = Type.Object({
  path: Type.String({ description: 'enterprise/site/line/device' }),
  line: Type.String(),
  device: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  ncCapable: Type.Boolean({ description: 'numerically controlled (数控)' }),
  lastSeen: Nullable(Type.Integer({ description: 'newest sample within the networking window, epoch ms' })),
  networked: Type.Boolean({ description: 'reported within networkingWindowS' }),
})

const RuleSchema = Type.Object({
  rule: StringEnum(['smart_factory', 'digital_workshop'] as const),
  passed: Type.Boolean(),
  conditions: Type.Array(
    Type.Object({
      condition: Type.String({ description: 'the condition in words' }),
      passed: Type.Boolean(),
      reason: Type.String({ description: 'the value found' }),
    }),
  ),
})

const DetailSchema = Type.Object(
  {
    period: PeriodSchema,
    measuredAt: Type.Integer(),
    networkingWindowS: Type.Integer(),
    enterprise: Type.String(),
    name: Type.String(),
    industry: Nullable(Type.String()),
    region: Type.String(),
    attributes: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean(), Type.String()]), {
      description: 'declared facts (plant model enterprise.attributes)',
    }),
    keyEquipment: Type.Integer(),
    ncCapable: Type.Integer(),
    networked: Type.Integer(),
    ncRate: Nullable(Type.Number()),
    networkingRate: Nullable(Type.Number()),
    energyKwh: Type.Number(),
    energyTce: Type.Number(),
    energyCoverage: Type.Number(),
    openAlerts: Type.Integer(),
    qualifiedAs: StringEnum(QUALIFICATIONS),
    rules: Type.Array(RuleSchema, { description: 'both rules, each condition with why it passed or failed' }),
    score: Type.Number(),
    rank: Type.Integer(),
    lines: Type.Array(LineSchema, { description: 'lines with a product: SEC and grade' }),
    equipment: Type.Array(EquipmentSchema, { description: 'key equipment, networked or not' }),
  },
  { description: 'one enterprise in detail' },
)

function rangeOf(ctx: ApiContext, q: { start?: string; stop?: string }): TimeRange | undefined {
  if (q.start === undefined && q.stop === undefined) return undefined
  if (q.start === undefined || q.stop === undefined) {
    const missing = q.start === undefined ? 'start' : 'stop'
    throw apiError('API_ERR_VALIDATION', `query parameter "${missing}" is needed with "${missing === 'start' ? 'stop' : 'start'}"`, [
      { parameter: missing, in: 'querystring', message: 'start and stop go together' },
    ])
  }
  const { start, stop } = parseRange(q.start, q.stop, ctx.model.timezone, { maxDays: ctx.config.maxRangeDays })
  return { start, end: stop }
}

function toRow(f: EnterpriseFigures): Row {
  const graded = f.lines.filter((l) => l.reference !== null)
  const gaps = graded.map((l) => l.gapToBaselinePct).filter((g): g is number => g !== null)
  return {
    enterprise: f.enterprise,
    name: f.name,
    industry: f.industry,
    region: f.region,
    keyEquipment: f.keyEquipment,
    ncCapable: f.ncCapable,
    networked: f.networked,
    ncRate: f.ncRate,
    networkingRate: f.networkingRate,
    grades: graded.map((l) => `${l.line}/${l.product}: ${l.grade ?? 'no SEC'}`).join('; '),
    gradedProducts: graded.length,
    benchmarkGrades: graded.filter((l) => l.grade === 'benchmark').length,
    compliantGrades: graded.filter((l) => l.grade === 'compliant').length,
    belowBaselineGrades: graded.filter((l) => l.grade === 'below_baseline').length,
    worstGapToBaselinePct: gaps.length === 0 ? null : Math.max(...gaps),
    energyKwh: f.energyKwh,
    energyTce: f.energyTce,
    energyCoverage: f.energyCoverage,
    openAlerts: f.openAlerts,
    qualifiedAs: f.qualifiedAs,
    score: f.score,
    rank: f.rank,
  }
}

/** Orders rows by one column; nulls last in either order, ties by rank. */
export function sortRows(rows: Row[], key: keyof Row, order: 'asc' | 'desc'): Row[] {
  const sign = order === 'asc' ? 1 : -1
  return [...rows].sort((a, b) => {
    const x = a[key]
    const y = b[key]
    if (x === null || y === null) return x === y ? a.rank - b.rank : x === null ? 1 : -1
    const c = x < y ? -1 : x > y ? 1 : 0
    return c !== 0 ? sign * c : a.rank - b.rank
  })
}

/** Routes for the commission scope: enterprises, grades, NC and networking rates, qualification, progress, ranking. */
export const commissionRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  // Checked when the app is built: a bad commission config stops start-up with CORE_ERR_CONFIG.
  const config = resolveCommissionConfig(ctx.commission)
  const report = (req: FastifyRequest, q: { period?: CommissionPeriod; start?: string; stop?: string }): Promise<CommissionReport> => {
    const range = rangeOf(ctx, q)
    const cfg = q.period !== undefined && q.period !== config.period ? { ...config, period: q.period } : config
    req.log.debug({ range, period: cfg.period }, 'commission report')
    return commissionReport(reportDepsOf(ctx), cfg, range)
  }

  app.get(
    '/commission/overview',
    {
      schema: {
        summary: 'Progress against the target of smart factories / digital workshops, and province-wide figures (commission and admin only)',
        tags: ['commission'],
        querystring: Type.Object(PeriodQuery, { additionalProperties: false }),
        response: { 200: OverviewSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requireRole(req, 'commission', 'admin')
      const r = await report(req, req.query)
      const all = r.enterprises
      const key = all.reduce((s, f) => s + f.keyEquipment, 0)
      const lines = all.flatMap((f) => f.lines.filter((l) => l.reference !== null))
      const energyKwh = all.reduce((s, f) => s + f.energyKwh, 0)
      return {
        period: r.period,
        measuredAt: r.measuredAt,
        networkingWindowS: r.networkingWindowS,
        progress: r.progress,
        enterprises: all.length,
        keyEquipment: key,
        ncRate: key === 0 ? null : all.reduce((s, f) => s + f.ncCapable, 0) / key,
        networkingRate: key === 0 ? null : all.reduce((s, f) => s + f.networked, 0) / key,
        grades: {
          benchmark: lines.filter((l) => l.grade === 'benchmark').length,
          compliant: lines.filter((l) => l.grade === 'compliant').length,
          below_baseline: lines.filter((l) => l.grade === 'below_baseline').length,
          ungraded: lines.filter((l) => l.grade === null).length,
        },
        energyKwh,
        energyTce: all.reduce((s, f) => s + f.energyTce, 0),
        openAlerts: all.reduce((s, f) => s + f.openAlerts, 0),
      }
    },
  )

  app.get(
    '/commission/enterprises',
    {
      schema: {
        summary: 'Enterprise table: NC and networking rates, grades, qualification, rank, open alerts (an enterprise user sees only their own row)',
        tags: ['commission'],
        querystring: Type.Object(
          {
            ...PeriodQuery,
            sort: Type.Optional(StringEnum(SORT_KEYS, { description: 'column to order by; default rank' })),
            order: Type.Optional(StringEnum(['asc', 'desc'] as const, { description: 'default asc; nulls always last' })),
            format: Type.Optional(StringEnum(['json', 'csv'] as const, { description: 'csv = the rows as CSV (same as Accept: text/csv)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: EnterprisesSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const r = await report(req, req.query)
      const rows = r.enterprises.filter((f) => canSeeEnterprise(req.principal, f.enterprise)).map(toRow)
      return { period: r.period, measuredAt: r.measuredAt, rows: sortRows(rows, req.query.sort ?? 'rank', req.query.order ?? 'asc') }
    },
  )

  app.get(
    '/commission/enterprises/:enterprise',
    {
      schema: {
        summary: 'One enterprise in detail: lines, products, SEC and grade, key equipment networked or not, qualification with reasons',
        tags: ['commission'],
        params: Type.Object({ enterprise: IdSchema('enterprise id') }, { additionalProperties: false }),
        querystring: Type.Object(PeriodQuery, { additionalProperties: false }),
        response: { 200: DetailSchema, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const id = req.params.enterprise
      // Out of scope answers exactly like unknown, before any work.
      assertEnterprise(req, id)
      if (!ctx.model.enterprises.some((e) => e.id === id)) throw apiError('API_ERR_NOT_FOUND', `no enterprise ${JSON.stringify(id)}`)
      const r = await report(req, req.query)
      const f = r.enterprises.find((x) => x.enterprise === id) as EnterpriseFigures
      return { period: r.period, measuredAt: r.measuredAt, networkingWindowS: r.networkingWindowS, ...f }
    },
  )
}
