import { reportDepsOf } from '../report-deps.ts'
import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { comprehensiveReport, type ComprehensiveNode } from '../../reports/comprehensive.ts'
import { REPORT_GRANULARITIES, scopeTimezone, type ReportGranularity } from '../../reports/energy.ts'
import { reportError } from '../../reports/errors.ts'
import { formatScope, linesOf, parseScope, scopeLevel } from '../../reports/scope.ts'
import type { RouteOptions } from '../context.ts'
import { apiError, ERROR_RESPONSES } from '../errors.ts'
import { canSeeEnterprise } from '../principal.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { parseRange } from '../time.ts'

/**
 * GET /comprehensive: comprehensive energy (综合能耗, GB/T 2589-2020) of a line, site or enterprise
 * per bucket — every carrier from meters and entries, minus exports, in kgce and tce, per carrier
 * with source, conversion and coverage; a site's incomers and the share its lines do not cover.
 * Also the schemas of the SEC grades (GET /sec) that reports.ts spreads into its SEC row.
 */

const N = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const CarrierFlowSchema = Type.Object({
  carrier: Type.String({ description: 'carrier id (analytics/carriers.ts): electricity, raw-coal, natural-gas, oxygen …' }),
  name: Type.String(),
  nameZh: Type.String(),
  kind: StringEnum(['electricity', 'fuel', 'heat', 'working-medium', 'recovered-gas'] as const),
  direction: StringEnum(['import', 'export'] as const),
  source: StringEnum(['meter', 'entry'] as const, { description: 'meter: counters; entry: audited entries (weighbridge, delivery, ERP)' }),
  amount: Type.Number({ description: 'in `unit`; the uncovered row of a site may be negative (line meters above the incomer)' }),
  unit: Type.String(),
  kgce: Type.Number({ description: 'signed: exports are negative' }),
  coverage: Type.Number({ description: 'share of the period covered by the meters or entries, 0..1' }),
  conversion: Type.Object({
    method: StringEnum(['coefficient', 'measured-ncv', 'mixed'] as const, { description: 'GB/T 2589 coefficient, measured low calorific value, or both' }),
    kgcePerUnit: Type.Number({ description: 'effective kgce per unit' }),
    unit: Type.String(),
    tableVersion: Type.String({ description: 'coal-coefficient table version' }),
    source: Type.String(),
    ncvKjPerUnit: Type.Optional(Type.Number({ description: 'amount-weighted measured NCV, kJ per unit' })),
    ncvAmount: Type.Optional(Type.Number({ description: 'the part of the amount converted with a measured NCV' })),
    verified: Type.Boolean({ description: 'false: a coefficient not traced to the standard text' }),
  }),
  refs: Type.Array(Type.String(), { description: 'devices (meters) or entry id@revision (entries)' }),
})

const NdrcSchema = Type.Object(
  {
    level: StringEnum(['benchmark', 'compliant', 'below_baseline'] as const),
    labelZh: Type.String({ description: '达到标杆水平 / 达到基准水平 / 未达基准水平' }),
    benchmark: Type.Number({ description: '标杆水平' }),
    baseline: Type.Number({ description: '基准水平' }),
    gapToBenchmarkPct: N(Type.Number()),
    gapToBaselinePct: N(Type.Number()),
    document: Type.String(),
    verified: Type.Boolean(),
  },
  { description: 'NDRC 标杆/基准 (policy levels)' },
)
const GbSchema = Type.Object(
  {
    level: N(Type.Integer({ minimum: 1, maximum: 3, description: 'best level met; null = above level 3 (超过限定值)' })),
    labelZh: Type.String(),
    level1: Type.Number(),
    level2: Type.Number(),
    level3: Type.Number({ description: '限定值: the legal limit' }),
    withinLimit: Type.Boolean(),
    standard: N(Type.String()),
  },
  { description: 'GB 单位产品能源消耗限额 levels 1/2/3' },
)
const UngradedSchema = Type.Object({
  code: StringEnum(['CARRIER_NOT_METERED', 'NO_OUTPUT', 'NOT_PER_TONNE', 'BOUNDARY_UNDEFINED', 'NO_EQUAL_VALUE_FACTOR', 'NO_LEVELS'] as const),
  reason: Type.String({ description: 'e.g. 燃料未计量 / fuel not metered: raw-coal | coke …' }),
  carriers: Type.Optional(Type.Array(Type.String())),
})
export const IndicatorGradeSchema = Type.Object({
  product: Type.String(),
  name: Type.String(),
  indicator: Type.String(),
  kind: StringEnum(['comprehensive-energy', 'electricity'] as const),
  unit: Type.String({ description: 'kgce/t or kWh/t' }),
  standard: N(Type.String()),
  benchmarkVersion: Type.String(),
  basis: Type.String({ description: 'conversion basis: GB/T 2589-2020 and the electricity value, or electricity only' }),
  boundary: N(Type.String()),
  value: N(Type.Number()),
  energy: N(Type.Number({ description: 'kgce (comprehensive) or kWh (electricity) inside the boundary' })),
  production: Type.Number(),
  carriersCounted: Type.Array(Type.String()),
  carriersOutside: Type.Array(Type.String()),
  ndrc: N(NdrcSchema),
  gb: N(GbSchema),
  ungraded: N(UngradedSchema),
  warnings: Type.Array(Type.String()),
})

/** The columns GET /sec adds for issue 15 (spread into its row schema). */
export const SecGradeCols = {
  kgce: Type.Number({ description: 'comprehensive energy of the line in the bucket, kgce (every carrier metered or entered, exports subtracted)' }),
  flows: Type.Array(CarrierFlowSchema),
  outputSource: StringEnum(['meter', 'entry'] as const, { description: 'output from the production counter or production entries' }),
  indicators: Type.Array(IndicatorGradeSchema, { description: "the product's indicator first, then its companions (e.g. clinker 综合电耗)" }),
  ndrc: N(NdrcSchema),
  gb: N(GbSchema),
  ungraded: N(UngradedSchema),
  standard: N(Type.String({ description: 'standard and benchmark table version' })),
  conversionBasis: N(Type.String()),
}

const Query = Type.Object(
  {
    scope: Type.String({ minLength: 1, maxLength: 300, description: 'enterprise[/site[/line]] of the plant model' }),
    start: InstantSchema('inclusive start'),
    stop: InstantSchema('exclusive stop'),
    granularity: Type.Optional(StringEnum(REPORT_GRANULARITIES, { description: "buckets in the scope's time zone; default day" })),
  },
  { additionalProperties: false },
)

const NodeSchema = Type.Object({
  path: Type.String(),
  parent: N(Type.String()),
  level: StringEnum(['enterprise', 'site', 'line', 'uncovered', 'entries'] as const, {
    description: 'uncovered: incomers minus lines (losses, shared loads); entries: entries of the site or enterprise itself',
  }),
  name: Type.String(),
  totalBasis: N(StringEnum(['incomers', 'sum-of-lines'] as const, { description: 'sites: where the total comes from' })),
  incomers: Type.Array(Type.String(), { description: 'sites: incomer devices (line/device)' }),
  note: N(Type.String()),
  kgce: Type.Number(),
  tce: Type.Number(),
  flows: Type.Array(CarrierFlowSchema),
})
const RowSchema = Type.Object({
  path: Type.String(),
  level: Type.String(),
  bucket: Type.String(),
  start: Type.Integer(),
  end: Type.Integer(),
  kgce: Type.Number(),
  tce: Type.Number(),
  coverage: Type.Number({ description: 'the lowest coverage of the bucket’s carriers' }),
  flows: Type.Array(CarrierFlowSchema),
})
const Response = Type.Object({
  scope: Type.String(),
  level: StringEnum(['enterprise', 'site', 'line'] as const),
  timezone: Type.String(),
  granularity: StringEnum(REPORT_GRANULARITIES),
  start: Type.Integer(),
  end: Type.Integer(),
  kgce: Type.Number(),
  tce: Type.Number(),
  basis: Type.Object({ standard: Type.String(), electricity: Type.String(), tableVersion: Type.String(), kjPerKgce: Type.Number() }),
  unverified: Type.Array(Type.String(), { description: 'carriers converted with a coefficient not traced to the standard text' }),
  entriesRead: Type.Boolean(),
  nodes: Type.Array(NodeSchema, { description: 'the scope and everything below it, depth first' }),
  rows: Type.Array(RowSchema, { description: 'one row per node and bucket' }),
})

function flatten(
  node: ComprehensiveNode,
  parent: string | null,
  out: Array<{ node: ComprehensiveNode; parent: string | null }> = [],
): Array<{ node: ComprehensiveNode; parent: string | null }> {
  out.push({ node, parent })
  for (const c of node.children) flatten(c, node.path, out)
  return out
}

export const comprehensiveRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/comprehensive',
    {
      config: { permission: 'reports' as const },
      schema: {
        summary: 'Comprehensive energy (GB/T 2589-2020) of a line, site or enterprise: every carrier, meters and entries, exports subtracted',
        tags: ['reports'],
        querystring: Query,
        response: { 200: Response, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const scope = parseScope(req.query.scope)
      if (!canSeeEnterprise(req.principal, scope.enterprise)) {
        throw reportError('REPORTS_ERR_SCOPE', `no ${scopeLevel(scope)} ${JSON.stringify(formatScope(scope))} in the plant model`)
      }
      const lines = linesOf(ctx.model, scope)
      const { start, stop } = parseRange(req.query.start, req.query.stop, scopeTimezone(ctx.model, lines), { maxDays: ctx.config.maxRangeDays })
      const granularity: ReportGranularity = req.query.granularity ?? 'day'
      const deps = reportDepsOf(ctx)
      const r = await comprehensiveReport(deps, scope, { start, end: stop }, granularity)
      const all = flatten(r.node, null)
      const rows = all.flatMap(({ node }) => node.buckets.map((b) => ({ path: node.path, level: node.level, ...b })))
      if (rows.length > ctx.config.maxPoints) {
        throw apiError(
          'API_ERR_RANGE_TOO_LARGE',
          `comprehensive: ${rows.length} rows; at most ${ctx.config.maxPoints}: use a coarser granularity or a shorter range`,
        )
      }
      const { node: _, ...head } = r
      return {
        ...head,
        nodes: all.map(({ node, parent }) => ({
          path: node.path,
          parent,
          level: node.level,
          name: node.name,
          totalBasis: node.totalBasis ?? null,
          incomers: node.incomers ?? [],
          note: node.note ?? null,
          kgce: node.kgce,
          tce: node.tce,
          flows: node.flows,
        })),
        rows,
      }
    },
  )
}
