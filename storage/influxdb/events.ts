import { PlantWattError } from '../../core/errors.ts'
import { selectEvents, validateEvents, type EventLog, type EventQuery, type StoredEvent } from '../events.ts'
import { KEPT_RP } from './retention.ts'
import { fromClause, ident, literal, tagConditions, where } from './influxql.ts'
import type { InfluxStoreOptions } from './index.ts'
import { eventLine } from './line-protocol.ts'
import { WRITE_BATCH_LINES } from './write.ts'
import { errorText, influxHttp, type InfluxSeries } from './http.ts'

/**
 * The event log of the influxdb backend, in the same database as the telemetry: one measurement per
 * kind (`alert_event` …), the event's tags as tags, its fields as fields — numbers as floats, text as
 * string fields, booleans as booleans — so Grafana reads them with plain InfluxQL.
 *
 * Idempotence is InfluxDB's: the same measurement, tag set and time is one point. (InfluxDB merges
 * the fields of a rewritten point; PlantWatt always rewrites an event with the same field keys.)
 * A field keeps its type per measurement and shard: write a field always as the same type.
 */

function fieldCondition(key: string, value: string | number | boolean): string {
  if (typeof value === 'string') return `${ident(key)} = ${literal(value)}`
  return `${ident(key)} = ${String(value)}`
}

/**
 * Opens the event log on an InfluxDB database (the store's options). With `createDatabase` (the
 * default) runs CREATE DATABASE first, so an unreachable server fails here with STORAGE_ERR_UNAVAILABLE.
 */
export async function createInfluxEventLog(options: InfluxStoreOptions): Promise<EventLog> {
  const { base, send, query: queryAll } = influxHttp(options)
  const { database } = options
  // With retention the database's default policy is pw_raw (rawDays): events are kept, in autogen.
  const rp = options.retentionPolicy ?? (options.retention ? KEPT_RP : undefined)
  let closed = false

  async function query(statement: string, what: string): Promise<InfluxSeries[]> {
    return (await queryAll([statement], what))[0]?.series ?? []
  }

  if (options.createDatabase ?? true) await query(`CREATE DATABASE ${ident(database)}`, `create database ${database}`)

  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `influxdb event log ${base} is closed`)
  }

  return {
    backend: 'influxdb',

    async append(events: readonly StoredEvent[]): Promise<void> {
      assertOpen()
      if (events.length === 0) return
      validateEvents(events)
      const lines = events.map(eventLine)
      const params = new URLSearchParams({ db: database, precision: 'ms' })
      if (rp) params.set('rp', rp)
      for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) {
        const what = `append of ${Math.min(WRITE_BATCH_LINES, lines.length - i)} event(s) to ${database}`
        const { status, body } = await send(
          `/write?${params.toString()}`,
          { method: 'POST', body: lines.slice(i, i + WRITE_BATCH_LINES).join('\n'), headers: { 'content-type': 'text/plain; charset=utf-8' } },
          what,
        )
        if (status !== 204 && status !== 200)
          throw new PlantWattError('STORAGE_ERR_WRITE', `${what}: influxdb answered ${status}: ${errorText(body)}`, { details: { status } })
      }
    },

    async query(q: EventQuery): Promise<StoredEvent[]> {
      assertOpen()
      if (q.filter && Object.values(q.filter).some((v) => typeof v !== 'string' && v.length === 0)) return []
      const conds = [
        ...(q.start !== undefined ? [`time >= ${Math.floor(q.start)}ms`] : []),
        ...(q.stop !== undefined ? [`time < ${Math.floor(q.stop)}ms`] : []),
        ...tagConditions(q.filter),
        ...Object.entries(q.fields ?? {}).map(([k, v]) => fieldCondition(k, v)),
      ]
      const order = q.order === 'desc' ? ' ORDER BY time DESC' : ''
      // GROUP BY * puts tags in series.tags and only fields in the columns; LIMIT is per series, so
      // the global first `limit` are among the union and selectEvents cuts again.
      const limit = q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : ''
      if (q.limit === 0) return []
      const statement = `SELECT * FROM ${fromClause(q.kind, database, rp)}${where(conds)} GROUP BY *${order}${limit}`
      const series = await query(statement, `query of ${q.kind} events`)
      const out: StoredEvent[] = []
      for (const s of series) {
        const tags: Record<string, string> = {}
        // GROUP BY * names every tag key of the measurement; '' means this series lacks it.
        for (const [k, v] of Object.entries(s.tags ?? {})) if (v !== '') tags[k] = v
        for (const row of s.values ?? []) {
          const fields: Record<string, string | number | boolean> = {}
          s.columns.forEach((c, i) => {
            const v = row[i]
            if (i === 0 || v === null || v === undefined) return
            if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') fields[c] = v
          })
          out.push({ kind: q.kind, ts: row[0] as number, tags, fields })
        }
      }
      // Tag and field filters were applied by InfluxDB; order and limit across series here.
      return selectEvents(out, { kind: q.kind, order: q.order ?? 'asc', ...(q.limit !== undefined ? { limit: q.limit } : {}) })
    },

    async close(): Promise<void> {
      closed = true
    },
  }
}
