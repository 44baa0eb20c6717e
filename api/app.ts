import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import helmet from '@fastify/helmet'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { DeadLetterLog } from '../core/dead-letter.ts'
import type { Logger } from '../core/logger.ts'
import type { PlantModel } from '../core/plant.ts'
import { DEFAULT_TIMEZONE } from '../core/windows.ts'
import { MemoryEventLog, type EventLog } from '../storage/events.ts'
import { counterRollup, type CounterRollup } from '../reports/counter-rollup.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { resolveApiConfig, type ApiConfig } from './config.ts'
import type { ApiContext, UploadsSource } from './context.ts'
import { formatValidationErrors, toErrorReply } from './errors.ts'
import { PlantIndex } from './plant-index.ts'
import { deadLetterRoutes } from './routes/dead-letters.ts'
import { deviceRoutes } from './routes/devices.ts'
import { healthRoutes } from './routes/health.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { liveRoutes } from './routes/live.ts'
import { quantityRoutes } from './routes/quantities.ts'
import { seriesRoutes } from './routes/series.ts'
import { webRoutes } from './routes/web.ts'
import { alertRoutes } from './routes/alerts.ts'
import { alertReplayRoutes } from './routes/alerts-replay.ts'
import { commissionRoutes } from './routes/commission.ts'
import { importRoutes } from './routes/import.ts'
import { entryRoutes } from './routes/entries.ts'
import { meterEventRoutes } from './routes/meter-events.ts'
import { reportRoutes } from './routes/reports.ts'
import { comprehensiveRoutes } from './routes/comprehensive.ts'
import { billRoutes } from './routes/bill.ts'
import { uploadRoutes } from './routes/uploads.ts'
import { efficiencyRoutes } from './routes/efficiency.ts'
import { plantRoutes } from './routes/plant.ts'
import { streamRoutes } from './routes/stream.ts'
import { installAuth } from './auth.ts'
import { REDACT_PATHS, serializeRequest } from './log-redact.ts'
import { HELMET_OPTIONS, docsCsp } from './security-headers.ts'
import { API_PREFIX } from './prefix.ts'
import { installCsv } from './csv.ts'
import { StreamHub } from './hub.ts'
import type { CommissionConfigInput } from '../reports/commission.ts'
import type { ReferenceData } from '../analytics/index.ts'

export { API_PREFIX }

export interface BuildOptions {
  store: TelemetryStore
  /** Devices, names and time zones; without it only devices seen in telemetry are known. */
  plant?: PlantModel
  /** Defaults filled for what is missing. */
  config?: Partial<ApiConfig>
  /** Counter roll-up of this process (reports/counter-rollup.ts); default: a new one. */
  rollup?: CounterRollup
  /** Event log (alerts, baseline revisions, imports); default: in memory, lost at exit. */
  events?: EventLog
  /** Where ingest sets aside bad messages; /dead-letters answers 503 without it. */
  deadLetters?: DeadLetterLog
  /** Status of the other components of this process, reported by /health. */
  status?: () => Record<string, unknown>
  /** Fastify request logging: false (default), true (Fastify's own pino), or a pino logger. */
  logger?: boolean | Logger
  /** Clock, epoch ms; default Date.now. */
  now?: () => number
  /** Where the alert service (or anything else) publishes events for the live streams; default a new one. */
  hub?: StreamHub
  /** Commission scope: target, networking window, period, ranking weights, qualification rules (reports/commission.ts); defaults filled. */
  commission?: CommissionConfigInput
  /** Reference data resolved from the config's `reference:` section (cli/reference.ts); default: as shipped. */
  reference?: ReferenceData
  /** The uploaders of this process, for GET /uploads (upload/status.ts UploadsBook). */
  uploads?: UploadsSource
  /** The configured alert rules (`alerts.rules`), which POST /alerts/replay runs; default: none (the recommended set). */
  alertRules?: readonly unknown[]
}

/**
 * The HTTP API as a Fastify instance, not listening: tests call `inject()`, `startApi` listens.
 * One plugin per area under /api/v1; OpenAPI at /docs (JSON at /docs/json); the live page at /.
 */
export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const config = resolveApiConfig(opts.config)
  const ctx: ApiContext = {
    store: opts.store,
    plant: new PlantIndex(opts.plant),
    model: opts.plant ?? { timezone: DEFAULT_TIMEZONE, strict: false, enterprises: [] },
    events: opts.events ?? new MemoryEventLog(),
    rollup: opts.rollup ?? counterRollup(),
    config,
    deadLetters: opts.deadLetters,
    status: opts.status,
    now: opts.now ?? Date.now,
    hub: opts.hub ?? new StreamHub(),
    commission: opts.commission,
    reference: opts.reference,
    uploads: opts.uploads,
    alertRules: opts.alertRules,
  }
  // Request logs carry the URL with secret query values redacted (?access_token=…) and no credential headers.
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' }
  const serializers = { req: serializeRequest }
  const logging =
    typeof opts.logger === 'object'
      ? { loggerInstance: opts.logger.child({}, { serializers, redact }) }
      : { logger: opts.logger === true ? { serializers, redact } : false }
  const app = Fastify({
    ...logging,
    // Unknown query parameters are reported, not silently dropped: a typo must not change the answer.
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: formatValidationErrors,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { statusCode, body } = toErrorReply(err)
    if (statusCode >= 500) req.log.error({ err }, 'request failed')
    else req.log.info({ code: body.error.code, statusCode }, body.error.message)
    const retryAfterS = (body.error.details as { retryAfterS?: unknown } | undefined)?.retryAfterS
    if ((statusCode === 429 || statusCode === 503) && typeof retryAfterS === 'number') reply.header('retry-after', String(retryAfterS))
    return reply.code(statusCode).send(body)
  })
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'API_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } }),
  )

  // First, so that every route (docs, UI, API, 404s and 429s) carries the security headers.
  await app.register(helmet, HELMET_OPTIONS)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'PlantWatt API',
        description: 'Live and historical telemetry of the plant. Times are epoch milliseconds; errors are `{ error: { code, message, details? } }`.',
        version: 'v1',
      },
      tags: [
        { name: 'telemetry', description: 'devices, live values and series' },
        { name: 'reference', description: 'canonical quantities' },
        { name: 'system', description: 'health and dead letters' },
        { name: 'ui', description: 'the built-in web page' },
        { name: 'reports', description: 'energy, production, cost, carbon, demand, SEC and grades, monthly report, tariff check' },
        { name: 'efficiency', description: 'ISO 50006 baselines and savings, power factor, data quality' },
        { name: 'commission', description: 'the commission scope: every enterprise, qualification, progress, ranking' },
        { name: 'alerts', description: 'alerts: list, history, acknowledge, resolve' },
        { name: 'auth', description: 'login and identity' },
        { name: 'entries', description: 'entries for what no meter measures (coal weighbridge, fuel deliveries, ERP production): audited revisions' },
        {
          name: 'meter-events',
          description: 'meter replacements, CT/PT ratio changes, register resets: counters counted exactly across them; audited revisions',
        },
        { name: 'province', description: "uploads of the enterprise's indicators to the provincial platform: uploaded, pending, rejected and why" },
      ],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', transformStaticCSP: docsCsp })

  await installAuth(app as unknown as FastifyInstance, ctx)
  installCsv(app as unknown as FastifyInstance, API_PREFIX)

  const routeOpts = { ctx, prefix: API_PREFIX }
  await app.register(healthRoutes, routeOpts)
  await app.register(quantityRoutes, routeOpts)
  await app.register(deviceRoutes, routeOpts)
  await app.register(plantRoutes, routeOpts)
  await app.register(liveRoutes, routeOpts)
  await app.register(seriesRoutes, routeOpts)
  await app.register(deadLetterRoutes, routeOpts)
  await app.register(metricsRoutes, routeOpts)
  await app.register(reportRoutes, routeOpts)
  await app.register(comprehensiveRoutes, routeOpts)
  await app.register(billRoutes, routeOpts)
  await app.register(uploadRoutes, routeOpts)
  await app.register(efficiencyRoutes, routeOpts)
  await app.register(commissionRoutes, routeOpts)
  await app.register(alertRoutes, routeOpts)
  await app.register(alertReplayRoutes, routeOpts)
  await app.register(importRoutes, routeOpts)
  await app.register(entryRoutes, routeOpts)
  await app.register(meterEventRoutes, routeOpts)
  await app.register(streamRoutes, routeOpts)
  await app.register(webRoutes, { ctx })
  await app.ready()
  // Callers only inject, listen and close: the type provider and logger generics are internal.
  return app as unknown as FastifyInstance
}
