import { reportDepsOf } from '../report-deps.ts'
import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MINUTE_MS } from '../../core/duration.ts'
import { billOfAccount } from '../../reports/bill.ts'
import { reportError } from '../../reports/errors.ts'
import type { RouteOptions } from '../context.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import { canSeeEnterprise } from '../principal.ts'
import { StringEnum } from '../schemas.ts'

/**
 * GET /bill: the bill check of one supply account (户号) for one month (reports/bill.ts) — what the
 * utility's bill should say, line by line, next to the meter readings it came from; `rows` is the
 * table (`?format=csv`). Permission `reports`; an account of an enterprise outside the caller's
 * scope answers 404 like an unknown one.
 */

const N = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

const BillQuery = Type.Object(
  {
    account: Type.String({
      minLength: 5,
      maxLength: 300,
      pattern: '^[^/]+/[^/]+/[^/]+$',
      description: 'enterprise/site/account (implicit for a site without accounts)',
    }),
    month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: "local month 'YYYY-MM' in the site's zone" }),
    periodMin: Type.Optional(Type.Integer({ minimum: 1, maximum: 60, default: 15, description: 'demand period (需量周期), minutes; default 15' })),
    slipMin: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 60, default: 1, description: 'demand slip (滑差时间), minutes; must divide the period; default 1' }),
    ),
  },
  { additionalProperties: false },
)

const Peak = N(
  Type.Object({
    demandKw: Type.Number(),
    start: Type.Integer({ description: 'window start, epoch ms' }),
    end: Type.Integer(),
    coverage: Type.Number({ description: 'share of the window covered by data, 0..1' }),
  }),
)

const BillResponse = Type.Object({
  account: Type.String(),
  accountName: Type.String(),
  accountOrigin: StringEnum(['configured', 'implicit-lines'] as const, {
    description: "implicit-lines: the site has no accounts, billed as its lines' meters",
  }),
  month: Type.String(),
  timezone: Type.String(),
  start: Type.Integer(),
  end: Type.Integer({ description: "end of what is billed: the month's end, or now for the running month" }),
  status: StringEnum(['complete', 'to-date'] as const, { description: 'to-date: the running month; the basic charge is the one implied by demand to date' }),
  currency: Type.String(),
  tariff: Type.Object({
    id: Type.String(),
    version: Type.String(),
    effectiveFrom: Type.String(),
    pricing: StringEnum(['single-part', 'two-part'] as const),
    chosenBy: StringEnum(['configured', 'by-kva-and-voltage', 'region-default'] as const),
    reason: Type.String(),
    source: Type.String({ description: 'the notice or price table of the version' }),
  }),
  energyKwh: Type.Number(),
  energyCost: Type.Number({ description: 'Σ energy × period price' }),
  periods: Type.Array(Type.Object({ period: Type.String(), energyKwh: Type.Number(), pricePerKwh: Type.Number(), cost: Type.Number() })),
  demand: Type.Object({
    periodMs: Type.Integer(),
    slipMs: Type.Integer(),
    sliding: Peak,
    fixed: Peak,
    basis: Type.String(),
  }),
  basicCharge: N(
    Type.Object({
      basis: StringEnum(['capacity', 'contracted-demand', 'actual-demand'] as const),
      billedQuantity: Type.Number(),
      unit: StringEnum(['kW', 'kVA'] as const),
      pricePerUnitMonth: Type.Number(),
      priceFactor: Type.Number({ description: '0.9 at ≥ 260 kWh/kVA on a demand basis (发改价格〔2023〕526号), else 1' }),
      charge: Type.Number(),
      contractedKw: N(Type.Number()),
      kwhPerKva: N(Type.Number()),
      rules: Type.Array(Type.Object({ rule: Type.String(), text: Type.String() })),
      basisText: Type.String(),
    }),
  ),
  powerFactor: N(
    Type.Object({
      activeKwh: Type.Number(),
      reactiveKvarh: Type.Number(),
      powerFactor: Type.Number({ description: 'kWh / √(kWh² + kvarh²) of the month' }),
      powerFactorRounded: Type.Number(),
      standard: Type.Number(),
      percent: Type.Number({ description: '力调 adjustment, % (功率因数调整电费办法)' }),
      baseCharge: Type.Number(),
      adjustment: Type.Number(),
      reactiveSource: Type.String(),
    }),
  ),
  totalCost: Type.Number(),
  coverage: Type.Number(),
  rows: Type.Array(
    Type.Object({
      section: StringEnum(['energy', 'basic-charge', 'power-factor', 'total', 'reading'] as const),
      item: Type.String(),
      quantity: N(Type.Number()),
      unit: Type.String(),
      price: N(Type.Number()),
      amount: N(Type.Number()),
      basis: Type.String(),
    }),
  ),
  readings: Type.Array(
    Type.Object({
      meter: Type.String(),
      quantity: Type.String(),
      startTs: N(Type.Integer()),
      startValue: N(Type.Number()),
      endTs: N(Type.Integer()),
      endValue: N(Type.Number()),
      amount: Type.Number(),
      unit: Type.String(),
    }),
  ),
  warnings: Type.Array(Type.String()),
})

export const billRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  app.get(
    '/bill',
    {
      config: { permission: 'reports', csvName: 'bill' },
      schema: {
        summary: "Bill check of a supply account for a month: energy by TOU period, basic charge, 力调, total, and the meters' readings",
        tags: ['reports'],
        querystring: BillQuery,
        response: { 200: BillResponse, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const q = req.query
      const enterprise = q.account.split('/')[0] ?? ''
      if (!canSeeEnterprise(req.principal, enterprise))
        throw reportError('REPORTS_ERR_SCOPE', `no supply account ${JSON.stringify(q.account)} in the plant model`)
      return billOfAccount(reportDepsOf(ctx), q.account, q.month, {
        ...(q.periodMin !== undefined ? { periodMs: q.periodMin * MINUTE_MS } : {}),
        ...(q.slipMin !== undefined ? { slipMs: q.slipMin * MINUTE_MS } : {}),
      })
    },
  )
}
