import { reportDepsOf } from '../report-deps.ts'
import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { TariffSchema, validateTariff, type TimeRange } from '../../analytics/index.ts'
import { REPORT_GRANULARITIES, energyReport, productionReport, scopeTimezone, type ReportGranularity } from '../../reports/energy.ts'
import { costReport } from '../../reports/cost.ts'
import { carbonReport } from '../../reports/carbon.ts'
import { demandReport, type DemandGranularity } from '../../reports/demand.ts'
import { secReport } from '../../reports/sec.ts'
import { monthlyReport } from '../../reports/monthly.ts'
import { reportError } from '../../reports/errors.ts'
import { formatScope, linesOf, parseScope, scopeLevel, type Scope, type ScopeLine } from '../../reports/scope.ts'
import type { ApiContext, RouteOptions } from '../context.ts'
import { apiError, ERROR_RESPONSES } from '../errors.ts'
import { canSeeEnterprise } from '../principal.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { parseRange } from '../time.ts'
import { SecGradeCols } from './comprehensive.ts'

/**
 * Energy reports of any scope (enterprise, site, line, device) over a range, per bucket: energy,
 * production, TOU cost, CO2 and kgce, 15-minute demand, SEC with grades, and the monthly report;
 * plus a tariff check. Figures come from reports/ (reports/README.md); every table is `rows`.
 */

const N = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

const SCOPE = Type.String({ minLength: 1, maxLength: 300, description: 'enterprise[/site[/line[/device]]] of the plant model, e.g. acme/w1/l1' })
const START = InstantSchema('inclusive start')
const STOP = InstantSchema('exclusive stop')
const GRANULARITY = StringEnum(REPORT_GRANULARITIES, {
  description: "buckets in the scope's time zone: hour, shift (the lines' shift pattern), day, month or total; default day",
})

const ReportQuery = Type.Object({ scope: SCOPE, start: START, stop: STOP, granularity: Type.Optional(GRANULARITY) }, { additionalProperties: false })
const DemandQuery = Type.Object(
  {
    scope: SCOPE,
    start: START,
    stop: STOP,
    granularity: Type.Optional(
      StringEnum(['15m', ...REPORT_GRANULARITIES] as const, { description: '15m: every 15-minute window; else the maximum per bucket; default day' }),
    ),
  },
  { additionalProperties: false },
)
const MonthlyQuery = Type.Object({ scope: SCOPE, start: START, stop: STOP }, { additionalProperties: false })

const Head = {
  scope: Type.String({ description: 'the scope asked for, enterprise[/site[/line[/device]]]' }),
  timezone: Type.String({ description: 'IANA zone the buckets are cut in' }),
  start: Type.Integer({ description: 'epoch ms, inclusive' }),
  end: Type.Integer({ description: 'epoch ms, exclusive' }),
}
const Missing = Type.Array(Type.String(), { description: 'meters (enterprise/site/line/device) that should have contributed but sent no counter readings' })
const BucketCols = {
  bucket: Type.String({ description: "bucket label: '2026-03-02T08' (hour), '2026-03-02' (day), '2026-03' (month), '2026-03-02 night' (shift), 'total'" }),
  start: Type.Integer({ description: 'bucket start, epoch ms' }),
  end: Type.Integer({ description: 'bucket end, epoch ms' }),
}
const Coverage = Type.Number({ description: 'share of the bucket covered by data, 0..1' })

const EnergyResponse = Type.Object({
  ...Head,
  level: StringEnum(['enterprise', 'site', 'line', 'device'] as const),
  granularity: GRANULARITY,
  energyKwh: Type.Number({ description: 'energy over the range, kWh (a line = its main meter, else the sum of its meters)' }),
  coverage: Coverage,
  missing: Missing,
  rows: Type.Array(Type.Object({ scope: Type.String(), ...BucketCols, energyKwh: Type.Number(), coverage: Coverage })),
})

const ProductionResponse = Type.Object({
  scope: Type.String(),
  timezone: Type.String(),
  rows: Type.Array(
    Type.Object({
      line: Type.String({ description: 'enterprise/site/line' }),
      product: Type.String(),
      unit: Type.String({ description: 't or pcs' }),
      ...BucketCols,
      output: Type.Number({ description: 'output in the bucket, from the production counter (output_t or output_count)' }),
      coverage: Coverage,
    }),
  ),
})

const VersionSchema = Type.Object({
  id: Type.String(),
  effectiveFrom: Type.String({ description: 'local date the version takes effect' }),
  kind: Type.String({ description: 'single-part or two-part' }),
  energyKwh: Type.Number(),
  cost: Type.Number(),
  source: Type.String({ description: 'the notice or price table the version comes from' }),
})

const CostResponse = Type.Object({
  ...Head,
  granularity: GRANULARITY,
  currency: Type.String(),
  energyKwh: Type.Number(),
  energyCost: Type.Number({ description: 'Σ energy × period price' }),
  demandCharge: Type.Number({
    description: 'two-part accounts: Σ basic charges of the months the range covers whole (a partial month: months[].impliedDemandCharge, not counted)',
  }),
  pfAdjustment: Type.Number({ description: '力调 of the months the range covers whole, where the meters have a kvarh counter' }),
  totalCost: Type.Number(),
  warnings: Type.Array(Type.String(), { description: 'stale tariff versions, sites priced without supply accounts' }),
  rows: Type.Array(
    Type.Object({
      scope: Type.String(),
      tariff: Type.String({ description: 'tariff id' }),
      version: Type.String({ description: 'tariff version that priced the energy' }),
      ...BucketCols,
      period: Type.String({
        description: 'TOU period, demand_charge (a billed month of a two-part account) or pf_adjustment (力调); the last two at month and total granularity',
      }),
      energyKwh: Type.Number(),
      pricePerKwh: N(Type.Number({ description: 'price of the period, currency/kWh' })),
      cost: Type.Number(),
      demandKw: N(Type.Number({ description: "demand_charge rows: the month's maximum 15-minute demand, kW" })),
      account: N(Type.String({ description: 'supply account enterprise/site/account; null for a line or device scope (energy only)' })),
    }),
  ),
  months: Type.Array(
    Type.Object({
      tariff: Type.String(),
      account: N(Type.String()),
      month: Type.String({ description: "local month 'YYYY-MM' of the tariff's zone" }),
      version: Type.String(),
      energyKwh: Type.Number(),
      energyCost: Type.Number(),
      maxDemandKw: N(Type.Number()),
      maxDemandAt: N(Type.Integer({ description: 'start of the maximum 15-minute window, epoch ms' })),
      demandCharge: N(Type.Number({ description: 'in the totals: only when demandStatus is billed' })),
      impliedDemandCharge: N(Type.Number({ description: 'the charge the (to-date) maximum implies' })),
      demandStatus: N(StringEnum(['billed', 'to-date', 'partial-range'] as const)),
      demandBasis: N(Type.String({ description: 'basis, quantity, price, factor, version, window' })),
      demandRules: Type.Array(Type.Object({ rule: Type.String(), text: Type.String() })),
      powerFactor: N(Type.Number({ description: 'kWh / √(kWh² + kvarh²) of the month, rounded to 0.01' })),
      pfStandard: N(Type.Number()),
      pfPercent: N(Type.Number({ description: '力调 %, 功率因数调整电费办法' })),
      pfAdjustment: N(Type.Number()),
      totalCost: Type.Number(),
    }),
  ),
  tariffs: Type.Array(
    Type.Object({
      id: Type.String(),
      region: Type.String(),
      chosenBy: StringEnum(['site', 'region-default', 'configured', 'by-kva-and-voltage'] as const, {
        description: "site.tariff; the enterprise region's single-part tariff; an account's configured tariff; or by its kVA (two-part ≥ 315) and voltage",
      }),
      account: N(Type.String({ description: 'the supply account priced (null: lines of a line or device scope)' })),
      accountOrigin: N(StringEnum(['configured', 'implicit-lines'] as const)),
      reason: Type.String(),
      lines: Type.Array(Type.String({ description: 'lines, or the meters of a configured account' })),
      currency: Type.String(),
      versions: Type.Array(VersionSchema),
    }),
  ),
  missing: Missing,
})

const GridFactorSchema = Type.Object({
  region: Type.String(),
  year: Type.Integer(),
  kgCo2PerKwh: Type.Number(),
  source: Type.String(),
  verified: Type.Boolean({ description: 'false: the value could not be traced to its publication' }),
  note: Type.Optional(Type.String()),
  requested: Type.Object({ region: Type.String(), year: Type.Integer() }, { description: 'what was asked for: the factor may be older or of a wider region' }),
  fellBackFrom: Type.Array(Type.String()),
})
const CoalSchema = Type.Object({ carrier: Type.String(), unit: Type.String(), kgcePerUnit: Type.Number(), tableVersion: Type.String(), source: Type.String() })

const CarbonResponse = Type.Object({
  ...Head,
  granularity: GRANULARITY,
  energyKwh: Type.Number(),
  kgCo2: Type.Number({ description: 'kWh × grid emission factor of the region and year' }),
  kgce: Type.Number({ description: 'kWh × GB/T 2589 electricity coefficient' }),
  rows: Type.Array(
    Type.Object({
      scope: Type.String(),
      ...BucketCols,
      energyKwh: Type.Number(),
      coverage: Coverage,
      kgCo2: Type.Number(),
      factorRegion: N(Type.String({ description: 'region of the grid factor used' })),
      factorYear: N(Type.Integer({ description: 'year of the grid factor used' })),
      kgCo2PerKwh: N(Type.Number()),
      factorVerified: N(Type.Boolean()),
      kgce: Type.Number(),
    }),
  ),
  factors: Type.Array(GridFactorSchema, { description: 'every grid factor used, with its source' }),
  coal: CoalSchema,
  missing: Missing,
})

const DemandResponse = Type.Object({
  ...Head,
  granularity: Type.String(),
  contractedDemandKw: N(Type.Number({ description: 'site.contractedDemandKw when the scope lies within one site' })),
  maxDemandKw: Type.Number(),
  maxAt: N(Type.Integer()),
  rows: Type.Array(
    Type.Object({
      scope: Type.String(),
      ...BucketCols,
      maxDemandKw: Type.Number({ description: 'highest 15-minute demand (energy of the quarter / 0.25 h) in the bucket, kW' }),
      maxAt: Type.Integer({ description: 'start of that window, epoch ms' }),
      energyKwh: Type.Number(),
      coverage: Coverage,
      contractedDemandKw: N(Type.Number()),
      contractRatio: N(Type.Number()),
      overContract: N(Type.Boolean()),
    }),
  ),
  months: Type.Array(
    Type.Object({
      month: Type.String(),
      maxDemandKw: Type.Number(),
      maxAt: Type.Integer(),
      coverage: Coverage,
      contractedDemandKw: N(Type.Number()),
      overContract: N(Type.Boolean()),
    }),
  ),
  accounts: Type.Array(
    Type.Object({
      account: Type.String({ description: 'supply account enterprise/site/account' }),
      origin: StringEnum(['configured', 'implicit-lines'] as const),
      month: Type.String(),
      maxDemandKw: Type.Number({ description: "the account's own meters' maximum fixed 15-minute window, kW (GET /bill: the sliding figure)" }),
      maxAt: Type.Integer(),
      contractedDemandKw: N(Type.Number()),
      contractRatio: N(Type.Number()),
      over105: N(Type.Boolean({ description: 'above 105 % of the contract: the part above it is charged double' })),
    }),
    { description: 'enterprise and site scopes: each supply account on its own maximum, never pooled' },
  ),
  missing: Missing,
})

const GRADES = StringEnum(['benchmark', 'compliant', 'below_baseline'] as const, { description: '≤ 标杆 benchmark, ≤ 基准 compliant, else below_baseline' })
const SecRowSchema = Type.Object({
  line: Type.String(),
  product: Type.String(),
  unit: Type.String(),
  ...BucketCols,
  energyKwh: Type.Number(),
  output: Type.Number(),
  coverage: Coverage,
  secKwhPerUnit: N(Type.Number({ description: 'kWh per unit of output' })),
  secKgcePerT: N(Type.Number({ description: 'comprehensive energy per tonne over every carrier metered or entered (GB/T 2589-2020)' })),
  benchmarkProduct: N(Type.String()),
  benchmarkUnit: N(Type.String()),
  value: N(Type.Number({ description: "SEC in the benchmark's unit (kWh/unit without a benchmark)" })),
  grade: N(GRADES),
  basis: N(Type.Enum(['ndrc', 'gb'], { description: 'ndrc: graded on NDRC 标杆/基准; gb: on GB level 1 / level 3 where the product has no NDRC levels' })),
  benchmark: N(Type.Number({ description: '标杆 (or GB level 1)' })),
  baseline: N(Type.Number({ description: '基准 (or GB level 3)' })),
  gapToBenchmarkPct: N(Type.Number({ description: '(value − benchmark) / |benchmark| × 100; positive = worse' })),
  gapToBaselinePct: N(Type.Number()),
  gbLevel: N(Type.String({ description: 'best GB level met: 1, 2, 3 or none' })),
  unverified: N(Type.Boolean()),
  note: N(Type.String()),
  ...SecGradeCols,
})
const SecSources = Type.Object(
  { benchmarks: Type.Record(Type.String(), Type.String()), coal: Type.String(), benchmarkVersion: Type.String() },
  { description: 'the benchmark source per graded product, and the coal table (version: source)' },
)
const SecResponse = Type.Object({
  ...Head,
  granularity: GRANULARITY,
  rows: Type.Array(SecRowSchema),
  sources: SecSources,
})

const MonthlyResponse = Type.Object({
  ...Head,
  currency: Type.String(),
  totals: Type.Object({ energyKwh: Type.Number(), coverage: Coverage, totalCost: Type.Number(), kgCo2: Type.Number(), kgce: Type.Number() }),
  rows: Type.Array(
    Type.Object({
      scope: Type.String(),
      month: Type.String(),
      start: Type.Integer(),
      end: Type.Integer(),
      energyKwh: Type.Number(),
      coverage: Coverage,
      energyCost: Type.Number(),
      demandCharge: Type.Number(),
      totalCost: Type.Number(),
      kgCo2: Type.Number(),
      kgce: Type.Number(),
      output: N(Type.Number({ description: 'when the scope holds one line with a product' })),
      secKwhPerUnit: N(Type.Number()),
      secValue: N(Type.Number()),
      grade: N(GRADES),
    }),
  ),
  sec: Type.Array(SecRowSchema),
  secSources: SecSources,
  tariffs: CostResponse.properties.tariffs,
  factors: Type.Array(GridFactorSchema),
  coal: CoalSchema,
  missing: Missing,
})

const TariffCheckResponse = Type.Object({
  valid: Type.Boolean(),
  tariff: Type.String(),
  rows: Type.Array(
    Type.Object({
      version: Type.String(),
      effectiveFrom: Type.String(),
      kind: Type.String(),
      season: Type.String(),
      months: Type.String({ description: 'months of the season, e.g. 1,2,3' }),
      period: Type.String(),
      from: Type.String(),
      to: Type.String(),
      pricePerKwh: N(Type.Number()),
    }),
    { description: 'the schedule as understood: one row per span' },
  ),
})

interface Asked {
  scope: Scope
  lines: ScopeLine[]
  range: TimeRange
}

/**
 * Scope, tenant and range checks shared by every report. An enterprise outside the caller's scope
 * gets exactly the answer of an unknown one (REPORTS_ERR_SCOPE, 404).
 */
function asked(ctx: ApiContext, req: FastifyRequest, q: { scope: string; start: string; stop: string }): Asked {
  const scope = parseScope(q.scope)
  if (!canSeeEnterprise(req.principal, scope.enterprise)) {
    throw reportError('REPORTS_ERR_SCOPE', `no ${scopeLevel(scope)} ${JSON.stringify(formatScope(scope))} in the plant model`)
  }
  const lines = linesOf(ctx.model, scope)
  const timezone = scopeTimezone(ctx.model, lines)
  const { start, stop } = parseRange(q.start, q.stop, timezone, { maxDays: ctx.config.maxRangeDays })
  return { scope, lines, range: { start, end: stop } }
}

function checkRows(ctx: ApiContext, n: number, what: string): void {
  if (n > ctx.config.maxPoints) {
    throw apiError('API_ERR_RANGE_TOO_LARGE', `${what}: ${n} rows; at most ${ctx.config.maxPoints}: use a coarser granularity or a shorter range`, {
      rows: n,
      maxPoints: ctx.config.maxPoints,
    })
  }
}

/** What every report reads (api/report-deps.ts). Closed quarter hours are read from the counter roll-up (reports/counter-rollup.ts), filled on demand. */
const reportDeps = reportDepsOf
const config = { permission: 'reports' as const }
const tags = ['reports']
const g = (q: { granularity?: ReportGranularity }): ReportGranularity => q.granularity ?? 'day'

/** GET /energy and /production. */
const energyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const deps = () => reportDeps(ctx)

  app.get(
    '/energy',
    {
      config,
      schema: {
        summary: 'Energy of a scope per bucket, from the meters’ energy counters',
        tags,
        querystring: ReportQuery,
        response: { 200: EnergyResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      const r = await energyReport(deps(), a.scope, a.range, g(req.query))
      return {
        scope: r.scope,
        level: r.level,
        timezone: r.timezone,
        granularity: r.granularity,
        start: r.start,
        end: r.end,
        energyKwh: r.energyKwh,
        coverage: r.coverage,
        missing: r.missing,
        rows: r.rows,
      }
    },
  )

  app.get(
    '/production',
    {
      config,
      schema: {
        summary: 'Output per bucket of every line with a product',
        tags,
        querystring: ReportQuery,
        response: { 200: ProductionResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      const r = await productionReport(deps(), a.scope, a.range, g(req.query))
      return { scope: formatScope(a.scope), timezone: r.timezone, rows: r.rows }
    },
  )
}

/** GET /cost, /carbon and /demand. */
const costRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const deps = () => reportDeps(ctx)

  app.get(
    '/cost',
    {
      config,
      schema: {
        summary: 'Time-of-use cost per bucket and period (two-part tariffs: demand charge per month)',
        tags,
        querystring: ReportQuery,
        response: { 200: CostResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      return costReport(deps(), a.scope, a.range, g(req.query))
    },
  )

  app.get(
    '/carbon',
    {
      config,
      schema: {
        summary: 'CO2 (grid emission factor by region and year) and kgce (GB/T 2589) per bucket',
        tags,
        querystring: ReportQuery,
        response: { 200: CarbonResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      return carbonReport(deps(), a.scope, a.range, g(req.query))
    },
  )

  app.get(
    '/demand',
    {
      config,
      schema: {
        summary: '15-minute demand: the windows, or the maximum per bucket and month against the contracted demand',
        tags,
        querystring: DemandQuery,
        response: { 200: DemandResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      const granularity: DemandGranularity = req.query.granularity ?? 'day'
      if (granularity === '15m') checkRows(ctx, Math.ceil((a.range.end - a.range.start) / 900_000), 'granularity 15m')
      return demandReport(deps(), a.scope, a.range, granularity)
    },
  )
}

/** GET /sec and /report/monthly. */
const secRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const deps = () => reportDeps(ctx)

  app.get(
    '/sec',
    {
      config,
      schema: {
        summary: 'Specific energy consumption per line with a product, graded against its benchmark',
        tags,
        querystring: ReportQuery,
        response: { 200: SecResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      return secReport(deps(), a.scope, a.range, g(req.query))
    },
  )

  app.get(
    '/report/monthly',
    {
      config,
      schema: {
        summary: 'Energy, cost, CO2 and SEC per month of a scope in one answer',
        tags,
        querystring: MonthlyQuery,
        response: { 200: MonthlyResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const a = asked(ctx, req, req.query)
      return monthlyReport(deps(), a.scope, a.range)
    },
  )
}

/** POST /tariffs/check. */
const tariffRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app) => {
  app.post(
    '/tariffs/check',
    {
      config,
      schema: {
        summary:
          'Validates a tariff: overlapping or missing hours, months in no or two seasons, unpriced periods (400 ANALYTICS_ERR_TARIFF, details list each with its range)',
        tags,
        body: TariffSchema,
        response: { 200: TariffCheckResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const tariff = req.body
      validateTariff(tariff)
      const rows = tariff.versions.flatMap((v) =>
        v.seasons.flatMap((s) =>
          s.spans.map((span) => ({
            version: v.id,
            effectiveFrom: v.effectiveFrom,
            kind: v.kind,
            season: s.name,
            months: s.months.join(','),
            period: span.period,
            from: span.from,
            to: span.to,
            pricePerKwh: v.pricesPerKwh[span.period] ?? null,
          })),
        ),
      )
      return { valid: true, tariff: tariff.id, rows }
    },
  )
}

export const reportRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, opts) => {
  await energyRoutes(app, opts)
  await costRoutes(app, opts)
  await secRoutes(app, opts)
  await tariffRoutes(app, opts)
}
