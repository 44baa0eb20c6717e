import Type, { type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { DAY_MS } from '../../core/duration.ts'
import { PlantWattError } from '../../core/errors.ts'
import { QUANTITIES, isQuantity } from '../../core/quantities.ts'
import { MeterEventBook, MeterEventInputSchema, METER_EVENT_TYPES, type MeterEvent, type MeterEventRevision } from '../../records/meter-events.ts'
import { RECORD_ID_PATTERN, createRecordStore } from '../../records/store.ts'
import { invalidateRollup } from '../../reports/counter-rollup.ts'
import { ERROR_RESPONSES } from '../errors.ts'
import { assertEnterprise, canSeeEnterprise, requirePermission } from '../principal.ts'
import { InstantSchema, StringEnum } from '../schemas.ts'
import { checkRange, parseInstant } from '../time.ts'
import type { ApiContext, RouteOptions } from '../context.ts'

/**
 * Meter events (records/meter-events.ts): a meter replaced, a CT/PT ratio changed, a register reset —
 * with them, energy across the event is exact; without, a counter drop is an unexplained reset.
 * Writing needs the `import` permission (engineer, admin), reading `reports`; an enterprise-bound
 * principal writes and reads its own enterprise only (another's events answer as unknown ones).
 * Every write invalidates the device's counter roll-up from the event on, so no cached answer
 * outlives it.
 */

/** Longest range of GET /meter-events. */
const MAX_LIST_DAYS = 3660

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const When = Type.Union([Type.Integer({ description: 'epoch ms' }), InstantSchema('time')])
const Reason = Type.String({ minLength: 1, maxLength: 500, description: 'why: the work order, what was replaced and by what …' })

/** An event as the API takes it: ts also as ISO 8601 (plant time zone without an offset). */
const ApiEventSchema = Type.Object(
  { ...MeterEventInputSchema.properties, quantity: Type.Optional(MeterEventInputSchema.properties.quantity), ts: When },
  { additionalProperties: false, description: 'a meter event' },
)
const PostBodySchema = Type.Object({ event: ApiEventSchema, reason: Reason }, { additionalProperties: false })
const ReviseBodySchema = Type.Object(
  {
    event: ApiEventSchema,
    reason: Reason,
    expectedRevision: Type.Integer({ minimum: 1, description: 'the revision being revised; another one answers 409 RECORDS_ERR_CONFLICT' }),
  },
  { additionalProperties: false },
)
const VoidBodySchema = Type.Object(
  { reason: Reason, expectedRevision: Type.Integer({ minimum: 1, description: 'the revision being voided' }) },
  { additionalProperties: false },
)

const Reading = (description: string) => Nullable(Type.Number({ description: `${description}, in unit` }))
const EventRowSchema = Type.Object(
  {
    id: Type.String(),
    revision: Type.Integer({ description: '1 for the first record, +1 for each revision' }),
    type: StringEnum(METER_EVENT_TYPES),
    enterprise: Type.String(),
    site: Type.String(),
    line: Type.String(),
    device: Type.String(),
    quantity: Type.String({ description: 'the cumulative counter' }),
    unit: Type.String({ description: "the quantity's unit (core/quantities.ts): every reading below is in it" }),
    ts: Type.Integer({ description: 'epoch ms: readings before it are the old state, at or after it the new one' }),
    oldFinalReading: Reading("replacement: the old meter's last reading"),
    newStartReading: Reading("replacement: the new meter's start reading"),
    newModulus: Reading("replacement: the new meter's register modulus"),
    oldRatio: Nullable(Type.Number({ description: 'ratio_change: CT×PT ratio before' })),
    newRatio: Nullable(Type.Number({ description: 'ratio_change: ratio after (increments from ts count × newRatio / oldRatio)' })),
    readingAtChange: Reading('ratio_change: the reading at the change'),
    valueAfter: Reading('reset: the value after the reset'),
    valueBefore: Reading('reset: the reading just before it'),
    enteredBy: Type.String({ description: 'who wrote this revision' }),
    enteredAt: Type.Integer({ description: 'when, epoch ms' }),
    reason: Nullable(Type.String()),
  },
  { description: 'one meter event (its current revision, or one revision in a history)' },
)
const RevisionRowSchema = Type.Object({ ...EventRowSchema.properties, voided: Type.Boolean({ description: 'this revision voids the event' }) })
type EventRow = Type.Static<typeof EventRowSchema>

const ListQuerySchema = Type.Object(
  {
    scope: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,3}$',
        description: 'enterprise[/site[/line[/device]]]; default: every enterprise the caller sees',
      }),
    ),
    from: Type.Optional(InstantSchema('events at or after (default: 366 days before now)')),
    to: Type.Optional(InstantSchema('events before (default: now)')),
    quantity: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'only this counter' })),
  },
  { additionalProperties: false },
)
const IdParamsSchema = Type.Object({ id: Type.String({ pattern: RECORD_ID_PATTERN, description: 'meter event id' }) }, { additionalProperties: false })

function rowOf(e: MeterEvent): EventRow {
  const n = (v: number | undefined): number | null => v ?? null
  return {
    id: e.id,
    revision: e.revision,
    type: e.type,
    enterprise: e.enterprise,
    site: e.site,
    line: e.line,
    device: e.device,
    quantity: e.quantity,
    unit: isQuantity(e.quantity) ? QUANTITIES[e.quantity].unit : '',
    ts: e.ts,
    oldFinalReading: n(e.oldFinalReading),
    newStartReading: n(e.newStartReading),
    newModulus: n(e.newModulus),
    oldRatio: n(e.oldRatio),
    newRatio: n(e.newRatio),
    readingAtChange: n(e.readingAtChange),
    valueAfter: n(e.valueAfter),
    valueBefore: n(e.valueBefore),
    enteredBy: e.enteredBy,
    enteredAt: e.enteredAt,
    reason: e.reason ?? null,
  }
}

/** Throws RECORDS_ERR_SCHEMA naming the first envelope field `schema` refuses (the event itself is checked by the book). */
function checkEnvelope(schema: TSchema, body: unknown): void {
  for (const e of Value.Errors(schema, body)) {
    const missing = e.keyword === 'required' ? String((e.params as { requiredProperties?: unknown[] }).requiredProperties?.[0] ?? '') : ''
    const field =
      e.keyword === 'additionalProperties'
        ? String((e.params as { additionalProperties?: unknown }).additionalProperties)
        : missing || e.instancePath.replace(/^\//, '')
    if (e.keyword === 'boolean') continue
    throw new PlantWattError('RECORDS_ERR_SCHEMA', `body field "${field || 'body'}" ${e.message}`, { details: { field: field || 'body' } })
  }
}

/** The event of a body with ts as epoch ms (ISO 8601 parsed in the plant zone); its enterprise checked against the principal. */
function eventOfBody(ctx: ApiContext, req: FastifyRequest, raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null)
    throw new PlantWattError('RECORDS_ERR_SCHEMA', 'body field "event" must be an object', { details: { field: 'event' } })
  const e = { ...(raw as Record<string, unknown>) }
  if (typeof e.ts === 'string') e.ts = parseInstant(e.ts, 'event.ts', ctx.plant.timezone, 'body')
  if (typeof e.enterprise === 'string') assertEnterprise(req, e.enterprise)
  return e
}

async function visibleEvent(book: MeterEventBook, req: FastifyRequest, id: string): Promise<MeterEventRevision> {
  const e = await book.get(id)
  if (!e || !canSeeEnterprise(req.principal, e.enterprise))
    throw new PlantWattError('RECORDS_ERR_NOT_FOUND', `no meter event ${id}`, { details: { field: 'id', id } })
  return e
}

/** Accepts a body as it is: the routes check it themselves, so each problem gets its RECORDS_ERR_ code. */
const acceptBody = () => (data: unknown) => ({ value: data })

export const meterEventRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { ctx }) => {
  const book = new MeterEventBook(createRecordStore(ctx.events, { now: ctx.now }), ctx.model, ctx.store, {
    now: ctx.now,
    onChange: (c) => invalidateRollup(ctx.store, [c.device], c.fromTs, [c.quantity]),
  })
  writeRoutes(app, ctx, book)
  readRoutes(app, ctx, book)
}

type App = Parameters<FastifyPluginAsyncTypebox<RouteOptions>>[0]

const WRITE_DESCRIPTION =
  'Checked before anything is written, each problem a RECORDS_ERR_… code naming the field (details.field, details.problems): RECORDS_ERR_SCHEMA; RECORDS_ERR_DEVICE (not in the plant model); ' +
  'RECORDS_ERR_QUANTITY (not a cumulative counter); RECORDS_ERR_FIELD (a field of another type, a required one missing, ts in the future); ' +
  "RECORDS_ERR_READING (the stored data contradicts it: an old final reading below the old meter's last stored reading, a new start reading above the first reading after the swap); " +
  '409 RECORDS_ERR_OVERLAP (another event of the device and quantity less than 15 min away, details.otherId). Roles engineer and admin.'

function writeRoutes(app: App, ctx: ApiContext, book: MeterEventBook): void {
  app.post(
    '/meter-events',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Record a meter event: replacement, CT/PT ratio change or register reset, with why',
        description: WRITE_DESCRIPTION,
        tags: ['meter-events'],
        body: PostBodySchema,
        response: { 201: Type.Object({ event: EventRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      requirePermission(req, 'import')
      checkEnvelope(Type.Object({ ...PostBodySchema.properties, event: Type.Unknown() }, { additionalProperties: false }), req.body ?? {})
      const body = req.body as { event: unknown; reason: string }
      const e = await book.record(eventOfBody(ctx, req, body.event), { user: req.principal.id, reason: body.reason })
      reply.code(201)
      return { event: rowOf(e) }
    },
  )

  app.put(
    '/meter-events/:id',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Revise a meter event: the whole event as it should read, why, and the revision it revises',
        description: WRITE_DESCRIPTION,
        tags: ['meter-events'],
        params: IdParamsSchema,
        body: ReviseBodySchema,
        response: { 200: Type.Object({ event: EventRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'import')
      const { id } = req.params as { id: string }
      await visibleEvent(book, req, id)
      checkEnvelope(Type.Object({ ...ReviseBodySchema.properties, event: Type.Unknown() }, { additionalProperties: false }), req.body ?? {})
      const body = req.body as { event: unknown; reason: string; expectedRevision: number }
      const e = await book.revise(id, eventOfBody(ctx, req, body.event), {
        user: req.principal.id,
        reason: body.reason,
        expectedRevision: body.expectedRevision,
      })
      return { event: rowOf(e) }
    },
  )

  app.delete(
    '/meter-events/:id',
    {
      config: { permission: 'import' },
      validatorCompiler: acceptBody,
      schema: {
        summary: 'Void a meter event: counters across it are classified from the data alone again; its history stays',
        tags: ['meter-events'],
        params: IdParamsSchema,
        body: VoidBodySchema,
        response: { 200: Type.Object({ event: RevisionRowSchema }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'import')
      const { id } = req.params as { id: string }
      await visibleEvent(book, req, id)
      checkEnvelope(VoidBodySchema, req.body ?? {})
      const body = req.body as { reason: string; expectedRevision: number }
      const e = await book.void(id, { user: req.principal.id, reason: body.reason, expectedRevision: body.expectedRevision })
      return { event: { ...rowOf(e), voided: e.voided } }
    },
  )
}

function readRoutes(app: App, ctx: ApiContext, book: MeterEventBook): void {
  app.get(
    '/meter-events',
    {
      config: { permission: 'reports', csvName: 'meter-events' },
      schema: {
        summary: 'Current meter events (latest revision, voided left out) in [from, to), by time',
        tags: ['meter-events'],
        querystring: ListQuerySchema,
        response: { 200: Type.Object({ rows: Type.Array(EventRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'reports')
      const q = req.query
      const now = ctx.now()
      const start = q.from === undefined ? now - 366 * DAY_MS : parseInstant(q.from, 'from', ctx.plant.timezone)
      const stop = q.to === undefined ? now + 1 : parseInstant(q.to, 'to', ctx.plant.timezone)
      checkRange({ start, stop }, { names: ['from', 'to'], maxDays: MAX_LIST_DAYS })
      const [enterprise, site, line, device] = q.scope === undefined ? [] : q.scope.split('/')
      if (enterprise !== undefined) assertEnterprise(req, enterprise)
      const own = enterprise ?? req.principal.enterprise
      const list = await book.list({
        ...(own !== undefined ? { enterprise: own } : {}),
        ...(site !== undefined ? { site } : {}),
        ...(line !== undefined ? { line } : {}),
        ...(device !== undefined ? { device } : {}),
        ...(q.quantity !== undefined ? { quantity: q.quantity } : {}),
        start,
        end: stop,
      })
      return { rows: list.filter((e) => canSeeEnterprise(req.principal, e.enterprise)).map(rowOf) }
    },
  )

  app.get(
    '/meter-events/:id/history',
    {
      config: { permission: 'reports', csvName: 'meter-event-history' },
      schema: {
        summary: 'Every revision of a meter event, oldest first: who, when, why, and whether it voids the event',
        tags: ['meter-events'],
        params: IdParamsSchema,
        response: { 200: Type.Object({ id: Type.String(), rows: Type.Array(RevisionRowSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      requirePermission(req, 'reports')
      await visibleEvent(book, req, req.params.id)
      return { id: req.params.id, rows: (await book.history(req.params.id)).map((r) => ({ ...rowOf(r), voided: r.voided })) }
    },
  )
}
