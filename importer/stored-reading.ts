import { DAY_MS } from '../core/duration.ts'
import { TELEMETRY_MEASUREMENT, type AggregateRow, type TagFilter, type TelemetryStore } from '../storage/store.ts'

const MINUTE_MS = 60_000

/** A counter reading found in the store. */
export interface StoredReading {
  /** Epoch ms: exact when the store still holds the raw point, else the start of its minute (read from the 1-minute roll-up). */
  ts: number
  value: number
}

/** Where to look: one device's series of one field, in [start, stop). */
export interface ReadingQuery {
  filter: TagFilter
  field: string
  start: number
  stop: number
}

/**
 * The first or last stored reading of a field in [start, stop). Only bounded reads: the day that
 * holds it (one row per day of the range), then its minute (at most 1,440 rows), then the raw points
 * of that minute (at most 60,000, one per ms). Day and minute windows come from aggregates, which the
 * embedded store answers from its roll-ups, so a reading whose raw point has expired (storage
 * `rawDays`) is still found, at minute precision.
 */
export async function edgeReading(store: TelemetryStore, q: ReadingQuery, which: 'first' | 'last'): Promise<StoredReading | undefined> {
  const pick = <T>(rows: readonly T[]): T | undefined => (which === 'first' ? rows[0] : rows[rows.length - 1])
  const windows = async (start: number, stop: number, every: string): Promise<AggregateRow | undefined> =>
    pick(await store.aggregate({ measurement: TELEMETRY_MEASUREMENT, fields: [q.field], filter: q.filter, start, stop, every, fn: which, timezone: 'UTC' }))
  const day = await windows(q.start, q.stop, '1d')
  if (!day) return undefined
  const dayStart = Math.max(q.start, day.windowStart)
  const dayStop = Math.min(q.stop, day.windowStart + DAY_MS)
  const minute = await windows(dayStart, dayStop, '1m')
  if (!minute) return undefined
  const start = Math.max(dayStart, minute.windowStart)
  const stop = Math.min(dayStop, minute.windowStart + MINUTE_MS)
  const raw = pick(await store.raw({ measurement: TELEMETRY_MEASUREMENT, fields: [q.field], filter: q.filter, start, stop, limit: MINUTE_MS }))
  return raw ? { ts: raw.ts, value: raw.value } : { ts: start, value: minute.value }
}

/**
 * The stored reading at `at`, else the latest one before it (no earlier than `at - lookbackMs`).
 * At `at` exactly: the raw point there; once raw points have expired, the first reading of the
 * minute starting at `at` (interval data is stamped on whole minutes).
 */
export async function readingAtOrBefore(
  store: TelemetryStore,
  filter: TagFilter,
  field: string,
  at: number,
  lookbackMs: number,
): Promise<StoredReading | undefined> {
  const here = await edgeReading(store, { filter, field, start: at, stop: at % MINUTE_MS === 0 ? at + MINUTE_MS : at + 1 }, 'first')
  if (here && here.ts === at) return here
  return edgeReading(store, { filter, field, start: at - lookbackMs, stop: at }, 'last')
}

/** The first stored reading after `after` (exclusive), no later than `after + horizonMs`. */
export function readingAfter(store: TelemetryStore, filter: TagFilter, field: string, after: number, horizonMs: number): Promise<StoredReading | undefined> {
  return edgeReading(store, { filter, field, start: after + 1, stop: after + 1 + horizonMs }, 'first')
}
