/**
 * The province service's HTTP API as a Fastify instance, not listening (`startProvince` listens):
 * the upload endpoint, the commission view (overview, cities, enterprises, quality, drill-down, CSV),
 * OpenAPI at /docs/json and the web page at /.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import swagger from '@fastify/swagger'
import Type from 'typebox'
import { PlantWattError } from '../core/errors.ts'
import type { ProvinceConfig } from './config.ts'
import { toErrorReply } from './errors.ts'
import { MAX_UPLOAD_BYTES, MESSAGE_FORMAT, ReceiptSchema, UploadBodySchema, type UploadAdapter } from './message.ts'
import { enterpriseFigures, monthRange, type EnterpriseFigures, type MonthRange } from './overview.ts'
import type { EnterpriseRegistry } from './registry.ts'
import { receiveUpload } from './receive.ts'
import { provinceOverview, type ProvinceOverview } from './rollup.ts'
import { HEADERS, SIGNATURE_SCHEME } from './signing.ts'
import type { ProvinceStore } from './store.ts'
import { enterpriseRows, toCsv } from './csv.ts'
import { PAGE_HTML, PAGE_SCRIPT } from './web.ts'

export const PROVINCE_PREFIX = '/api/v1'
export const UPLOAD_PATH = `${PROVINCE_PREFIX}/uploads`

export interface ProvinceAppOptions {
  config: Readonly<ProvinceConfig>
  store: ProvinceStore
  registry: EnterpriseRegistry
  now?: () => number
  adapter?: UploadAdapter
  logger?: boolean
  /** Server certificate and key (PEM): the API speaks HTTPS. */
  https?: { cert: Buffer; key: Buffer }
}

const ErrorSchema = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) }) })
const ERRORS = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema }
const MonthQuery = Type.Object(
  {
    month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'YYYY-MM in the province zone; default the previous month' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
)
const Open = (description: string) => Type.Object({}, { additionalProperties: true, description })

/**
 * Caches the figures of a month. With uploads arriving all the time (a province of 10,000 units sends
 * about 11 a second) a cache keyed on the store version would never hit: an answer is reused while it
 * is under 10 s old, or under 60 s old when nothing new was stored; `asOf` says when it was computed.
 */
class FiguresCache {
  #month = ''
  #version = -1
  #at = 0
  #value: { list: EnterpriseFigures[]; overview: ProvinceOverview & { asOf: number } } | undefined
  constructor(private readonly opts: ProvinceAppOptions) {}
  get(range: MonthRange, now: number): { list: EnterpriseFigures[]; overview: ProvinceOverview & { asOf: number } } {
    const wall = Date.now()
    const age = wall - this.#at
    const version = this.opts.store.version
    const fresh = this.#value && this.#month === range.month && age < 60_000 && (version === this.#version || age < 10_000)
    if (!fresh || !this.#value) {
      const list = enterpriseFigures(this.opts.store, this.opts.registry, this.opts.config, range, now)
      this.#value = { list, overview: { ...provinceOverview(this.opts.config, range, list), asOf: wall } }
      this.#month = range.month
      this.#version = version
      this.#at = wall
    }
    return this.#value
  }
}

/** What the commission's read routes share. */
interface ViewContext {
  opts: ProvinceAppOptions
  now: () => number
  cache: FiguresCache
  monthOf: (req: FastifyRequest) => MonthRange
  wantsCsv: (req: FastifyRequest) => boolean
  csv: (reply: FastifyReply, name: string, rows: readonly object[]) => FastifyReply
}

/** The commission's read routes, computed from uploads only: overview, cities, enterprises, quality, drill-down (JSON or CSV). */
function viewRoutes(app: FastifyInstance, c: ViewContext): void {
  const { opts, now, cache, monthOf, wantsCsv, csv } = c
  app.get(
    `${PROVINCE_PREFIX}/overview`,
    {
      schema: {
        summary: 'the commission overview of a month',
        querystring: MonthQuery,
        response: { 200: Open('ProvinceOverview (province/rollup.ts)'), ...ERRORS },
      },
    },
    async (req, reply) => {
      const { overview } = cache.get(monthOf(req), now())
      return wantsCsv(req) ? csv(reply, `cities-${overview.period.month}`, overview.cities) : overview
    },
  )
  app.get(
    `${PROVINCE_PREFIX}/cities`,
    { schema: { summary: 'city roll-ups of a month', querystring: MonthQuery, response: { 200: Open('{ period, basis, cities[] }'), ...ERRORS } } },
    async (req, reply) => {
      const { overview } = cache.get(monthOf(req), now())
      return wantsCsv(req)
        ? csv(reply, `cities-${overview.period.month}`, overview.cities)
        : { period: overview.period, basis: overview.basis, cities: overview.cities }
    },
  )
  app.get(
    `${PROVINCE_PREFIX}/enterprises`,
    {
      schema: {
        summary: 'every enterprise with its figures and data quality',
        querystring: MonthQuery,
        response: { 200: Open('{ period, enterprises[] }'), ...ERRORS },
      },
    },
    async (req, reply) => {
      const range = monthOf(req)
      const { list } = cache.get(range, now())
      return wantsCsv(req) ? csv(reply, `enterprises-${range.month}`, enterpriseRows(list)) : { period: range, enterprises: list }
    },
  )
  app.get(
    `${PROVINCE_PREFIX}/quality`,
    {
      schema: {
        summary: 'data-quality indices per enterprise and city, and who is behind',
        querystring: MonthQuery,
        response: { 200: Open('{ period, basis, cities[], enterprises[], behind[] }'), ...ERRORS },
      },
    },
    async (req, reply) => {
      const range = monthOf(req)
      const { list, overview } = cache.get(range, now())
      const enterprises = list.map((e) => ({ id: e.id, name: e.name, city: e.city, lastUploadAt: e.lastUploadAt, ...e.quality }))
      if (wantsCsv(req))
        return csv(
          reply,
          `behind-${range.month}`,
          overview.behind.map((b) => ({ ...b, reasons: b.reasons.join('; ') })),
        )
      return {
        period: range,
        basis: overview.basis,
        cities: overview.cities.map((c) => ({
          city: c.city,
          completeness: c.completeness,
          timeliness: c.timeliness,
          late: c.late,
          missing: c.missing,
          behind: c.behind,
        })),
        enterprises,
        behind: overview.behind,
      }
    },
  )
  app.get(
    `${PROVINCE_PREFIX}/enterprises/:id/indicators`,
    {
      schema: {
        summary: "drill-down: an enterprise's uploaded indicators (newest revision) of a month",
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object(
          {
            month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$' })),
            indicator: Type.Optional(Type.String()),
            period: Type.Optional(Type.String()),
            format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
          },
          { additionalProperties: false },
        ),
        response: { 200: Open('{ enterprise, period, records[] }'), ...ERRORS },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string }
      const q = req.query as { indicator?: string; period?: string }
      const e = opts.registry.get(id)
      if (!e) throw new PlantWattError('PROVINCE_ERR_NOT_FOUND', `enterprise ${id} is not registered`)
      const range = monthOf(req)
      const records = opts.store.enterpriseRecords(id, range.start, range.end, q)
      if (wantsCsv(req)) return csv(reply, `${id}-${range.month}`, records)
      return {
        enterprise: { id: e.id, name: e.name, city: e.city, industry: e.industry, keyUnitLevel: e.keyUnitLevel, recognitions: e.recognitions },
        period: range,
        records,
      }
    },
  )
}

export async function buildProvinceApp(opts: ProvinceAppOptions): Promise<FastifyInstance> {
  const now = opts.now ?? Date.now
  const cache = new FiguresCache(opts)
  const base = { logger: opts.logger ?? false, bodyLimit: MAX_UPLOAD_BYTES, ajv: { customOptions: { removeAdditional: false } } }
  // An HTTPS instance differs from a plain one only in its server type, which callers never touch.
  const app = (opts.https ? Fastify({ ...base, https: opts.https }) : Fastify(base)) as unknown as FastifyInstance
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { statusCode, body } = toErrorReply(err)
    if (statusCode >= 500) req.log.error({ err }, 'request failed')
    return reply.code(statusCode).send(body)
  })
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'PROVINCE_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } }),
  )
  // The upload body is kept as bytes: the signature covers them exactly.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'PlantWatt province service',
        version: 'v1',
        description: `Enterprises upload indicators (${MESSAGE_FORMAT}, our own format) signed with their Ed25519 key (${SIGNATURE_SCHEME}: headers ${Object.values(HEADERS).join(', ')}); the commission view is computed from uploads only. Errors are { error: { code, message, details? } }.`,
      },
    },
  })
  const monthOf = (req: FastifyRequest): MonthRange => monthRange((req.query as { month?: string }).month, now(), opts.config.timezone)
  const wantsCsv = (req: FastifyRequest): boolean => (req.query as { format?: string }).format === 'csv'
  const csv = (reply: FastifyReply, name: string, rows: readonly object[]) =>
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(toCsv(rows))

  app.post(
    UPLOAD_PATH,
    {
      schema: {
        summary: 'upload indicators (signed); answers a receipt',
        description: `Body: ${MESSAGE_FORMAT}. Stored idempotently by (enterprise, indicator, subject, carrier, period, start, revision); a retried upload answers duplicates, a replayed request (same nonce) is refused.`,
        body: UploadBodySchema,
        response: { 200: ReceiptSchema, ...ERRORS },
      },
      // The schema documents the body; receiveUpload validates it after the signature is checked.
      validatorCompiler: () => () => true,
    },
    async (req) => {
      if (!Buffer.isBuffer(req.body)) throw new PlantWattError('PROVINCE_ERR_MEDIA_TYPE', 'send the upload as application/json')
      return receiveUpload(
        { store: opts.store, registry: opts.registry, now, skewMs: opts.config.skewS * 1000, adapter: opts.adapter },
        { method: req.method, path: UPLOAD_PATH, headers: req.headers, body: req.body },
      )
    },
  )
  viewRoutes(app, { opts, now, cache, monthOf, wantsCsv, csv })
  app.get('/health', async () => ({ status: 'ok', enterprises: opts.registry.size, ...opts.store.counts() }))
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'").send(PAGE_HTML),
  )
  app.get('/app.js', { schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(PAGE_SCRIPT))
  await app.ready()
  return app
}
