import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'
import { filterMatchesNothing, groupTags, sortAggregateRows, validateAggregateQuery } from '../query.ts'
import type { AggregateQuery, AggregateRow } from '../store.ts'
import { fromClause, ident, tagConditions, where } from './influxql.ts'
import type { InfluxReader } from './read.ts'
import { finalInfluxState, influxStateSelect, mergeInfluxState, splitRun, type InfluxSegment, type InfluxState } from './retention.ts'

const STATEMENTS_PER_REQUEST = 100

/**
 * aggregate() with retention (retention.ts): each run of windows is read from the coarsest final
 * roll-up retention policy for its whole buckets and from the raw policy for the rest; the pieces'
 * states (count and sum, min and max, first or last) are merged per group, window and field.
 */
export async function aggregateWithRollups(db: InfluxReader, q: AggregateQuery, now: number, rawRp: string): Promise<AggregateRow[]> {
  validateAggregateQuery(q)
  const runs = windowRuns(q.start, q.stop, q.every, q.timezone ?? DEFAULT_TIMEZONE)
  if (runs.length === 0 || filterMatchesNothing(q.filter)) return []
  const groupBy = q.groupBy ?? []
  const groupTail = groupBy.map((k) => `, ${ident(k)}`).join('')
  const tagConds = tagConditions(q.filter)
  const pieces: InfluxSegment[] = []
  const statements: string[] = []
  for (const run of runs) {
    const phase = ((run.origin % run.lengthMs) + run.lengthMs) % run.lengthMs
    for (const seg of splitRun(run, now, rawRp)) {
      const select = q.fields.map((f, i) => influxStateSelect(q.fn, f, i, seg.rollup)).join(', ')
      const conds = [`time >= ${seg.from}ms`, `time < ${seg.to}ms`, ...tagConds]
      statements.push(
        `SELECT ${select} FROM ${fromClause(q.measurement, db.database, seg.rp)}${where(conds)} GROUP BY time(${run.lengthMs}ms, ${phase}ms)${groupTail} fill(none)`,
      )
      pieces.push(seg)
    }
  }
  // Statements are in time order within each run, so merging in result order keeps first and last right.
  const states = new Map<string, { tags: Record<string, string>; field: string; windowStart: number; st: InfluxState }>()
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_REQUEST) {
    const results = await db.query(statements.slice(i, i + STATEMENTS_PER_REQUEST), `aggregate ${q.fn} of ${q.measurement}`)
    for (const result of results) {
      for (const s of result.series ?? []) {
        const tags = groupTags(s.tags ?? {}, groupBy)
        const col = (name: string): number => s.columns.indexOf(name)
        for (const values of s.values ?? []) {
          const windowStart = values[0] as number
          q.fields.forEach((field, k) => {
            const num = (name: string): number | undefined => {
              const v = values[col(`${name}${k}`)]
              return typeof v === 'number' ? v : undefined
            }
            const next: InfluxState = {}
            for (const [key, name] of [
              ['c', 'c'],
              ['s', 's'],
              ['mn', 'mn'],
              ['mx', 'mx'],
              ['v', 'v'],
            ] as const) {
              const v = num(name)
              if (v !== undefined) next[key] = v
            }
            if (Object.keys(next).length === 0) return
            const key = JSON.stringify([groupBy.map((g) => tags[g]), field, windowStart])
            const have = states.get(key)
            if (have) mergeInfluxState(have.st, next, q.fn)
            else states.set(key, { tags, field, windowStart, st: next })
          })
        }
      }
    }
  }
  const rows: AggregateRow[] = []
  for (const { tags, field, windowStart, st } of states.values()) {
    const value = finalInfluxState(st, q.fn)
    if (value !== undefined) rows.push({ tags: { ...tags }, field, windowStart, value })
  }
  return sortAggregateRows(rows, q)
}
