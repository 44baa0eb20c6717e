import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { DAY_MS } from '../core/duration.ts'
import { PlantWattError } from '../core/errors.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import type { TagFilter } from '../storage/store.ts'

/**
 * The audited record store: things people (or other systems) state rather than meters measure — an
 * energy entry, a production figure, a meter replaced — kept on the event log (`storage/events.ts`,
 * so both backends and one backup hold them) as revisions. A revision adds events, a void is a
 * revision that marks the record void; no revision is ever rewritten or deleted.
 *
 *   event kind  `record_<kind>` for a record covering at most SHORT_SPAN_MS, `record_<kind>-long`
 *               for a longer one (one measurement per record kind and class: a field keeps its type)
 *   tags        the body's tags (scope, carrier …) + `record` (id) + `revision` ('1', '2' …)
 *   fields      end (epoch ms), data (the body's data as JSON), user, at (epoch ms entered),
 *               reason ('' when none), voided (boolean)
 *   ts          the body's start (epoch ms), so a range query reads by time
 *
 * Writing revision n + 1 also appends a marker where revision n lies (its kind, tags and ts, plus tag
 * `superseded` = n + 1; fields end, at), in the same append. So the revisions found in a range and
 * filter tell by themselves which are current: the highest one of an id is current unless a marker
 * beside it says a later one lies elsewhere (moved to another line or period: found there, if that
 * matches). A range query reads the events starting up to SHORT_SPAN_MS (short class) or
 * MAX_RECORD_SPAN_MS (long class, few) before the range.
 *
 * Writes of one store instance run one at a time, and a revision states the revision it revises
 * (`expectedRevision`): a stale one is refused with RECORDS_ERR_CONFLICT. Two processes writing the
 * same record at the same moment are not serialised (the event log has no compare-and-set).
 */

/** A record's kind: lower case, digits and `_`, no `-` (the id starts with the kind and a `-`). */
export const RECORD_KIND_PATTERN = '^[a-z][a-z0-9_]{0,39}$'
/** An id: `<kind>-<base-36 entry time>-<8 hex digits>`. */
export const RECORD_ID_PATTERN = '^[a-z][a-z0-9_]{0,39}-[0-9a-z]{1,12}-[0-9a-f]{8}$'
/** The longest period one record may cover: a year and a day. */
export const MAX_RECORD_SPAN_MS = 366 * DAY_MS
/** Records covering at most this long (a day, a month) are kept apart from longer ones, so a range query reads little before its start. */
export const SHORT_SPAN_MS = 32 * DAY_MS
/** Tag names the store uses itself; a body may not use them. */
export const RESERVED_TAGS = ['record', 'revision', 'superseded'] as const

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** What a record states. */
export interface RecordBody {
  /** Indexed, filterable text: the scope (enterprise, site, line …) and what readers filter on. Non-empty values. */
  tags: Readonly<Record<string, string>>
  /** Start of what the record covers, epoch ms, inclusive. */
  start: number
  /** End, epoch ms, exclusive; equal to start for an instant. */
  end: number
  /** Everything else the record says, as JSON. */
  data: Readonly<Record<string, JsonValue>>
}

/** One revision of a record, as stored. */
export interface StoredRecord {
  id: string
  kind: string
  /** 1 for the first entry, +1 for each revision (a void included). */
  revision: number
  body: RecordBody
  /** True when this revision voids the record. */
  voided: boolean
  /** Who wrote this revision. */
  user: string
  /** When it was written, epoch ms. */
  at: number
  /** Why (required for a revision or a void). */
  reason?: string
}

export interface PutMeta {
  user: string
  reason?: string
  /** Entry time, epoch ms; default now. */
  at?: number
}

export interface ReviseMeta {
  user: string
  reason: string
  /** The revision being revised: the current one, or RECORDS_ERR_CONFLICT. */
  expectedRevision: number
  at?: number
}

export interface CurrentQuery {
  /** Tags of the current revision, a value or any of several per tag; `record` picks ids. */
  filter?: TagFilter
  /** Records overlapping [start, end), epoch ms; an instant at t overlaps when start ≤ t < end. */
  start: number
  end: number
}

export interface RecordStore {
  /** Writes a new record (revision 1). */
  put(kind: string, body: RecordBody, meta: PutMeta): Promise<{ id: string; revision: number }>
  /** Writes several new records of one kind at once: all or none. */
  putMany(kind: string, bodies: readonly RecordBody[], meta: PutMeta): Promise<{ id: string; revision: number }[]>
  /** Writes a new revision of a record (not voided) whose current revision is `expectedRevision`. */
  revise(id: string, body: RecordBody, meta: ReviseMeta): Promise<{ id: string; revision: number }>
  /** Voids a record: a revision with the same body, marked void. */
  void(id: string, meta: ReviseMeta): Promise<{ id: string; revision: number }>
  /** The latest revision of each record of the kind whose current body matches and overlaps; voided ones left out. Ordered by start, end, id. */
  current(kind: string, query: CurrentQuery): Promise<StoredRecord[]>
  /** The latest revision of one record (voided or not); undefined when unknown. */
  get(id: string): Promise<StoredRecord | undefined>
  /** Every revision of one record, oldest first; [] when unknown. */
  history(id: string): Promise<StoredRecord[]>
  /** Runs `fn` while no other write of this store runs (check-then-write of a caller, e.g. an overlap check). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>
}

const fail = (code: string, message: string, details?: Record<string, unknown>): never => {
  throw new PlantWattError(code, message, details === undefined ? {} : { details })
}

/** The kind named by an id; undefined when the text is not a record id. */
export function kindOfRecordId(id: string): string | undefined {
  if (!new RegExp(RECORD_ID_PATTERN).test(id)) return undefined
  return id.slice(0, id.indexOf('-'))
}

function newRecordId(kind: string, at: number): string {
  return `${kind}-${at.toString(36)}-${randomBytes(4).toString('hex')}`
}

function checkKind(kind: string): void {
  if (!new RegExp(RECORD_KIND_PATTERN).test(kind))
    fail('RECORDS_ERR_KIND', `record kind ${JSON.stringify(kind)} must match ${RECORD_KIND_PATTERN}`, { field: 'kind' })
}

/** Throws RECORDS_ERR_BODY naming the field for a body the store cannot keep as given. */
export function checkBody(body: RecordBody, index?: number): void {
  const where = index === undefined ? '' : `record ${index}: `
  const bad = (field: string, what: string): never => fail('RECORDS_ERR_BODY', `${where}${field} ${what}`, { field, ...(index === undefined ? {} : { index }) })
  if (!Number.isSafeInteger(body.start)) bad('start', 'must be an integer number of epoch milliseconds')
  if (!Number.isSafeInteger(body.end)) bad('end', 'must be an integer number of epoch milliseconds')
  if (body.end < body.start) bad('end', 'must not be before start')
  if (body.end - body.start > MAX_RECORD_SPAN_MS) bad('end', `must be at most ${MAX_RECORD_SPAN_MS / DAY_MS} days after start`)
  for (const [k, v] of Object.entries(body.tags)) {
    if ((RESERVED_TAGS as readonly string[]).includes(k)) bad(`tags.${k}`, 'is a name the store uses itself')
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(k)) bad(`tags.${k}`, 'must be a name of letters, digits and _')
    if (typeof v !== 'string' || v.length === 0 || /[\u0000-\u001f\u007f\\]/.test(v))
      bad(`tags.${k}`, 'must be non-empty text without control characters or backslashes')
  }
}

function checkMeta(meta: PutMeta, needReason: boolean): void {
  if (typeof meta.user !== 'string' || meta.user.trim() === '') fail('RECORDS_ERR_BODY', 'user must name who writes', { field: 'user' })
  if (needReason && (typeof meta.reason !== 'string' || meta.reason.trim() === ''))
    fail('RECORDS_ERR_BODY', 'reason must say why the record is revised or voided', { field: 'reason' })
  if (meta.at !== undefined && !Number.isSafeInteger(meta.at)) fail('RECORDS_ERR_BODY', 'at must be epoch milliseconds', { field: 'at' })
}

/** The event kind of a record kind and span class. */
function eventKindOf(kind: string, long: boolean): string {
  return long ? `record_${kind}-long` : `record_${kind}`
}

const isLong = (b: RecordBody): boolean => b.end - b.start > SHORT_SPAN_MS

export function recordEvent(r: StoredRecord): StoredEvent {
  return {
    kind: eventKindOf(r.kind, isLong(r.body)),
    ts: r.body.start,
    tags: { ...r.body.tags, record: r.id, revision: String(r.revision) },
    fields: { end: r.body.end, data: JSON.stringify(r.body.data), user: r.user, at: r.at, reason: r.reason ?? '', voided: r.voided },
  }
}

/** The marker beside revision `r` saying revision `by` replaces it. */
function supersededEvent(r: StoredRecord, by: number, at: number): StoredEvent {
  const e = recordEvent(r)
  return { kind: e.kind, ts: e.ts, tags: { ...e.tags, superseded: String(by) }, fields: { end: r.body.end, at } }
}

/** The revision an event holds; undefined for a marker or an event that is not one. */
export function recordOfEvent(e: StoredEvent): StoredRecord | undefined {
  const { record: id, revision, superseded, ...tags } = e.tags
  const kind = id === undefined ? undefined : kindOfRecordId(id)
  const { end, data, user, at, reason, voided } = e.fields
  if (id === undefined || kind === undefined || superseded !== undefined || revision === undefined) return undefined
  if (e.kind !== eventKindOf(kind, false) && e.kind !== eventKindOf(kind, true)) return undefined
  if (typeof end !== 'number' || typeof data !== 'string' || typeof user !== 'string' || typeof at !== 'number') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const r: StoredRecord = {
    id,
    kind,
    revision: Number(revision),
    body: { tags, start: e.ts, end, data: parsed as Record<string, JsonValue> },
    voided: voided === true,
    user,
    at,
  }
  if (typeof reason === 'string' && reason !== '') r.reason = reason
  return r
}

/**
 * The current revisions among the events of a range and filter: per id the highest revision found,
 * unless a marker found beside it says a later revision lies elsewhere.
 */
function currentOf(events: readonly StoredEvent[]): StoredRecord[] {
  const superseded = new Set<string>()
  const revisions: StoredRecord[] = []
  for (const e of events) {
    if (e.tags.superseded !== undefined) superseded.add(`${e.tags.record}@${e.tags.revision}`)
    else {
      const r = recordOfEvent(e)
      if (r) revisions.push(r)
    }
  }
  return [...latestById(revisions).values()].filter((r) => !superseded.has(`${r.id}@${r.revision}`))
}

/** The latest revision of each id among the given revisions. */
function latestById(records: readonly StoredRecord[]): Map<string, StoredRecord> {
  const latest = new Map<string, StoredRecord>()
  for (const r of records) {
    const seen = latest.get(r.id)
    if (seen === undefined || r.revision > seen.revision) latest.set(r.id, r)
  }
  return latest
}

function overlaps(b: RecordBody, start: number, end: number): boolean {
  return b.start === b.end ? b.start >= start && b.start < end : b.start < end && b.end > start
}

function matches(tags: Readonly<Record<string, string>>, filter: TagFilter | undefined): boolean {
  for (const [k, want] of Object.entries(filter ?? {})) {
    const have = tags[k]
    if (have === undefined || (typeof want === 'string' ? have !== want : !want.includes(have))) return false
  }
  return true
}

/** Runs tasks one after another; a task started inside a running one (same async context) runs at once. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve()
  private readonly inside = new AsyncLocalStorage<true>()
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inside.getStore()) return fn()
    const task = (): Promise<T> => this.inside.run(true, fn)
    const next = this.tail.then(task, task)
    this.tail = next.catch(() => undefined)
    return next
  }
}

class EventLogRecordStore implements RecordStore {
  private readonly serial = new Serial()

  constructor(
    private readonly log: EventLog,
    private readonly now: () => number,
  ) {}

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial.run(fn)
  }

  async put(kind: string, body: RecordBody, meta: PutMeta): Promise<{ id: string; revision: number }> {
    const [written] = await this.putMany(kind, [body], meta)
    return written ?? fail('RECORDS_ERR_BODY', 'nothing written')
  }

  async putMany(kind: string, bodies: readonly RecordBody[], meta: PutMeta): Promise<{ id: string; revision: number }[]> {
    checkKind(kind)
    checkMeta(meta, false)
    for (const [i, b] of bodies.entries()) checkBody(b, bodies.length === 1 ? undefined : i)
    const at = meta.at ?? this.now()
    const records: StoredRecord[] = bodies.map((body) => ({
      id: newRecordId(kind, at),
      kind,
      revision: 1,
      body: copyBody(body),
      voided: false,
      user: meta.user,
      at,
      ...(meta.reason ? { reason: meta.reason } : {}),
    }))
    // one append: the embedded log writes it in one transaction; InfluxDB in requests of 5,000 lines
    await this.log.append(records.map(recordEvent))
    return records.map((r) => ({ id: r.id, revision: r.revision }))
  }

  async revise(id: string, body: RecordBody, meta: ReviseMeta): Promise<{ id: string; revision: number }> {
    checkBody(body)
    return this.writeRevision(id, meta, () => copyBody(body), false)
  }

  async void(id: string, meta: ReviseMeta): Promise<{ id: string; revision: number }> {
    return this.writeRevision(id, meta, (latest) => latest.body, true)
  }

  private async writeRevision(
    id: string,
    meta: ReviseMeta,
    bodyOf: (latest: StoredRecord) => RecordBody,
    voided: boolean,
  ): Promise<{ id: string; revision: number }> {
    checkMeta(meta, true)
    if (!Number.isSafeInteger(meta.expectedRevision) || meta.expectedRevision < 1)
      fail('RECORDS_ERR_BODY', 'expectedRevision must be the revision being revised (1, 2 …)', { field: 'expectedRevision' })
    return this.serial.run(async () => {
      const latest = await this.get(id)
      if (latest === undefined) return fail('RECORDS_ERR_NOT_FOUND', `no record ${id}`, { field: 'id', id })
      if (latest.revision !== meta.expectedRevision)
        fail('RECORDS_ERR_CONFLICT', `record ${id} is at revision ${latest.revision}, not ${meta.expectedRevision}: read it again`, {
          field: 'expectedRevision',
          id,
          currentRevision: latest.revision,
        })
      if (latest.voided) fail('RECORDS_ERR_VOIDED', `record ${id} is void since revision ${latest.revision}`, { field: 'id', id })
      const next: StoredRecord = {
        id,
        kind: latest.kind,
        revision: latest.revision + 1,
        body: bodyOf(latest),
        voided,
        user: meta.user,
        at: meta.at ?? this.now(),
        reason: meta.reason,
      }
      // one append: the marker beside the revision it replaces and the new revision, together
      await this.log.append([supersededEvent(latest, next.revision, next.at), recordEvent(next)])
      return { id, revision: next.revision }
    })
  }

  async current(kind: string, q: CurrentQuery): Promise<StoredRecord[]> {
    checkKind(kind)
    const filter = q.filter ? { filter: q.filter } : {}
    const [short, long] = await Promise.all([
      this.log.query({ kind: eventKindOf(kind, false), start: q.start - SHORT_SPAN_MS, stop: q.end, ...filter }),
      this.log.query({ kind: eventKindOf(kind, true), start: q.start - MAX_RECORD_SPAN_MS, stop: q.end, ...filter }),
    ])
    // a record's revisions may lie in both classes: its markers tell which one is current
    return currentOf([...short, ...long])
      .filter((r) => !r.voided && overlaps(r.body, q.start, q.end) && matches({ ...r.body.tags, record: r.id }, q.filter))
      .sort((a, b) => a.body.start - b.body.start || a.body.end - b.body.end || a.id.localeCompare(b.id))
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const revisions = await this.history(id)
    return revisions[revisions.length - 1]
  }

  async history(id: string): Promise<StoredRecord[]> {
    const kind = kindOfRecordId(id)
    if (kind === undefined) return []
    const [short, long] = await Promise.all([
      this.log.query({ kind: eventKindOf(kind, false), filter: { record: id } }),
      this.log.query({ kind: eventKindOf(kind, true), filter: { record: id } }),
    ])
    return [...short, ...long]
      .map(recordOfEvent)
      .filter((r): r is StoredRecord => r !== undefined)
      .sort((a, b) => a.revision - b.revision)
  }
}

function copyBody(b: RecordBody): RecordBody {
  return { tags: { ...b.tags }, start: b.start, end: b.end, data: JSON.parse(JSON.stringify(b.data)) as Record<string, JsonValue> }
}

/** A record store on an event log (either backend, or MemoryEventLog). `now` for tests; default Date.now. */
export function createRecordStore(eventLog: EventLog, options: { now?: () => number } = {}): RecordStore {
  return new EventLogRecordStore(eventLog, options.now ?? Date.now)
}
