import { PlantWattError } from '../core/errors.ts'
import { AGGREGATE_FNS, type AggregateQuery, type AggregateRow, type LatestRow, type TagFilter, type TelemetryPoint } from './store.ts'

/**
 * Checks shared by both backends, so a point one backend accepts the other accepts too, and a
 * query means the same in both.
 */

// Line protocol 1.x cannot carry line breaks, and a backslash before an escaped character is
// ambiguous there (`a\\ b` ends the tag value), so names and tag values may contain neither.
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/

function badName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string'
  if (FORBIDDEN.test(name)) return 'must not contain control characters or backslashes'
  return undefined
}

/** Throws STORAGE_ERR_INVALID_POINT naming the first bad point; nothing of the batch is written then. */
export function validatePoints(points: readonly TelemetryPoint[]): void {
  // Points of one message share one tags object (ingest): check each tags object once per call.
  let checkedTags: object | undefined
  let checkedMeasurement: string | undefined
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TelemetryPoint
    if (p.measurement !== checkedMeasurement) {
      const m = badName(p.measurement)
      if (m) failPoint(i, p, `measurement ${m}`)
      checkedMeasurement = p.measurement
    }
    if (!Number.isSafeInteger(p.ts)) failPoint(i, p, 'ts must be an integer number of epoch milliseconds')
    if (p.tags !== checkedTags) {
      for (const k in p.tags) {
        const v = p.tags[k]
        const why = badName(k) ?? (k === 'time' ? 'is reserved' : undefined) ?? (badName(v) ? `value ${badName(v)}` : undefined)
        if (why) failPoint(i, p, `tag ${JSON.stringify(k)} ${why}`)
      }
      checkedTags = p.tags
    }
    let fields = 0
    for (const k in p.fields) {
      fields++
      const v = p.fields[k]
      const why = badName(k) ?? (k === 'time' ? 'is reserved' : undefined)
      if (why) failPoint(i, p, `field ${JSON.stringify(k)} ${why}`)
      if (typeof v !== 'number' || !Number.isFinite(v)) failPoint(i, p, `field ${JSON.stringify(k)} must be a finite number, got ${String(v)}`)
      if (k in p.tags) failPoint(i, p, `${JSON.stringify(k)} is both a tag and a field`)
    }
    if (fields === 0) failPoint(i, p, 'has no fields')
  }
}

function failPoint(i: number, p: TelemetryPoint | undefined, what: string): never {
  throw new PlantWattError('STORAGE_ERR_INVALID_POINT', `point ${i} (${String(p?.measurement)} at ${String(p?.ts)}): ${what}`, { details: { index: i } })
}

/** Throws STORAGE_ERR_QUERY for a malformed aggregate query. */
export function validateAggregateQuery(q: AggregateQuery): void {
  const fail = (what: string): never => {
    throw new PlantWattError('STORAGE_ERR_QUERY', `aggregate query on ${JSON.stringify(q.measurement)}: ${what}`)
  }
  if (badName(q.measurement)) fail('measurement must be a non-empty name')
  if (!AGGREGATE_FNS.includes(q.fn)) fail(`unknown fn ${JSON.stringify(q.fn)}: expected one of ${AGGREGATE_FNS.join(', ')}`)
  if (!Array.isArray(q.fields) || q.fields.length === 0) fail('fields must name at least one field')
  for (const f of q.fields) if (badName(f)) fail(`bad field name ${JSON.stringify(f)}`)
  for (const k of q.groupBy ?? []) if (badName(k)) fail(`bad group-by tag ${JSON.stringify(k)}`)
  if (!Number.isSafeInteger(q.start) || !Number.isSafeInteger(q.stop)) fail('start and stop must be integer epoch milliseconds')
}

/** True when a series' tags satisfy the filter (a missing tag matches nothing). */
export function matchesFilter(tags: Readonly<Record<string, string>>, filter: TagFilter | undefined): boolean {
  if (!filter) return true
  for (const [key, want] of Object.entries(filter)) {
    const have = tags[key]
    if (have === undefined) return false
    if (typeof want === 'string' ? have !== want : !want.includes(have)) return false
  }
  return true
}

/** True when some filter entry is an empty list: nothing can match. */
export function filterMatchesNothing(filter: TagFilter | undefined): boolean {
  return filter !== undefined && Object.values(filter).some((v) => typeof v !== 'string' && v.length === 0)
}

/** The group's tags as rows carry them: every groupBy key, '' where the series lacks the tag. */
export function groupTags(tags: Readonly<Record<string, string>>, groupBy: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of groupBy) out[k] = tags[k] ?? ''
  return out
}

/** Canonical text of a tag set: sorted by key, so equal sets have equal keys. */
export function canonicalTags(tags: Readonly<Record<string, string>>): string {
  const keys = Object.keys(tags).sort()
  const sorted: Record<string, string> = {}
  for (const k of keys) sorted[k] = tags[k] as string
  return JSON.stringify(sorted)
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Sorts aggregate rows by group tags (in groupBy order), then field (in query order), then windowStart. */
export function sortAggregateRows(rows: AggregateRow[], q: AggregateQuery): AggregateRow[] {
  const groupBy = q.groupBy ?? []
  const fieldOrder = new Map(q.fields.map((f, i) => [f, i]))
  const compare = (a: AggregateRow, b: AggregateRow): number => {
    for (const k of groupBy) {
      const c = compareText(a.tags[k] ?? '', b.tags[k] ?? '')
      if (c !== 0) return c
    }
    return (fieldOrder.get(a.field) ?? 0) - (fieldOrder.get(b.field) ?? 0) || a.windowStart - b.windowStart
  }
  // Backends mostly answer in order already (a year of quarters: 35,040 rows): one pass instead of a sort.
  let sorted = true
  for (let i = 1; i < rows.length && sorted; i++) sorted = compare(rows[i - 1] as AggregateRow, rows[i] as AggregateRow) <= 0
  return sorted ? rows : rows.sort(compare)
}

/** Sorts latest rows by canonical tag set, then field name. */
export function sortLatestRows(rows: LatestRow[]): LatestRow[] {
  const keyed = rows.map((r) => ({ r, k: canonicalTags(r.tags) }))
  keyed.sort((a, b) => compareText(a.k, b.k) || compareText(a.r.field, b.r.field))
  return keyed.map((x) => x.r)
}
