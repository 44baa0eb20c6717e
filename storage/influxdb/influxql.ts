import type { TagFilter } from '../store.ts'

/**
 * InfluxQL text building. The scanner accepts exactly four escapes inside quotes — \\ \' \" \n —
 * and rejects any other, so everything else is written as is.
 */
function escapeQuoted(text: string): string {
  return text.replace(/[\\'"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

/** A double-quoted identifier: measurement, field, tag key, database, retention policy. */
export function ident(name: string): string {
  return `"${escapeQuoted(name)}"`
}

/** A single-quoted string literal: tag values, time zone names. */
export function literal(value: string): string {
  return `'${escapeQuoted(value)}'`
}

/** `"db"."rp"."m"` when a retention policy is given, else `"m"` (the database comes from `db=`). */
export function fromClause(measurement: string, database: string, retentionPolicy: string | undefined): string {
  return retentionPolicy ? `${ident(database)}.${ident(retentionPolicy)}.${ident(measurement)}` : ident(measurement)
}

/** Tag equality conditions joined by AND; a list becomes an OR group. Empty string when no filter. */
export function tagConditions(filter: TagFilter | undefined): string[] {
  if (!filter) return []
  return Object.entries(filter).map(([key, want]) => {
    if (typeof want === 'string') return `${ident(key)} = ${literal(want)}`
    return `(${want.map((v) => `${ident(key)} = ${literal(v)}`).join(' OR ')})`
  })
}

/** `WHERE a AND b`, or '' when there are no conditions. */
export function where(conditions: readonly string[]): string {
  return conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : ''
}
