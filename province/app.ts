/**
 * The province service's HTTP API as a Fastify instance, not listening (`startProvince` listens):
 * the upload endpoint, the commission view (overview, cities, enterprises, quality, drill-down; CSV and XLSX),
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
import { toXlsx, XLSX_TYPE, type XlsxTable } from './xlsx.ts'
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
const FormatQuery = Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('xlsx')], {
  description: 'json (default); csv = the table as CSV (UTF-8 with BOM); xlsx = the same table as a workbook sheet, its basis lines first',
})
const MonthQuery = Type.Object(
  {
    month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'YYYY-MM in the province zone; default the previous month' })),
    format: Type.Optional(FormatQuery),
  },
  { additionalProperties: false },
)
/** What the read routes answer: JSON, or a table as CSV or XLSX (OpenAPI `produces`). */
const PRODUCES = ['application/json', 'text/csv', XLSX_TYPE]
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

type CachedFigures = { list: EnterpriseFigures[]; overview: ProvinceOverview & { asOf: number } }
type ExportKind = 'csv' | 'xlsx'

/** What the commission's read routes share. */
interface ViewContext {
  opts: ProvinceAppOptions
  now: () => number
  cache: FiguresCache
  monthOf: (req: FastifyRequest) => MonthRange
  /** `format=csv` or `format=xlsx`; undefined for JSON. */
  exportOf: (req: FastifyRequest) => ExportKind | undefined
  /** CSV: the first table's rows; XLSX: every table, one sheet each (the first the same table as the CSV). */
  send: (reply: FastifyReply, kind: ExportKind, name: string, tables: readonly XlsxTable[]) => Promise<FastifyReply>
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** The basis lines every exported sheet opens with: province, period and zone, the format the figures come from, when computed, and the rules. */
function basisLines(config: Readonly<ProvinceConfig>, range: MonthRange, extra: Readonly<Record<string, string>>): Record<string, string> {
  return {
    province: config.name,
    period: `${range.month}: ${iso(range.start)} – ${iso(range.end)} (${range.timezone})`,
    format: `computed from uploaded records in ${MESSAGE_FORMAT} (PlantWatt's own upload message, version 1; no standard's format is claimed)`,
    ...extra,
  }
}

const sheetsOf =
  (config: Readonly<ProvinceConfig>, range: MonthRange, basis: Record<string, string>) =>
  (sheet: string, title: string, rows: readonly object[]): XlsxTable => ({ sheet, title: `${config.name} · ${title} · ${range.month}`, basis, rows })

const behindRows = (o: ProvinceOverview): object[] => o.behind.map((b) => ({ ...b, reasons: b.reasons.join('; ') }))

/** Quality per enterprise, flat (the XLSX sheet `quality`). */
function qualityRows(list: readonly EnterpriseFigures[]): object[] {
  return list.map((e) => ({
    id: e.id,
    name: e.name,
    city: e.city,
    lastUploadAt: e.lastUploadAt,
    expected: e.quality.expected,
    received: e.quality.received,
    late: e.quality.late,
    completeness: e.quality.completeness,
    timeliness: e.quality.timeliness,
    consistency: e.quality.consistency.map((c) => `${c.carrier}: ${c.deviationPct === null ? '—' : `${c.deviationPct} %`} (${c.days} days)`).join('; '),
    missingDays: e.quality.missingDays,
    missingMonthly: e.quality.missingMonthly,
    behind: e.quality.behind.join('; '),
  }))
}

/** The commission's headline figures, one per row with its unit and basis (the XLSX sheet `overview`). */
function summaryRows(o: ProvinceOverview): object[] {
  const t = o.totals
  const p = o.progress
  const row = (figure: string, value: number | null, unit: string, basis: string) => ({ figure, value, unit, basis })
  return [
    row(
      'recognised smart factories and digital workshops',
      p.recognised.total,
      'count',
      'declared recognitions (document number and date); a digital workshop counts per workshop',
    ),
    row('target', p.target, 'count', 'target.smartFactoriesAndWorkshops'),
    row('progress to the target', p.recognised.progressPct, '%', 'recognised / target × 100'),
    row('smart factories (recognised)', p.recognised.smartFactories, 'count', 'declared recognitions'),
    row('digital workshops (recognised)', p.recognised.digitalWorkshops, 'count', 'declared recognitions, per workshop'),
    row(`self-assessment: ${p.selfAssessment.label}`, p.selfAssessment.enterprises, 'enterprises', p.selfAssessment.rule),
    row('key-process NC rate', t.ncRate, 'share 0..1', `${o.basis.ncRate ?? ''}; target ${o.nc.targetPct} %: ${o.nc.scope}`),
    row('key-device networking rate', t.networkingRate, 'share 0..1', o.basis.networkingRate ?? ''),
    row('comprehensive energy', t.comprehensiveEnergyTce, 'tce', o.basis.comprehensiveEnergy ?? ''),
    row('enterprises without monthly comprehensive energy', t.comprehensiveEnergyMissing, 'enterprises', 'not in the sum'),
    row('completeness', t.completeness, 'share 0..1', o.basis.completeness ?? ''),
    row('timeliness', t.timeliness, 'share 0..1', o.basis.timeliness ?? ''),
    row('late 15-minute records', t.late, 'records', o.basis.timeliness ?? ''),
    row('missing records', t.missing, 'records', '15-minute boundary records not received + missing daily + missing monthly records'),
    row('enterprises behind', t.behind, 'enterprises', 'failing any data-quality rule (sheet behind)'),
    row('enterprises', t.enterprises, 'enterprises', 'registered'),
  ]
}

/** The whole commission view of a month as a workbook: overview, rankings, cities, products, enterprises, quality, behind. */
function overviewTables(config: Readonly<ProvinceConfig>, range: MonthRange, f: CachedFigures): XlsxTable[] {
  const o = f.overview
  const sheet = sheetsOf(config, range, basisLines(config, range, { asOf: iso(o.asOf), ...o.basis }))
  return [
    sheet('overview', 'overview', summaryRows(o)),
    sheet('rank-energy', 'ranking by comprehensive energy (tce)', o.rankings.byComprehensiveEnergy),
    sheet('rank-completeness', 'ranking by completeness', o.rankings.byCompleteness),
    sheet('cities', 'city roll-ups', o.cities),
    sheet('products', 'efficiency levels per product (uploaded grades)', o.products),
    sheet('enterprises', 'enterprises', enterpriseRows(f.list)),
    sheet('quality', 'data quality per enterprise', qualityRows(f.list)),
    sheet('behind', 'who is behind', behindRows(o)),
  ]
}

/** One month view of the commission: its OpenAPI words, the JSON answer, and what an export holds. */
interface MonthView {
  summary: string
  description?: string
  /** What the JSON answer is (OpenAPI). */
  shape: string
  json(f: CachedFigures, range: MonthRange): unknown
  /** The export's file name and sheets of the month's workbook (a CSV is the first); 'all': the whole workbook. */
  file(kind: ExportKind, month: string): { name: string; sheets: readonly string[] | 'all' }
}

/** GET <prefix>/<path>?month=&format= for a month view: JSON, or the chosen sheets of the month's workbook as CSV or XLSX. */
function monthRoute(app: FastifyInstance, c: ViewContext, path: string, v: MonthView): void {
  const { opts, now, cache, monthOf, exportOf, send } = c
  app.get(
    `${PROVINCE_PREFIX}/${path}`,
    {
      schema: {
        summary: v.summary,
        ...(v.description ? { description: v.description } : {}),
        querystring: MonthQuery,
        produces: PRODUCES,
        response: { 200: Open(v.shape), ...ERRORS },
      },
    },
    async (req, reply) => {
      const range = monthOf(req)
      const f = cache.get(range, now())
      const kind = exportOf(req)
      if (!kind) return v.json(f, range)
      const { name, sheets } = v.file(kind, range.month)
      const tables = overviewTables(opts.config, range, f)
      return send(reply, kind, name, sheets === 'all' ? tables : sheets.map((s) => tables.find((t) => t.sheet === s) as XlsxTable))
    },
  )
}

/** The commission's read routes, computed from uploads only: overview, cities, enterprises, quality, drill-down (JSON, CSV or XLSX). */
function viewRoutes(app: FastifyInstance, c: ViewContext): void {
  monthRoute(app, c, 'overview', {
    summary: 'the commission overview of a month',
    description:
      'format=csv: the city roll-ups; format=xlsx: the whole view as a workbook (overview, rankings, cities, products, enterprises, quality, behind)',
    shape: 'ProvinceOverview (province/rollup.ts)',
    json: (f) => f.overview,
    file: (kind, month) => (kind === 'csv' ? { name: `cities-${month}`, sheets: ['cities'] } : { name: `province-${month}`, sheets: 'all' }),
  })
  monthRoute(app, c, 'cities', {
    summary: 'city roll-ups of a month',
    shape: '{ period, basis, cities[] }',
    json: (f) => ({ period: f.overview.period, basis: f.overview.basis, cities: f.overview.cities }),
    file: (_kind, month) => ({ name: `cities-${month}`, sheets: ['cities'] }),
  })
  monthRoute(app, c, 'enterprises', {
    summary: 'every enterprise with its figures and data quality',
    shape: '{ period, enterprises[] }',
    json: (f, range) => ({ period: range, enterprises: f.list }),
    file: (_kind, month) => ({ name: `enterprises-${month}`, sheets: ['enterprises'] }),
  })
  monthRoute(app, c, 'quality', {
    summary: 'data-quality indices per enterprise and city, and who is behind',
    description: 'format=csv: who is behind; format=xlsx: who is behind, then quality per enterprise',
    shape: '{ period, basis, cities[], enterprises[], behind[] }',
    json: ({ list, overview }, range) => ({
      period: range,
      basis: overview.basis,
      cities: overview.cities.map((city) => ({
        city: city.city,
        completeness: city.completeness,
        timeliness: city.timeliness,
        late: city.late,
        missing: city.missing,
        behind: city.behind,
      })),
      enterprises: list.map((e) => ({ id: e.id, name: e.name, city: e.city, lastUploadAt: e.lastUploadAt, ...e.quality })),
      behind: overview.behind,
    }),
    file: (_kind, month) => ({ name: `behind-${month}`, sheets: ['behind', 'quality'] }),
  })
  drillDownRoute(app, c)
}

/** Drill-down: an enterprise's uploaded indicators of a month, the newest revision of each (JSON, CSV or XLSX). */
function drillDownRoute(app: FastifyInstance, c: ViewContext): void {
  const { opts, monthOf, exportOf, send } = c
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
            format: Type.Optional(FormatQuery),
          },
          { additionalProperties: false },
        ),
        produces: PRODUCES,
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
      const kind = exportOf(req)
      if (kind) {
        const basis = basisLines(opts.config, range, {
          enterprise: `${e.id} ${e.name} (${e.city})`,
          filter: `indicator ${q.indicator ?? 'any'}, period ${q.period ?? 'any'}`,
          source: "the newest revision of each uploaded record; each row's own basis (report, standard, factor) in its basis column",
        })
        return send(reply, kind, `${id}-${range.month}`, [sheetsOf(opts.config, range, basis)('indicators', `${e.name} · indicators`, records)])
      }
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
  const exportOf = (req: FastifyRequest): ExportKind | undefined => {
    const f = (req.query as { format?: string }).format
    return f === 'csv' || f === 'xlsx' ? f : undefined
  }
  const send = async (reply: FastifyReply, kind: ExportKind, name: string, tables: readonly XlsxTable[]): Promise<FastifyReply> => {
    const file = (type: string) => reply.type(type).header('content-disposition', `attachment; filename="${name}.${kind}"`)
    if (kind === 'csv') return file('text/csv; charset=utf-8').send(toCsv(tables[0]?.rows ?? []))
    return file(XLSX_TYPE).send(await toXlsx(tables))
  }

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
  viewRoutes(app, { opts, now, cache, monthOf, exportOf, send })
  app.get('/health', async () => ({ status: 'ok', enterprises: opts.registry.size, ...opts.store.counts() }))
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'").send(PAGE_HTML),
  )
  app.get('/app.js', { schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(PAGE_SCRIPT))
  await app.ready()
  return app
}
