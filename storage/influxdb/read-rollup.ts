import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'
import { filterMatchesNothing, groupTags, sortAggregateRows, validateAggregateQuery } from '../query.ts'
import type { AggregateQuery, AggregateRow } from '../store.ts'
import { fromClause, ident, tagConditions, where } from './influxql.ts'
import type { InfluxReader } from './read.ts'
import { finalInfluxState, influxStateSelect, mergeInfluxState, splitRun, type InfluxSegment, type InfluxState } from './retention.ts'

const STATEMENTS_PER_REQUEST = 100
/** The state columns a statement may name per field (`c0`, `s0` … for field 0), in InfluxState keys. */
const STATE_KEYS = ['c', 's', 'mn', 'mx', 'v'] as const

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
  // States by group and field (key built once per series), then by window start.
  const states = new Map<string, Map<number, { tags: Record<string, string>; field: string; windowStart: number; st: InfluxState }>>()
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_REQUEST) {
    const results = await db.query(statements.slice(i, i + STATEMENTS_PER_REQUEST), `aggregate ${q.fn} of ${q.measurement}`)
    for (const result of results) {
      for (const s of result.series ?? []) {
        const tags = groupTags(s.tags ?? {}, groupBy)
        const groupValues = groupBy.map((g) => tags[g])
        const columns = q.fields.map((_, k) => STATE_KEYS.map((name) => s.columns.indexOf(`${name}${k}`)))
        const byField = q.fields.map((field) => {
          const key = JSON.stringify([groupValues, field])
          let m = states.get(key)
          if (!m) states.set(key, (m = new Map()))
          return m
        })
        for (const values of s.values ?? []) {
          const windowStart = values[0] as number
          q.fields.forEach((field, k) => {
            const next: InfluxState = {}
            let any = false
            ;(columns[k] as number[]).forEach((col, j) => {
              const v = col < 0 ? undefined : values[col]
              if (typeof v !== 'number') return
              next[STATE_KEYS[j] as (typeof STATE_KEYS)[number]] = v
              any = true
            })
            if (!any) return
            const m = byField[k] as Map<number, { tags: Record<string, string>; field: string; windowStart: number; st: InfluxState }>
            const have = m.get(windowStart)
            if (have) mergeInfluxState(have.st, next, q.fn)
            else m.set(windowStart, { tags, field, windowStart, st: next })
          })
        }
      }
    }
  }
  const rows: AggregateRow[] = []
  for (const byWindow of states.values()) {
    for (const { tags, field, windowStart, st } of byWindow.values()) {
      const value = finalInfluxState(st, q.fn)
      if (value !== undefined) rows.push({ tags: { ...tags }, field, windowStart, value })
    }
  }
  return sortAggregateRows(rows, q)
}
