import { PlantWattError } from '../core/errors.ts'
import type { RawQuery, RawRow } from './store.ts'

/** Checks and ordering of raw reads, shared by both backends so they answer alike. */

// Same rule as point names (storage/query.ts): no control characters, no backslash.
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/
const badName = (name: unknown): boolean => typeof name !== 'string' || name.length === 0 || FORBIDDEN.test(name)

/** Throws STORAGE_ERR_QUERY for a malformed raw query (a missing or non-positive limit included). */
export function validateRawQuery(q: RawQuery): void {
  const fail = (what: string): never => {
    throw new PlantWattError('STORAGE_ERR_QUERY', `raw query on ${JSON.stringify(q.measurement)}: ${what}`)
  }
  if (badName(q.measurement)) fail('measurement must be a non-empty name')
  if (!Array.isArray(q.fields) || q.fields.length === 0) fail('fields must name at least one field')
  for (const f of q.fields) if (badName(f)) fail(`bad field name ${JSON.stringify(f)}`)
  if (!Number.isSafeInteger(q.start) || !Number.isSafeInteger(q.stop)) fail('start and stop must be integer epoch milliseconds')
  if (!Number.isSafeInteger(q.limit) || q.limit < 1) fail(`limit must be a positive integer, got ${String(q.limit)}`)
}

/** A series of a raw answer: its tag set, canonical key and field. */
export interface RawSeries {
  tags: Readonly<Record<string, string>>
  /** canonicalTags(tags) */
  key: string
  field: string
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Orders series as raw answers are ordered: canonical tag set, then field in query order. */
export function compareRawSeries(q: RawQuery): (a: RawSeries, b: RawSeries) => number {
  const fieldOrder = new Map(q.fields.map((f, i) => [f, i]))
  return (a, b) => compareText(a.key, b.key) || (fieldOrder.get(a.field) ?? 0) - (fieldOrder.get(b.field) ?? 0)
}

/**
 * Appends one series' points (ordered by ts) to `rows`, stopping at `limit` rows in all.
 * Returns false once the limit is reached.
 */
export function appendRawPoints(rows: RawRow[], series: RawSeries, points: Iterable<readonly [number, number]>, limit: number): boolean {
  for (const [ts, value] of points) {
    if (rows.length >= limit) return false
    rows.push({ tags: series.tags, field: series.field, ts, value })
  }
  return rows.length < limit
}
