import { PlantWattError } from '../core/errors.ts'
import type { StoreConfig } from './config.ts'
import { createEmbeddedEventLog } from './embedded/events.ts'
import { createInfluxEventLog } from './influxdb/events.ts'
import type { TagFilter } from './store.ts'
import { matchesFilter } from './query.ts'

/**
 * The event log: things that happened (alert transitions, baseline revisions, imports), kept next to
 * the telemetry in the same backend so one backup holds both. Unlike telemetry, fields may be text.
 *
 * Data model: an event has a kind (InfluxDB: the measurement, e.g. `alert_event`), tags (indexed,
 * filterable: enterprise, site, line, device, rule …), fields (number, boolean or text) and a time in
 * epoch ms. Appends are idempotent by (kind, tag set, ts): appending the same event again replaces it.
 */
export interface StoredEvent {
  kind: string
  /** Epoch ms. */
  ts: number
  tags: Readonly<Record<string, string>>
  fields: Readonly<Record<string, string | number | boolean>>
}

export interface EventQuery {
  kind: string
  filter?: TagFilter
  /** Field → exact value (e.g. `{ alert_id: 'a-…' }`); an event without the field does not match. */
  fields?: Readonly<Record<string, string | number | boolean>>
  /** Inclusive, epoch ms. */
  start?: number
  /** Exclusive, epoch ms. */
  stop?: number
  /** Most events returned (after ordering). */
  limit?: number
  /** By ts; default 'asc'. */
  order?: 'asc' | 'desc'
}

export interface EventLog {
  /** 'memory' | 'embedded' | 'influxdb'. */
  readonly backend: string
  /** Durable when the promise resolves. */
  append(events: readonly StoredEvent[]): Promise<void>
  query(query: EventQuery): Promise<StoredEvent[]>
  close(): Promise<void>
}

/** Canonical identity of an event: kind, sorted tags, ts. */
export function eventIdentity(e: Pick<StoredEvent, 'kind' | 'tags' | 'ts'>): string {
  const tags = Object.keys(e.tags)
    .sort()
    .map((k) => `${k}=${e.tags[k] ?? ''}`)
    .join(',')
  return `${e.kind}|${tags}|${e.ts}`
}

/** True when the event's tags satisfy the filter (a value, or any of several values, per tag). */
export const matchesTagFilter: (tags: Readonly<Record<string, string>>, filter: TagFilter | undefined) => boolean = matchesFilter

/** Orders and cuts a list of events as `query` asks (shared by every backend that filters in memory). */
export function selectEvents(events: Iterable<StoredEvent>, query: EventQuery): StoredEvent[] {
  const out: StoredEvent[] = []
  for (const e of events) {
    if (e.kind !== query.kind) continue
    if (query.start !== undefined && e.ts < query.start) continue
    if (query.stop !== undefined && e.ts >= query.stop) continue
    if (!matchesTagFilter(e.tags, query.filter)) continue
    if (query.fields && !Object.entries(query.fields).every(([k, v]) => e.fields[k] === v)) continue
    out.push(e)
  }
  out.sort(query.order === 'desc' ? (a, b) => b.ts - a.ts : (a, b) => a.ts - b.ts)
  return query.limit === undefined ? out : out.slice(0, query.limit)
}

// As for telemetry (storage/query.ts): line protocol cannot carry line breaks, and a backslash is
// ambiguous in names and tag values. Field text may hold anything.
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/

/**
 * Throws STORAGE_ERR_INVALID_POINT naming the first bad event; every backend checks the same way
 * before writing anything. Tag values must be non-empty (InfluxDB drops empty tags).
 */
export function validateEvents(events: readonly StoredEvent[]): void {
  events.forEach((e, i) => {
    const fail = (what: string): never => {
      throw new PlantWattError('STORAGE_ERR_INVALID_POINT', `event ${i} (${String(e?.kind)} at ${String(e?.ts)}): ${what}`, { details: { index: i } })
    }
    const bad = (name: unknown): boolean => typeof name !== 'string' || name.length === 0 || FORBIDDEN.test(name)
    if (bad(e.kind)) fail('kind must be a non-empty name without control characters or backslashes')
    if (!Number.isSafeInteger(e.ts)) fail('ts must be an integer number of epoch milliseconds')
    for (const [k, v] of Object.entries(e.tags)) {
      if (bad(k) || k === 'time') fail(`bad tag name ${JSON.stringify(k)}`)
      if (bad(v)) fail(`tag ${JSON.stringify(k)} must be a non-empty value without control characters or backslashes`)
    }
    const fields = Object.entries(e.fields)
    if (fields.length === 0) fail('has no fields')
    for (const [k, v] of fields) {
      if (bad(k) || k === 'time') fail(`bad field name ${JSON.stringify(k)}`)
      if (k in e.tags) fail(`${JSON.stringify(k)} is both a tag and a field`)
      if (typeof v === 'number' && !Number.isFinite(v)) fail(`field ${JSON.stringify(k)} must be finite, got ${v}`)
      if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') fail(`field ${JSON.stringify(k)} must be a number, text or boolean`)
    }
  })
}

/**
 * Opens the event log of a storage config: the embedded backend keeps a table in the same SQLite
 * file as the telemetry, the influxdb backend writes measurements (kind) into the same database.
 */
export async function openEventLog(config: StoreConfig): Promise<EventLog> {
  switch (config.backend) {
    case 'embedded':
      return createEmbeddedEventLog(config)
    case 'influxdb':
      return createInfluxEventLog(config)
  }
}

/** An event log in memory: for a process without storage, and for tests where storage is not the point. */
export class MemoryEventLog implements EventLog {
  readonly backend = 'memory'
  private readonly events = new Map<string, StoredEvent>()

  async append(events: readonly StoredEvent[]): Promise<void> {
    validateEvents(events)
    for (const e of events) this.events.set(eventIdentity(e), { kind: e.kind, ts: e.ts, tags: { ...e.tags }, fields: { ...e.fields } })
  }

  async query(query: EventQuery): Promise<StoredEvent[]> {
    return selectEvents(this.events.values(), query)
  }

  async close(): Promise<void> {
    this.events.clear()
  }
}
