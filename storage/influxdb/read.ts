import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'
import { canonicalTags, filterMatchesNothing, groupTags, sortAggregateRows, sortLatestRows, validateAggregateQuery } from '../query.ts'
import { compareRawSeries, validateRawQuery, type RawSeries } from '../raw.ts'
import type { AggregateQuery, AggregateRow, LatestQuery, LatestRow, RawQuery, RawRow } from '../store.ts'
import type { InfluxHttp, InfluxResult } from './http.ts'
import { fromClause, ident, tagConditions, where } from './influxql.ts'
import { aggregateWithRollups } from './read-rollup.ts'
import { RAW_RP } from './retention.ts'

/** At most this many InfluxQL statements per /query request. */
const STATEMENTS_PER_REQUEST = 100

/** What the reads need: the database (and retention policy) and InfluxQL over HTTP. */
export interface InfluxReader {
  database: string
  retentionPolicy: string | undefined
  query: InfluxHttp['query']
  /** With retention (retention.ts): aggregates read the roll-up policies where they are final. */
  rollups?: { now: () => number }
}

async function queryChunked(db: InfluxReader, statements: readonly string[], what: string): Promise<InfluxResult[]> {
  const out: InfluxResult[] = []
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_REQUEST) {
    out.push(...(await db.query(statements.slice(i, i + STATEMENTS_PER_REQUEST), what)))
  }
  return out
}

/** Window aggregates as runs of `GROUP BY time(length, phase)` in UTC (see createInfluxStore). */
export async function aggregate(db: InfluxReader, q: AggregateQuery): Promise<AggregateRow[]> {
  if (db.rollups) return aggregateWithRollups(db, q, db.rollups.now(), db.retentionPolicy ?? RAW_RP)
  validateAggregateQuery(q)
  const runs = windowRuns(q.start, q.stop, q.every, q.timezone ?? DEFAULT_TIMEZONE)
  if (runs.length === 0 || filterMatchesNothing(q.filter)) return []
  const groupBy = q.groupBy ?? []
  const select = q.fields.map((f, i) => `${q.fn}(${ident(f)}) AS ${ident(`v${i}`)}`).join(', ')
  const from = fromClause(q.measurement, db.database, db.retentionPolicy)
  const tagConds = tagConditions(q.filter)
  const groupTail = groupBy.map((k) => `, ${ident(k)}`).join('')
  const statements = runs.map((run) => {
    const phase = ((run.origin % run.lengthMs) + run.lengthMs) % run.lengthMs
    const conds = [`time >= ${run.from}ms`, `time < ${run.to}ms`, ...tagConds]
    return `SELECT ${select} FROM ${from}${where(conds)} GROUP BY time(${run.lengthMs}ms, ${phase}ms)${groupTail} fill(none)`
  })
  const results = await queryChunked(db, statements, `aggregate ${q.fn} of ${q.measurement}`)
  const rows: AggregateRow[] = []
  for (const result of results) {
    for (const s of result.series ?? []) {
      const tags = groupTags(s.tags ?? {}, groupBy)
      const col = q.fields.map((_, i) => s.columns.indexOf(`v${i}`))
      for (const values of s.values ?? []) {
        const windowStart = values[0] as number
        q.fields.forEach((field, i) => {
          const v = values[col[i] as number]
          // fill(none) drops only rows where every field is empty; skip the empty fields.
          if (typeof v !== 'number' || (q.fn === 'count' && v === 0)) return
          rows.push({ tags: { ...tags }, field, windowStart, value: v })
        })
      }
    }
  }
  return sortAggregateRows(rows, q)
}

/** Raw points: one statement per field, answer order and the overall limit applied here. */
export async function raw(db: InfluxReader, q: RawQuery): Promise<RawRow[]> {
  validateRawQuery(q)
  if (q.start >= q.stop || filterMatchesNothing(q.filter)) return []
  const from = fromClause(q.measurement, db.database, db.retentionPolicy)
  const conds = [`time >= ${q.start}ms`, `time < ${q.stop}ms`, ...tagConditions(q.filter)]
  // One statement per field (a point lacking the field is then not returned); LIMIT bounds each
  // series, the answer order and the overall limit are applied here.
  const statements = q.fields.map((f) => `SELECT ${ident(f)} AS "v" FROM ${from}${where(conds)} GROUP BY * ORDER BY time ASC LIMIT ${q.limit}`)
  const results = await queryChunked(db, statements, `raw read of ${q.measurement}`)
  const series: (RawSeries & { values: unknown[][]; col: number })[] = []
  results.forEach((result, i) => {
    for (const s of result.series ?? []) {
      const tags: Record<string, string> = {}
      // GROUP BY * names every tag key of the measurement; '' means this series lacks it.
      for (const [k, v] of Object.entries(s.tags ?? {})) if (v !== '') tags[k] = v
      series.push({ tags, key: canonicalTags(tags), field: q.fields[i] as string, values: s.values ?? [], col: s.columns.indexOf('v') })
    }
  })
  series.sort(compareRawSeries(q))
  const rows: RawRow[] = []
  for (const s of series) {
    // Straight into rows (a year of quarters is 35,040 values a series): no intermediate pairs.
    const tags = s.tags
    for (const v of s.values) {
      const value = v[s.col]
      if (typeof value !== 'number') continue
      if (rows.length >= q.limit) return rows
      rows.push({ tags, field: s.field, ts: v[0] as number, value })
    }
  }
  return rows
}

/** The newest value of each matching series. */
export async function latest(db: InfluxReader, q: LatestQuery): Promise<LatestRow[]> {
  if (filterMatchesNothing(q.filter)) return []
  const from = fromClause(q.measurement, db.database, db.retentionPolicy)
  let fields = q.fields
  if (!fields) {
    const [keys] = await db.query([`SHOW FIELD KEYS FROM ${from}`], `field keys of ${q.measurement}`)
    fields = (keys?.series?.[0]?.values ?? []).map((v) => String(v[0]))
  }
  if (fields.length === 0) return []
  const conds = [...(q.since !== undefined ? [`time >= ${Math.floor(q.since)}ms`] : []), ...tagConditions(q.filter)]
  // One statement per field: with several selectors in one SELECT, InfluxQL drops the point's time.
  const statements = fields.map((f) => `SELECT last(${ident(f)}) AS "v" FROM ${from}${where(conds)} GROUP BY *`)
  const results = await queryChunked(db, statements, `latest of ${q.measurement}`)
  const rows: LatestRow[] = []
  results.forEach((result, i) => {
    for (const s of result.series ?? []) {
      const col = s.columns.indexOf('v')
      const tags: Record<string, string> = {}
      // GROUP BY * names every tag key of the measurement; '' means this series lacks it.
      for (const [k, v] of Object.entries(s.tags ?? {})) if (v !== '') tags[k] = v
      for (const values of s.values ?? []) {
        const v = values[col]
        if (typeof v === 'number') rows.push({ tags, field: fields[i] as string, ts: values[0] as number, value: v })
      }
    }
  })
  return sortLatestRows(rows)
}
