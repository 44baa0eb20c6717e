import { Readable, Transform } from 'node:stream'
import Type, { type Static } from 'typebox'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { isPlantWattError } from '../../core/errors.ts'
import {
  IMPORT_LAYOUTS,
  PLAIN_IMPORT_OPTION_KEYS,
  IMPORT_ROW_CODES,
  MIDNIGHT_RULES,
  TIMESTAMP_FORMATS,
  TIMESTAMP_IS,
  importCsv,
  parseColumnMapping,
  type CsvSource,
  type ImportOptionsInput,
  type ImportResult,
} from '../../importer/index.ts'
import type { DeviceAddress } from '../../core/topic.ts'
import { ERROR_RESPONSES, apiError } from '../errors.ts'
import { canSeeEnterprise, requirePermission, type Principal } from '../principal.ts'
import { StringEnum } from '../schemas.ts'
import type { RouteOptions } from '../context.ts'

/** Default largest CSV body, bytes (about a year of 1-minute rows of one meter in the long layout). */
export const DEFAULT_IMPORT_MAX_BYTES = 100 * 1024 * 1024

/**
 * Points per store write of an HTTP import. The embedded store writes synchronously: 500 points
 * (about 1,500 values) hold the event loop for a few ms, where the importer's default of 5,000 made
 * /health wait up to ~230 ms on a loaded 2-core machine.
 */
export const API_IMPORT_BATCH_POINTS = 500

/** Default imports one principal may run at the same time. */
export const DEFAULT_IMPORTS_PER_USER = 1

/** Options of the import plugin beyond the shared context. */
export interface ImportRouteOptions extends RouteOptions {
  /** Largest accepted text/csv body in bytes; a larger one is answered 413. Default: `api.importMaxBytes` when the API config has it, else 100 MiB. */
  maxBodyBytes?: number
  /** Imports one principal may run at once; one more is answered 429. Default: `api.importConcurrencyPerUser` when set, else 1. */
  maxConcurrentPerUser?: number
  /** Where a body is kept on disk for the importer's second pass (deleted after); default the OS temp folder. */
  spoolDir?: string
}

const Column = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }))

const ImportQuerySchema = Type.Object(
  {
    layout: Type.Optional(
      StringEnum(IMPORT_LAYOUTS, {
        default: 'auto',
        description: 'long: timestamp,device,quantity,value; interval: timestamp[,device],kWh per interval; auto: from the header',
      }),
    ),
    device: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description: 'interval layout without a device column: enterprise/site/line/device, or a device id unique in the plant model',
      }),
    ),
    timezone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: "IANA zone of timestamps without an offset; default the device's site (or the plant's) zone" }),
    ),
    timestampFormat: Type.Optional(
      StringEnum(TIMESTAMP_FORMATS, { default: 'auto', description: 'auto: ISO 8601 or dd/mm/yyyy HH:MM (see dateOrder); epoch-ms, epoch-s' }),
    ),
    dateOrder: Type.Optional(StringEnum(['dmy', 'mdy'] as const, { default: 'dmy', description: '01/02/2018 is 1 February (dmy) or 2 January (mdy)' })),
    timestampIs: Type.Optional(
      StringEnum(TIMESTAMP_IS, { default: 'end', description: 'interval layout: the timestamp marks the end (default) or the start of its interval' }),
    ),
    midnight: Type.Optional(
      StringEnum(MIDNIGHT_RULES, {
        default: 'auto',
        description: 'interval layout: auto reads a D 00:00 row that follows later rows of day D as the end of day D',
      }),
    ),
    intervalMinutes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1440, description: 'interval layout: interval length; default the smallest step between rows' }),
    ),
    startKwh: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          'interval layout: counter value at the start of the first interval (default: continued from the store — its reading at that instant, else its latest in the 366 days before, else 0)',
      }),
    ),
    intervalPower: Type.Optional(
      StringEnum(['mean', 'off'] as const, {
        default: 'mean',
        description:
          'interval layout: mean = also write active_power_kw = kWh / interval hours at the interval start (power rules and the anomaly detector see the history); off = the counter only. Not written when a column is mapped to active_power_kw',
      }),
    ),
    timestampColumn: Column('timestamp column; default timestamp, time, ts, datetime or date'),
    deviceColumn: Column('device column; default device'),
    quantityColumn: Column('long layout: quantity column; default quantity'),
    valueColumn: Column('long layout: value column; default value'),
    qualityColumn: Column('long layout: optional quality column (good|uncertain|bad); default quality'),
    energyColumn: Column('interval layout: kWh per interval; default Usage_kWh, kwh, energy_kwh, interval_kwh or consumption_kwh'),
    map: Type.Optional(
      Type.Array(Type.String({ minLength: 3, maxLength: 300 }), {
        maxItems: 50,
        description:
          'interval layout: extra column → quantity, `Column:quantity` or `Column:quantity*scale` (repeat the parameter); cumulative quantities become counters',
      }),
    ),
    delimiter: Type.Optional(StringEnum([',', ';', '\t', '|'] as const, { description: 'field separator; default ,' })),
    dryRun: Type.Optional(Type.Boolean({ default: false, description: 'validate and count only; nothing is written' })),
  },
  { additionalProperties: false },
)

const RowErrorSchema = Type.Object(
  {
    line: Type.Integer({ description: 'line in the file, 1-based, the header being line 1' }),
    column: Type.Union([Type.String(), Type.Null()], { description: 'the column at fault as named in the header; null for the row as a whole' }),
    code: StringEnum(IMPORT_ROW_CODES, { description: 'why the row was rejected' }),
    message: Type.String(),
  },
  { description: 'one rejected row' },
)

const ImportAnswerSchema = Type.Object(
  {
    importId: Type.String({ description: 'id of this import (tag import_id of its events)' }),
    layout: StringEnum(['long', 'interval'] as const, { description: 'the layout read' }),
    dryRun: Type.Boolean(),
    total: Type.Integer({ description: 'data rows in the file' }),
    imported: Type.Integer({ description: 'good rows, written (or writable on a dry run)' }),
    rejected: Type.Integer({ description: 'bad rows, none of them written' }),
    points: Type.Integer({
      description:
        'telemetry points written (interval layout: one counter reading per interval end, plus one at the start of the first interval and after each gap)',
    }),
    devices: Type.Array(Type.String(), { description: 'devices written, enterprise/site/line/device' }),
    first: Type.Union([Type.Integer(), Type.Null()], { description: 'earliest timestamp of a good row, epoch ms' }),
    last: Type.Union([Type.Integer(), Type.Null()], { description: 'latest timestamp of a good row, epoch ms' }),
    gaps: Type.Integer({ description: 'interval layout: intervals after a hole in the series' }),
    midnightShifted: Type.Integer({ description: 'interval layout: D 00:00 rows read as the end of day D' }),
    rowsTruncated: Type.Boolean({ description: 'true when there were more bad rows than `rows` lists' }),
    rows: Type.Array(RowErrorSchema, { description: 'the rejected rows, by line (the CSV export renders this table)' }),
    counterStarts: Type.Array(
      Type.Object({
        device: Type.String({ description: 'enterprise/site/line/device' }),
        quantity: Type.String({ description: 'energy_import_kwh, or a cumulative extra column (gas_m3 …)' }),
        at: Type.Integer({ description: "the start of the device's first interval in the file, epoch ms" }),
        value: Type.Number({ description: 'the counter there' }),
        basis: StringEnum(['given', 'stored', 'zero'] as const, {
          description: 'given: startKwh; stored: continued from the reading at storedAt; zero: no reading at or in the 366 days before `at`',
        }),
        storedAt: Type.Optional(Type.Integer({ description: 'basis stored: the instant of the reading continued from, epoch ms' })),
      }),
      { description: 'interval layout: where each counter of each device starts, and why' },
    ),
    warnings: Type.Array(
      Type.Object({
        code: StringEnum(['IMPORT_WARN_COUNTER_BACKWARDS'] as const, {
          description: 'IMPORT_WARN_COUNTER_BACKWARDS: a later stored reading is below the counter this file ends with (imported after a later file)',
        }),
        device: Type.String(),
        quantity: Type.String(),
        message: Type.String(),
      }),
      { description: "what was written but needs the user's attention" },
    ),
  },
  { description: 'what was imported, the report of rejected rows, where the counters start and any warnings' },
)

function configured(opts: ImportRouteOptions, own: number | undefined, key: string, fallback: number): number {
  if (own !== undefined) return own
  const fromConfig = (opts.ctx.config as Readonly<Record<string, unknown>>)[key]
  return typeof fromConfig === 'number' && fromConfig > 0 ? fromConfig : fallback
}

/** Imports running per principal: one import holds its slot from before the body is read until the answer. */
export class ImportSlots {
  private readonly running = new Map<string, number>()

  /** @param perUser imports one principal may run at once. */
  constructor(readonly perUser: number) {}

  /** Takes a slot of `p`, or throws 429 API_ERR_RATE_LIMITED (details.code IMPORT_ERR_BUSY) naming the limit. Returns the release. */
  acquire(p: Principal): () => void {
    const key = `${p.via ?? 'none'}:${p.id}`
    const n = this.running.get(key) ?? 0
    if (n >= this.perUser) {
      throw apiError(
        'API_ERR_RATE_LIMITED',
        `${p.id} already runs ${n} import(s): at most ${this.perUser} at a time per user (api.importConcurrencyPerUser); retry when ${n === 1 ? 'it is' : 'one is'} done`,
        { code: 'IMPORT_ERR_BUSY', limit: this.perUser, running: n },
      )
    }
    this.running.set(key, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.running.get(key) ?? 1) - 1
      if (left > 0) this.running.set(key, left)
      else this.running.delete(key)
    }
  }
}

/** Passes bytes on until more than `max` went by, then fails with 413 API_ERR_PAYLOAD_TOO_LARGE. */
function byteLimit(max: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > max) done(apiError('API_ERR_PAYLOAD_TOO_LARGE', `the CSV body is larger than ${max} bytes (api.importMaxBytes)`, { limit: max }))
      else done(null, chunk)
    },
  })
}

/** Importer options of a query (all but `map`, parsed inside the handler's try so its error is mapped like the importer's). */
function importOptions(q: Static<typeof ImportQuerySchema>): ImportOptionsInput {
  const options: ImportOptionsInput = { batchSize: API_IMPORT_BATCH_POINTS }
  for (const k of PLAIN_IMPORT_OPTION_KEYS) if (q[k] !== undefined) (options as Record<string, unknown>)[k] = q[k]
  return options
}

/** The 200 answer of an import. */
function importAnswer(result: ImportResult): Static<typeof ImportAnswerSchema> {
  return {
    importId: result.importId,
    layout: result.layout,
    dryRun: result.dryRun,
    total: result.rows,
    imported: result.imported,
    rejected: result.rejected,
    points: result.points,
    devices: result.devices,
    first: result.first,
    last: result.last,
    gaps: result.gaps,
    midnightShifted: result.midnightShifted,
    rowsTruncated: result.errorsTruncated,
    rows: result.errors,
    counterStarts: result.counterStarts,
    warnings: result.warnings,
  }
}

/** The error to throw for a failed import: the importer's codes as API errors, anything else as it is. */
function importFailure(err: unknown): unknown {
  // The importer's file-level codes travel in details.code until api/errors.ts maps IMPORT_ERR_* itself.
  if (isPlantWattError(err) && err.code.startsWith('IMPORT_ERR_') && err.code !== 'IMPORT_ERR_WRITE' && err.code !== 'IMPORT_ERR_INTERNAL') {
    return apiError('API_ERR_BAD_REQUEST', `${err.code}: ${err.message}`, {
      code: err.code,
      ...(err.details !== undefined ? { details: err.details } : {}),
    })
  }
  if (isPlantWattError(err, 'IMPORT_ERR_WRITE')) {
    return apiError('API_ERR_STORAGE', err.message, err.details)
  }
  return err
}

/** The raw body of a request, still unread, kept out of body validation (see the preValidation hook). */
const bodies = new WeakMap<FastifyRequest, Readable>()

/**
 * POST /import: a CSV body of historical data (importer/), for engineers and admins, into the
 * principal's own enterprise only.
 */
export const importRoutes: FastifyPluginAsyncTypebox<ImportRouteOptions> = async (app, opts) => {
  const { ctx } = opts
  const bodyLimit = configured(opts, opts.maxBodyBytes, 'importMaxBytes', DEFAULT_IMPORT_MAX_BYTES)
  const slots = new ImportSlots(configured(opts, opts.maxConcurrentPerUser, 'importConcurrencyPerUser', DEFAULT_IMPORTS_PER_USER))
  // Encapsulated: only this plugin's routes take CSV bodies. The body stays a stream: the importer
  // reads it as it arrives (never as one string), after the permission and concurrency checks.
  for (const type of ['text/csv', 'application/csv']) {
    app.addContentTypeParser(type, (_req, payload, done) => done(null, payload))
  }

  app.post(
    '/import',
    {
      bodyLimit,
      config: { permission: 'import', csvName: 'import-report' },
      // After the auth plugin's checks (app-level hooks run first): the stream is set aside so the
      // body schema (a string, for the OpenAPI document) validates an empty placeholder.
      preValidation: async (req) => {
        const body: unknown = req.body
        if (body instanceof Readable) {
          bodies.set(req, body)
          req.body = ''
        }
      },
      schema: {
        summary: 'Import historical interval data from CSV',
        description:
          'Body: text/csv. Layouts: long (timestamp, device, quantity, value[, quality]) and interval (timestamp, device or ?device=, kWh per interval; ' +
          'interval energy becomes the cumulative counter energy_import_kwh). Every row is validated before anything is written; bad rows are reported by line ' +
          'and skipped, good rows written idempotently (importing the same file again changes nothing). Roles engineer and admin; ' +
          'an enterprise user imports into that enterprise only (a device of another enterprise is reported like an unknown one). ' +
          'The body is read as a stream while it arrives (other requests keep being answered); a body over api.importMaxBytes is answered 413, ' +
          'an import while the same user already runs api.importConcurrencyPerUser of them (default 1) 429 with details.code IMPORT_ERR_BUSY. ' +
          '`?format=csv` renders the `rows` report.',
        tags: ['telemetry'],
        consumes: ['text/csv'],
        querystring: ImportQuerySchema,
        body: Type.String({
          description: 'the CSV text: a header line, then data rows (UTF-8, BOM and CRLF accepted); read as a stream, at most api.importMaxBytes bytes',
        }),
        response: { 200: ImportAnswerSchema, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      // The auth plugin checks config.permission before the body is read; checked here too so the
      // route is safe wherever it is mounted.
      requirePermission(req, 'import')
      const declared = Number(req.headers['content-length'])
      if (declared > bodyLimit) {
        void reply.header('connection', 'close')
        throw apiError('API_ERR_PAYLOAD_TOO_LARGE', `the CSV body is larger than ${bodyLimit} bytes (api.importMaxBytes)`, { limit: bodyLimit })
      }
      const q = req.query
      const options = importOptions(q)
      const principal = req.principal
      const raw = bodies.get(req)
      const release = slots.acquire(principal)
      let source: CsvSource = { text: '' }
      try {
        if (q.map) options.columns = Object.fromEntries(q.map.map(parseColumnMapping))
        if (raw !== undefined) {
          const limited = byteLimit(bodyLimit)
          // The importer reports the stream's errors; one before it listens (bad options) must not crash the process.
          limited.on('error', () => {})
          raw.on('error', (err) => limited.destroy(err))
          raw.on('close', () => {
            if (!req.raw.complete) limited.destroy(new Error('the client closed the connection before the body ended'))
          })
          source = { stream: raw.pipe(limited) }
        }
        const result = await importCsv(source, options, {
          store: ctx.store,
          plant: ctx.model,
          events: ctx.events,
          now: ctx.now,
          principal: principal.id,
          ...(opts.spoolDir !== undefined ? { spoolDir: opts.spoolDir } : {}),
          ...(principal.enterprise !== undefined ? { enterprise: principal.enterprise } : {}),
          // The tenant check; a refused device reads as unknown (the importer answers both alike).
          authorize: (a: DeviceAddress) => canSeeEnterprise(principal, a.enterprise),
        })
        return importAnswer(result)
      } catch (err) {
        // Refused while the body still streams in: close the connection rather than read the rest.
        if (raw !== undefined && !req.raw.complete) void reply.header('connection', 'close')
        throw importFailure(err)
      } finally {
        if ('stream' in source && !source.stream.readableEnded) source.stream.destroy()
        release()
      }
    },
  )
}
