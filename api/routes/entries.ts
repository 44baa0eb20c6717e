import Type, { type TSchema } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { DAY_MS } from '../../core/duration.ts'
import { PlantWattError } from '../../core/errors.ts'
import {
  ENTRY_CSV_COLUMNS,
  EnergyEntryInputSchema,
  EntryBook,
  ProductionEntryInputSchema,
  RECORD_ID_PATTERN,
  createRecordStore,
  importEntriesCsv,
  schemaFieldProblems,
  type Entry,
  type EntryRevision,
} from '../../records/index.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import { assertEnterprise, canSeeEnterprise, requirePermission } from '../principal.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { checkRange, parseInstant } from '../time.ts'
import type { ApiContext, RouteOptions } from '../context.ts'

/**
 * Entries for what no meter measures (records/): energy amounts of a carrier (coal from the
 * weighbridge with its measured calorific value, a fuel delivery) and production figures (ERP),
 * every change a revision with who, when and why. Writing needs the `import` permission (engineer,
 * admin), reading `reports`; an enterprise-bound principal writes and reads its own enterprise only
 * (another's entries answer as unknown ones).
 */

/** Most entries in one POST; a CSV file holds at most MAX_ENTRY_CSV_ROWS. */
const MAX_ENTRIES_PER_POST = 1000
/** Largest CSV body of POST /entries/import, bytes. */
const MAX_CSV_BYTES = 2 * 1024 * 1024
/** Longest range of GET /entries. */
const MAX_LIST_DAYS = 400

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const When = Type.Union([Type.Integer({ description: 'epoch ms' }), InstantSchema('time')])

/** The body of one entry as the API takes it: start and end also as ISO 8601 (plant time zone without an offset). */
const ApiEnergyEntrySchema = Type.Object(
  { ...EnergyEntryInputSchema.properties, start: When, end: When },
  { additionalProperties: false, description: 'an energy entry (kind energy)' },
)
const ApiProductionEntrySchema = Type.Object(
  { ...ProductionEntryInputSchema.properties, start: When, end: When },
  { additionalProperties: false, description: 'a production entry (kind production)' },
)
const ApiEntrySchema = Type.Union([ApiEnergyEntrySchema, ApiProductionEntrySchema])
const Reason = Type.String({ minLength: 1, maxLength: 500, description: 'why: the slip number, what was wrong …' })

const PostBodySchema = Type.Object(
  {
    entries: Type.Array(ApiEntrySchema, { minItems: 1, maxItems: MAX_ENTRIES_PER_POST, description: 'one or many entries: all are written or none' }),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
)
const ReviseBodySchema = Type.Object(
  {
    entry: ApiEntrySchema,
    reason: Reason,
    expectedRevision: Type.Integer({ minimum: 1, description: 'the revision being revised; another one answers 409 RECORDS_ERR_CONFLICT' }),
  },
  { additionalProperties: false },
)
/** The bodies as checked before the entries in them (each entry is checked by the rules, coded per field). */
const PostEnvelopeSchema = Type.Object(
  { ...PostBodySchema.properties, entries: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_ENTRIES_PER_POST }) },
  { additionalProperties: false },
)
const ReviseEnvelopeSchema = Type.Object({ ...ReviseBodySchema.properties, entry: Type.Unknown() }, { additionalProperties: false })
const VoidBodySchema = Type.Object(
  { reason: Reason, expectedRevision: Type.Integer({ minimum: 1, description: 'the revision being voided' }) },
  { additionalProperties: false },
)

const EntryRowSchema = Type.Object(
  {
    id: Type.String(),
    kind: StringEnum(['energy', 'production'] as const),
    revision: Type.Integer({ description: '1 for the first entry, +1 for each revision' }),
    enterprise: Type.String(),
    site: Nullable(Type.String()),
    line: Nullable(Type.String()),
    carrier: Nullable(Type.String({ description: 'energy: carrier id (analytics/carriers.ts)' })),
    direction: Nullable(StringEnum(['import', 'export'] as const)),
    amount: Type.Number({ description: 'in unit, over [start, end)' }),
    unit: Type.String({ description: "the unit of amount: the carrier's entry unit, or the product's (t | pcs)" }),
    start: Type.Integer({ description: 'epoch ms, inclusive' }),
    end: Type.Integer({ description: 'epoch ms, exclusive' }),
    ncvKjPerUnit: Nullable(Type.Number({ description: 'measured low calorific value (实测低位发热量), kJ per unit of amount' })),
    source: Type.String(),
    enteredBy: Type.String({ description: 'who wrote this revision' }),
    enteredAt: Type.Integer({ description: 'when, epoch ms' }),
    reason: Nullable(Type.String()),
  },
  { description: 'one entry (its current revision, or one revision in a history)' },
)
const RevisionRowSchema = Type.Object({ ...EntryRowSchema.properties, voided: Type.Boolean({ description: 'this revision voids the entry' }) })

const ListQuerySchema = Type.Object(
  {
    scope: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$', description: 'enterprise[/site[/line]]; default: every enterprise the caller sees' }),
    ),
    from: Type.Optional(InstantSchema('entries overlapping from (default: 31 days before now)')),
    to: Type.Optional(InstantSchema('until (default: now)')),
    kind: Type.Optional(StringEnum(['energy', 'production'] as const)),
    carrier: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only this carrier (energy entries)' })),
  },
  { additionalProperties: false },
)
const IdParamsSchema = Type.Object({ id: Type.String({ pattern: RECORD_ID_PATTERN, description: 'entry id' }) }, { additionalProperties: false })
const ImportQuerySchema = Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false })

type EntryRow = Type.Static<typeof EntryRowSchema>

function rowOf(e: Entry): EntryRow {
  const energy = e.kind === 'energy' ? e : undefined
  return {
    id: e.id,
    kind: e.kind,
    revision: e.revision,
    enterprise: e.enterprise,
    site: e.site ?? null,
    line: e.line ?? null,
    carrier: energy?.carrier ?? null,
    direction: energy?.direction ?? null,
    amount: e.amount,
    unit: e.unit,
    start: e.start,
    end: e.end,
    ncvKjPerUnit: energy?.ncvKjPerUnit ?? null,
    source: e.source,
    enteredBy: e.enteredBy,
    enteredAt: e.enteredAt,
    reason: e.reason ?? null,
  }
}

const revisionRowOf = (r: EntryRevision) => ({ ...rowOf(r), voided: r.voided })

/** Throws RECORDS_ERR_SCHEMA naming the first field of `body` that `schema` refuses (the entries themselves are checked by the rules). */
function checkEnvelope(schema: TSchema, body: unknown): void {
  const [first] = schemaFieldProblems(schema, body ?? {})
  if (first) throw new PlantWattError('RECORDS_ERR_SCHEMA', `body field "${first.field}" ${first.message}`, { details: { field: first.field } })
}

/** An entry of a request body with start and end as epoch ms (ISO 8601 parsed in the plant zone); its enterprise checked against the principal. */
function entryOfBody(ctx: ApiContext, req: FastifyRequest, raw: unknown, path: string): unknown {
  if (typeof raw !== 'object' || raw === null) return raw
  const e = { ...(raw as Record<string, unknown>) }
  for (const k of ['start', 'end'] as const) {
    const v = e[k]
    if (typeof v === 'string') e[k] = parseInstant(v, `${path}.${k}`, ctx.plant.timezone, 'body')
  }
  if (typeof e.enterprise === 'string') assertEnterprise(req, e.enterprise)
  return e
}

/** The entry of an id, as the principal may see it (another enterprise's answers as unknown). */
async function visibleEntry(book: EntryBook, req: FastifyRequest, id: string): Promise<EntryRevision> {
  const e = await book.get(id)
  if (!e || !canSeeEnterprise(req.principal, e.enterprise))
    throw new PlantWattError('RECORDS_ERR_NOT_FOUND', `no entry ${id}`, { details: { field: 'id', id } })
  return e
}

/** Accepts a body as it is: the entry routes check it themselves, so each problem gets its RECORDS_ERR_ code. */
const acceptBody = () => (data: unknown) => ({ value: data })

export const entryRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const book = new EntryBook(createRecordStore(ctx.events, { now: ctx.now }), ctx.model)
  writeRoutes(app, ctx, book)
  readRoutes(app, ctx, book)
  importRoute(app, ctx, book)
}

type App = Parameters<FastifyPluginAsyncTypebox<RouteOptions>>[0]

function writeRoutes(app: App, ctx: ApiContext, book: EntryBook): void {
  app.post(
    '/entries',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Enter energy or production figures no meter measures: one or many, all written or none',
        description:
          "Each entry is checked: schema, amount ≥ 0, a known carrier and one of its units, a calorific value within the carrier's physical range, start < end, the scope in the plant model (a production entry: a line with a product, in its unit), no overlap with a current entry of the same scope + carrier + direction. " +
          'A problem answers 400 (409 for an overlap) with a RECORDS_ERR_… code naming the field; details.problems lists every problem by index. Roles engineer and admin.',
        tags: ['entries'],
        body: PostBodySchema,
        response: { 201: Type.Object({ entries: Type.Array(EntryRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      requirePermission(req, 'import')
      checkEnvelope(PostEnvelopeSchema, req.body)
      const body = req.body as { entries: unknown[]; reason?: string }
      const raws = body.entries.map((e, i) => entryOfBody(ctx, req, e, `entries.${i}`))
      const written = await book.submit(raws, { user: req.principal.id, ...(body.reason ? { reason: body.reason } : {}) })
      reply.code(201)
      return { entries: written.map(rowOf) }
    },
  )

  app.put(
    '/entries/:id',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Revise an entry: the whole entry as it should read, why, and the revision it revises',
        tags: ['entries'],
        params: IdParamsSchema,
        body: ReviseBodySchema,
        response: { 200: Type.Object({ entry: EntryRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'import')
      const { id } = req.params as { id: string }
      await visibleEntry(book, req, id)
      checkEnvelope(ReviseEnvelopeSchema, req.body)
      const body = req.body as { entry: unknown; reason: string; expectedRevision: number }
      const entry = await book.revise(id, entryOfBody(ctx, req, body.entry, 'entry'), {
        user: req.principal.id,
        reason: body.reason,
        expectedRevision: body.expectedRevision,
      })
      return { entry: rowOf(entry) }
    },
  )

  app.delete(
    '/entries/:id',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Void an entry: a revision that takes it out of every figure; its history stays',
        tags: ['entries'],
        params: IdParamsSchema,
        body: VoidBodySchema,
        response: { 200: Type.Object({ entry: RevisionRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'import')
      const { id } = req.params as { id: string }
      await visibleEntry(book, req, id)
      checkEnvelope(VoidBodySchema, req.body)
      const body = req.body as { reason: string; expectedRevision: number }
      const entry = await book.void(id, { user: req.principal.id, reason: body.reason, expectedRevision: body.expectedRevision })
      return { entry: revisionRowOf(entry) }
    },
  )
}

/** The enterprise, site and line a list asks for, cut to the principal's enterprise. */
function listScope(req: FastifyRequest, scope: string | undefined): { enterprise?: string; site?: string; line?: string } {
  const [enterprise, site, line] = scope === undefined ? [] : scope.split('/')
  if (enterprise !== undefined) assertEnterprise(req, enterprise)
  const own = enterprise ?? req.principal.enterprise
  return { ...(own !== undefined ? { enterprise: own } : {}), ...(site !== undefined ? { site } : {}), ...(line !== undefined ? { line } : {}) }
}

function readRoutes(app: App, ctx: ApiContext, book: EntryBook): void {
  app.get(
    '/entries',
    {
      config: { permission: 'reports', csvName: 'entries' },
      schema: {
        summary: 'Current entries (latest revision, voided left out) overlapping [from, to), by start',
        tags: ['entries'],
        querystring: ListQuerySchema,
        response: { 200: Type.Object({ rows: Type.Array(EntryRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'reports')
      const q = req.query
      const now = ctx.now()
      const start = q.from === undefined ? now - 31 * DAY_MS : parseInstant(q.from, 'from', ctx.plant.timezone)
      const stop = q.to === undefined ? now : parseInstant(q.to, 'to', ctx.plant.timezone)
      checkRange({ start, stop }, { names: ['from', 'to'], maxDays: MAX_LIST_DAYS })
      const list = await book.list({
        ...listScope(req, q.scope),
        start,
        end: stop,
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.carrier ? { carrier: q.carrier } : {}),
      })
      return { rows: list.filter((e) => canSeeEnterprise(req.principal, e.enterprise)).map(rowOf) }
    },
  )

  app.get(
    '/entries/:id/history',
    {
      config: { permission: 'reports', csvName: 'entry-history' },
      schema: {
        summary: 'Every revision of an entry, oldest first: who, when, why, and whether it voids the entry',
        tags: ['entries'],
        params: IdParamsSchema,
        response: { 200: Type.Object({ id: Type.String(), rows: Type.Array(RevisionRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'reports')
      await visibleEntry(book, req, req.params.id)
      return { id: req.params.id, rows: (await book.history(req.params.id)).map(revisionRowOf) }
    },
  )
}

function importRoute(app: App, ctx: ApiContext, book: EntryBook): void {
  for (const type of ['text/csv', 'application/csv']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_CSV_BYTES }, (_req, body, done) => done(null, body))
  }
  app.post(
    '/entries/import',
    {
      config: { permission: 'import' },
      bodyLimit: MAX_CSV_BYTES,
      schema: {
        summary: 'Enter many entries from CSV: all rows written, or none and every bad row named',
        description:
          `Body: text/csv, a header line then one entry per row. Columns: ${ENTRY_CSV_COLUMNS.join(', ')} (enterprise, amount, unit, start, end required; kind defaults to energy when carrier is given; ` +
          'start/end ISO 8601 or epoch ms, wall-clock time in the plant zone without an offset). A bad row refuses the file: 400 RECORDS_ERR_CSV with details.rows = [{ row, column, code, message }] (row: line in the file, header = 1). Roles engineer and admin.',
        tags: ['entries'],
        consumes: ['text/csv'],
        querystring: ImportQuerySchema,
        body: Type.String({ description: 'the CSV text (UTF-8, BOM accepted)' }),
        response: { 201: Type.Object({ rows: Type.Integer({ description: 'data rows read' }), entries: Type.Array(EntryRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      requirePermission(req, 'import')
      const text = typeof req.body === 'string' ? req.body : ''
      // every row's enterprise must be the caller's: checked as the rows are read, before anything is written
      const own = req.principal.enterprise
      const model = own === undefined ? ctx.model : { ...ctx.model, enterprises: ctx.model.enterprises.filter((e) => e.id === own) }
      const result = await importEntriesCsv(book, text, {
        timezone: ctx.plant.timezone,
        user: req.principal.id,
        model,
        ...(req.query.reason ? { reason: req.query.reason } : {}),
      })
      reply.code(201)
      return { rows: result.rows, entries: result.written.map(rowOf) }
    },
  )
}
