import Type from 'typebox'
import { Value } from 'typebox/value'
import type { CounterEvent } from '../analytics/energy.ts'
import { DAY_MS } from '../core/duration.ts'
import { PlantWattError } from '../core/errors.ts'
import { PlantDeviceIndex, deviceKey, type PlantModel } from '../core/plant.ts'
import { QUANTITIES, isQuantity } from '../core/quantities.ts'
import { ID_PATTERN, type DeviceAddress } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { kindOfRecordId, type RecordBody, type RecordStore, type StoredRecord } from './store.ts'

/**
 * Meter events as audited records: a meter replaced, a CT/PT ratio changed, a register reset — on
 * one device's cumulative counter, at one instant, with who, when and why, every change a revision.
 * With a record, reports count energy across the event exactly (analytics/energy.ts CounterEvent);
 * a counter drop without one is an unexplained reset.
 *
 * A record is checked before anything is written: the schema, the device in the plant model, a
 * cumulative quantity, the fields of its type, its readings against the stored data (a replacement's
 * old final reading not below the old meter's last stored reading, its new start reading not above
 * the first reading after it), and no other current event of the device and quantity within
 * EVENT_SPACING_MS. Each problem is a RECORDS_ERR_… code naming the field; any problem writes nothing.
 */

/** Record kind on the store. */
export const METER_EVENT_KIND = 'meter_event'
export const METER_EVENT_TYPES = ['replacement', 'ratio_change', 'reset'] as const
export type MeterEventType = (typeof METER_EVENT_TYPES)[number]
/** The quantity an event is about when none is given. */
export const DEFAULT_EVENT_QUANTITY = 'energy_import_kwh'
/**
 * Two events of one device and quantity must be at least this far apart: reports read counters as
 * quarter-hour readings, and two events inside one quarter could not be checked against them.
 */
export const EVENT_SPACING_MS = 900_000
/** How far before and after an event the readings that check it are looked for. */
export const READING_CHECK_MS = 7 * DAY_MS

export const METER_EVENT_ERROR_CODES = [
  'RECORDS_ERR_SCHEMA',
  'RECORDS_ERR_DEVICE',
  'RECORDS_ERR_QUANTITY',
  'RECORDS_ERR_FIELD',
  'RECORDS_ERR_READING',
  'RECORDS_ERR_OVERLAP',
] as const
export type MeterEventErrorCode = (typeof METER_EVENT_ERROR_CODES)[number]

export interface MeterEventProblem {
  field: string
  code: MeterEventErrorCode
  message: string
  /** RECORDS_ERR_OVERLAP: the current event it is too close to. */
  otherId?: string
}

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })
const Reading = (description: string) => Type.Number({ description: `${description}, in the quantity's unit as the device publishes it` })

/** One meter event as it is entered (ts in epoch ms). */
export const MeterEventInputSchema = Type.Object(
  {
    type: Type.Enum(METER_EVENT_TYPES, { description: 'replacement (a new meter), ratio_change (CT/PT ratio), reset (register cleared)' }),
    enterprise: Id('enterprise'),
    site: Id('site'),
    line: Id('line'),
    device: Id('device id on the line'),
    quantity: Type.String({ default: DEFAULT_EVENT_QUANTITY, description: 'the cumulative counter (core/quantities.ts), default energy_import_kwh' }),
    ts: Type.Integer({ description: 'when it happened, epoch ms: readings before it are the old state, at or after it the new one' }),
    oldFinalReading: Type.Optional(Reading("replacement: the old meter's last reading")),
    newStartReading: Type.Optional(Reading("replacement: the new meter's reading when it started counting")),
    newModulus: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "replacement: the new meter's register modulus, when it differs" })),
    oldRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'ratio_change: the CT×PT ratio before (e.g. 20 for 100/5 A)' })),
    newRatio: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'ratio_change: the ratio after; readings from ts on count × newRatio / oldRatio' }),
    ),
    readingAtChange: Type.Optional(Reading('ratio_change: the reading at the change, when known')),
    valueAfter: Type.Optional(Reading('reset: the value after the reset (default 0)')),
    valueBefore: Type.Optional(Reading('reset: the reading just before it, when known')),
  },
  { additionalProperties: false },
)
export type MeterEventInput = Type.Static<typeof MeterEventInputSchema>

/** The fields each type takes (others are refused), and which of them are required. */
const TYPE_FIELDS: Record<MeterEventType, { required: readonly string[]; optional: readonly string[] }> = {
  replacement: { required: ['oldFinalReading', 'newStartReading'], optional: ['newModulus'] },
  ratio_change: { required: ['oldRatio', 'newRatio'], optional: ['readingAtChange'] },
  reset: { required: [], optional: ['valueAfter', 'valueBefore'] },
}
const VALUE_FIELDS = ['oldFinalReading', 'newStartReading', 'newModulus', 'oldRatio', 'newRatio', 'readingAtChange', 'valueAfter', 'valueBefore'] as const

/** A current (or historical) meter event. */
export interface MeterEvent extends MeterEventInput {
  id: string
  revision: number
  /** Who wrote this revision. */
  enteredBy: string
  /** When, epoch ms. */
  enteredAt: number
  reason?: string
}
export type MeterEventRevision = MeterEvent & { voided: boolean }

/** The error of a refused event: the first problem's code and field, every problem in `details.problems`. */
export function meterEventError(problems: readonly MeterEventProblem[]): PlantWattError {
  const first = problems[0] ?? { field: '', code: 'RECORDS_ERR_SCHEMA', message: 'no problem given' }
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s); nothing was written)` : ' (nothing was written)'
  return new PlantWattError(first.code, `${first.field}: ${first.message}${more}`, {
    details: { field: first.field, ...(first.otherId === undefined ? {} : { otherId: first.otherId }), problems },
  })
}

/** Schema problems (RECORDS_ERR_SCHEMA naming the field), else the input with defaults filled. */
export function parseMeterEventInput(raw: unknown): { input?: MeterEventInput; problems: MeterEventProblem[] } {
  const value = Value.Default(MeterEventInputSchema, Value.Clone(raw))
  const problems: MeterEventProblem[] = []
  for (const e of Value.Errors(MeterEventInputSchema, value)) {
    if (e.keyword === 'boolean' || e.keyword === 'anyOf') continue
    const field =
      e.keyword === 'additionalProperties'
        ? String((e.params as { additionalProperties?: unknown }).additionalProperties ?? '')
        : e.instancePath.replace(/^\//, '')
    const message = e.keyword === 'additionalProperties' ? 'is not a field of a meter event' : e.message
    if (!problems.some((p) => p.field === field)) problems.push({ field: field || 'body', code: 'RECORDS_ERR_SCHEMA', message })
  }
  return problems.length > 0 ? { problems } : { input: value as MeterEventInput, problems }
}

/** Problems that need no I/O: device, quantity, the fields of the type, ts not in the future. */
export function meterEventRuleProblems(input: MeterEventInput, model: PlantModel, now: number): MeterEventProblem[] {
  const problems: MeterEventProblem[] = []
  const index = new PlantDeviceIndex(model)
  if (!index.get(input)) problems.push({ field: 'device', code: 'RECORDS_ERR_DEVICE', message: `no device ${deviceKey(input)} in the plant model` })
  if (!isQuantity(input.quantity) || !('cumulative' in QUANTITIES[input.quantity]))
    problems.push({
      field: 'quantity',
      code: 'RECORDS_ERR_QUANTITY',
      message: `${JSON.stringify(input.quantity)} is not a cumulative counter (core/quantities.ts)`,
    })
  if (input.ts > now) problems.push({ field: 'ts', code: 'RECORDS_ERR_FIELD', message: 'is in the future: record an event once it has happened' })
  const spec = TYPE_FIELDS[input.type]
  for (const f of VALUE_FIELDS) {
    const given = input[f] !== undefined
    if (given && !spec.required.includes(f) && !spec.optional.includes(f))
      problems.push({ field: f, code: 'RECORDS_ERR_FIELD', message: `is not a field of a ${input.type} event` })
    if (!given && spec.required.includes(f)) problems.push({ field: f, code: 'RECORDS_ERR_FIELD', message: `is required for a ${input.type} event` })
  }
  if (input.type === 'ratio_change' && input.oldRatio !== undefined && input.oldRatio === input.newRatio)
    problems.push({ field: 'newRatio', code: 'RECORDS_ERR_FIELD', message: `equals oldRatio (${input.oldRatio}): nothing changed` })
  return problems
}

/** The last stored reading before ts and the first at or after it (within READING_CHECK_MS). */
async function readingsAround(telemetry: TelemetryStore, input: MeterEventInput): Promise<{ before?: number; after?: number }> {
  const filter = { enterprise: input.enterprise, site: input.site, line: input.line, device: input.device }
  const one = async (fn: 'last' | 'first', start: number, stop: number): Promise<number | undefined> => {
    const rows = await telemetry.aggregate({ measurement: TELEMETRY_MEASUREMENT, fields: [input.quantity], filter, start, stop, fn })
    return rows[0]?.value
  }
  const [before, after] = await Promise.all([one('last', input.ts - READING_CHECK_MS, input.ts), one('first', input.ts, input.ts + READING_CHECK_MS)])
  return { ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) }
}

const below = (a: number, b: number): boolean => a < b - 1e-9 * Math.max(1, Math.abs(b))

/** RECORDS_ERR_READING for each reading of the event the stored data contradicts. */
export async function readingProblems(telemetry: TelemetryStore, input: MeterEventInput): Promise<MeterEventProblem[]> {
  const { before, after } = await readingsAround(telemetry, input)
  const problems: MeterEventProblem[] = []
  const notBelowBefore = (field: string, v: number | undefined, what: string): void => {
    if (v !== undefined && before !== undefined && below(v, before))
      problems.push({ field, code: 'RECORDS_ERR_READING', message: `${v} is below ${before}, the last stored reading before the event: ${what}` })
  }
  const notAboveAfter = (field: string, v: number | undefined, what: string): void => {
    if (v !== undefined && after !== undefined && below(after, v))
      problems.push({ field, code: 'RECORDS_ERR_READING', message: `${v} is above ${after}, the first stored reading at or after the event: ${what}` })
  }
  if (input.type === 'replacement') {
    notBelowBefore('oldFinalReading', input.oldFinalReading, "the old meter's final reading cannot be lower than a reading it gave before")
    notAboveAfter('newStartReading', input.newStartReading, 'the new meter cannot have started above a reading it gave later')
  } else if (input.type === 'reset') {
    notBelowBefore('valueBefore', input.valueBefore, 'the register cannot have read less just before the reset')
    notAboveAfter('valueAfter', input.valueAfter ?? 0, 'the register cannot have read more just after the reset')
  } else {
    notBelowBefore('readingAtChange', input.readingAtChange, 'the register counts on through a ratio change')
    notAboveAfter('readingAtChange', input.readingAtChange, 'the register counts on through a ratio change')
  }
  return problems
}

function bodyOf(input: MeterEventInput): RecordBody {
  const data: Record<string, number> = {}
  for (const f of VALUE_FIELDS) {
    const v = input[f]
    if (v !== undefined) data[f] = v
  }
  if (input.type === 'reset' && data.valueAfter === undefined) data.valueAfter = 0
  const tags = { enterprise: input.enterprise, site: input.site, line: input.line, device: input.device, quantity: input.quantity, type: input.type }
  return { tags, start: input.ts, end: input.ts, data }
}

/** The event a stored revision holds; undefined for one that is not a meter event. */
export function meterEventOfRecord(r: StoredRecord): MeterEventRevision | undefined {
  const { enterprise, site, line, device, quantity, type } = r.body.tags
  if (r.kind !== METER_EVENT_KIND || !enterprise || !site || !line || !device || !quantity) return undefined
  if (!(METER_EVENT_TYPES as readonly string[]).includes(type ?? '')) return undefined
  const e: MeterEventRevision = {
    id: r.id,
    revision: r.revision,
    type: type as MeterEventType,
    enterprise,
    site,
    line,
    device,
    quantity,
    ts: r.body.start,
    enteredBy: r.user,
    enteredAt: r.at,
    voided: r.voided,
    ...(r.reason === undefined ? {} : { reason: r.reason }),
  }
  for (const f of VALUE_FIELDS) {
    const v = r.body.data[f]
    if (typeof v === 'number') e[f] = v
  }
  return e
}

/** What analytics needs of an event; undefined when a stored record lacks a field its type requires. */
export function counterEventOf(e: MeterEventInput): CounterEvent | undefined {
  switch (e.type) {
    case 'replacement':
      if (e.oldFinalReading === undefined || e.newStartReading === undefined) return undefined
      return {
        kind: 'replacement',
        ts: e.ts,
        oldFinalReading: e.oldFinalReading,
        newStartReading: e.newStartReading,
        ...(e.newModulus === undefined ? {} : { newModulus: e.newModulus }),
      }
    case 'ratio_change':
      if (e.oldRatio === undefined || e.newRatio === undefined) return undefined
      return {
        kind: 'ratio_change',
        ts: e.ts,
        oldRatio: e.oldRatio,
        newRatio: e.newRatio,
        ...(e.readingAtChange === undefined ? {} : { readingAtChange: e.readingAtChange }),
      }
    case 'reset':
      return { kind: 'reset', ts: e.ts, valueAfter: e.valueAfter ?? 0, ...(e.valueBefore === undefined ? {} : { valueBefore: e.valueBefore }) }
  }
}

export interface MeterEventQuery {
  /** One enterprise or several (a principal's); absent: all. */
  enterprise?: string | readonly string[]
  site?: string
  line?: string
  device?: string
  quantity?: string
  /** Events at start ≤ ts < end, epoch ms. */
  start: number
  end: number
}

export interface MeterEventMeta {
  user: string
  reason: string
}

export interface MeterEventBookOptions {
  /** Clock, epoch ms (default Date.now): an event in the future is refused. */
  now?: () => number
  /**
   * Called after every write with the device, quantity and the earliest instant whose energy it
   * changes (a revision: the earlier of the old and the new ts). The API and the CLI pass the counter
   * roll-up's invalidation (reports/counter-rollup.ts invalidateRollup), so every answer cached
   * under the roll-up's generation — cost, bill — is recomputed.
   */
  onChange?: (change: { device: DeviceAddress; quantity: string; fromTs: number }) => Promise<unknown>
}

/**
 * The meter events of a plant: recorded, revised and voided through the record store, checked
 * against the rules, the plant model and the stored readings. Check and write run inside the
 * store's `exclusive`, so two records of this process cannot both pass the spacing check.
 */
export class MeterEventBook {
  constructor(
    private readonly store: RecordStore,
    private readonly model: PlantModel,
    private readonly telemetry: TelemetryStore,
    private readonly options: MeterEventBookOptions = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)()
  }

  private async changed(e: MeterEventInput, fromTs: number): Promise<void> {
    const device = { enterprise: e.enterprise, site: e.site, line: e.line, device: e.device }
    await this.options.onChange?.({ device, quantity: e.quantity, fromTs })
  }

  /** Records one event: every problem refused with its code and field, nothing written. */
  async record(raw: unknown, meta: MeterEventMeta): Promise<MeterEvent> {
    const input = await this.checked(raw)
    return this.store.exclusive(async () => {
      await this.assertSpaced(input, undefined)
      const { id } = await this.store.put(METER_EVENT_KIND, bodyOf(input), meta)
      await this.changed(input, input.ts)
      return this.mustGet(id)
    })
  }

  /** Writes a revision: the whole event as it should read, why, and the revision it revises. */
  async revise(id: string, raw: unknown, meta: MeterEventMeta & { expectedRevision: number }): Promise<MeterEvent> {
    const old = await this.mustGet(id)
    const input = await this.checked(raw)
    return this.store.exclusive(async () => {
      await this.assertSpaced(input, id)
      await this.store.revise(id, bodyOf(input), meta)
      // The old device's energy changes too when a revision moved the event to another device or quantity.
      await this.changed(old, Math.min(old.ts, input.ts))
      if (deviceKey(old) !== deviceKey(input) || old.quantity !== input.quantity) await this.changed(input, input.ts)
      return this.mustGet(id)
    })
  }

  /** Voids an event: energy across it is classified from the data alone again. */
  async void(id: string, meta: MeterEventMeta & { expectedRevision: number }): Promise<MeterEventRevision> {
    const old = await this.mustGet(id)
    await this.store.void(id, meta)
    await this.changed(old, old.ts)
    return (await this.history(id)).at(-1) ?? this.notFound(id)
  }

  /** Current events matching the query, by ts. */
  async list(q: MeterEventQuery): Promise<MeterEvent[]> {
    const filter: Record<string, string | readonly string[]> = {}
    for (const k of ['enterprise', 'site', 'line', 'device', 'quantity'] as const) {
      const v = q[k]
      if (v !== undefined) filter[k] = v
    }
    const out: MeterEvent[] = []
    for (const r of await this.store.current(METER_EVENT_KIND, { filter, start: q.start, end: q.end })) {
      const e = meterEventOfRecord(r)
      if (e) out.push(withoutVoided(e))
    }
    return out.sort((a, b) => a.ts - b.ts || a.id.localeCompare(b.id))
  }

  /** The latest revision (void or not); undefined when unknown. */
  async get(id: string): Promise<MeterEventRevision | undefined> {
    return (await this.history(id)).at(-1)
  }

  /** Every revision, oldest first: who, when, why. */
  async history(id: string): Promise<MeterEventRevision[]> {
    if (kindOfRecordId(id) !== METER_EVENT_KIND) return []
    const out: MeterEventRevision[] = []
    for (const r of await this.store.history(id)) {
      const e = meterEventOfRecord(r)
      if (e) out.push(e)
    }
    return out
  }

  private async checked(raw: unknown): Promise<MeterEventInput> {
    const { input, problems } = parseMeterEventInput(raw)
    if (!input) throw meterEventError(problems)
    const rules = meterEventRuleProblems(input, this.model, this.now())
    if (rules.length > 0) throw meterEventError(rules)
    const readings = await readingProblems(this.telemetry, input)
    if (readings.length > 0) throw meterEventError(readings)
    return input
  }

  /** RECORDS_ERR_OVERLAP when another current event of the device and quantity is within EVENT_SPACING_MS. */
  private async assertSpaced(input: MeterEventInput, revising: string | undefined): Promise<void> {
    const near = await this.list({
      enterprise: input.enterprise,
      site: input.site,
      line: input.line,
      device: input.device,
      quantity: input.quantity,
      start: input.ts - EVENT_SPACING_MS + 1,
      end: input.ts + EVENT_SPACING_MS,
    })
    const other = near.find((e) => e.id !== revising)
    if (other) {
      throw meterEventError([
        {
          field: 'ts',
          code: 'RECORDS_ERR_OVERLAP',
          otherId: other.id,
          message: `${other.type} ${other.id} of the same device and quantity is at ${new Date(other.ts).toISOString()}, less than ${EVENT_SPACING_MS / 60_000} min away: revise that one instead`,
        },
      ])
    }
  }

  private async mustGet(id: string): Promise<MeterEvent> {
    const e = await this.get(id)
    if (!e) return this.notFound(id)
    return withoutVoided(e)
  }

  private notFound(id: string): never {
    throw new PlantWattError('RECORDS_ERR_NOT_FOUND', `no meter event ${id}`, { details: { field: 'id', id } })
  }
}

function withoutVoided(e: MeterEventRevision): MeterEvent {
  const { voided: _, ...event } = e
  return event
}

/**
 * The reader reports take (reports/energy.ts MeterEventReader): current events of a quantity of
 * some devices before an instant — all of their history, since a ratio change or a new modulus long
 * ago still applies — by deviceKey, with a signature (`id@revision`, …) that changes with any record,
 * revision or void.
 */
export function meterEventReader(store: RecordStore): {
  eventsOf(devices: readonly DeviceAddress[], quantity: string, before: number): Promise<Map<string, { events: CounterEvent[]; signature: string }>>
} {
  return {
    async eventsOf(devices, quantity, before) {
      const out = new Map<string, { events: CounterEvent[]; signature: string }>()
      if (devices.length === 0) return out
      const wanted = new Set(devices.map(deviceKey))
      const filter = { quantity, enterprise: [...new Set(devices.map((d) => d.enterprise))], device: [...new Set(devices.map((d) => d.device))] }
      const byDevice = new Map<string, MeterEvent[]>()
      for (const r of await store.current(METER_EVENT_KIND, { filter, start: 0, end: before })) {
        const e = meterEventOfRecord(r)
        if (!e || !wanted.has(deviceKey(e))) continue
        const key = deviceKey(e)
        byDevice.set(key, [...(byDevice.get(key) ?? []), e])
      }
      for (const [key, list] of byDevice) {
        list.sort((a, b) => a.ts - b.ts)
        const events = list.map(counterEventOf).filter((e): e is CounterEvent => e !== undefined)
        out.set(key, { events, signature: list.map((e) => `${e.id}@${e.revision}`).join(',') })
      }
      return out
    },
  }
}
