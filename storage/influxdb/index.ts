import { Point } from '@influxdata/influxdb-client'
import { PlantWattError } from '../../core/errors.ts'
import {
  filterMatchesNothing,
  groupTags,
  sortAggregateRows,
  sortLatestRows,
  validateAggregateQuery,
  validatePoints,
} from '../query.ts'
import type { AggregateQuery, AggregateRow, LatestQuery, LatestRow, TelemetryPoint, TelemetryStore } from '../store.ts'
import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'
import { fromClause, ident, tagConditions, where } from './influxql.ts'

/** Options of the InfluxDB store; `InfluxStoreConfig` from storage/config.ts fits. */
export interface InfluxStoreOptions {
  backend?: 'influxdb'
  /** Base URL, e.g. http://127.0.0.1:8086. */
  url: string
  /** Database (1.x) or the database name a 2.x/3.x bucket is mapped to (DBRP). */
  database: string
  /** Retention policy (1.x); default: the database's default. */
  retentionPolicy?: string
  /** 2.x/3.x API token, sent as `Authorization: Token …`. */
  token?: string
  /** 1.x user, sent with `password` as basic auth. */
  username?: string
  password?: string
  /** Run `CREATE DATABASE` at start (1.x). Default true; set false for 2.x/3.x. */
  createDatabase?: boolean
  /** Per-request timeout in ms. Default 10000. */
  timeoutMs?: number
}

/** At most this many lines per /write request. */
export const WRITE_BATCH_LINES = 5000
/** At most this many InfluxQL statements per /query request. */
const STATEMENTS_PER_REQUEST = 100

interface InfluxSeries {
  name?: string
  tags?: Record<string, string>
  columns: string[]
  values?: unknown[][]
}

interface InfluxResult {
  statement_id?: number
  series?: InfluxSeries[]
  error?: string
}

const LINE_SETTINGS = { convertTime: (t: string | number | Date | undefined): string | undefined => (t === undefined ? undefined : String(t)) }

/** Builds one line of protocol per point, all fields as floats (so a field never changes type). */
function toLine(p: TelemetryPoint): string {
  const point = new Point(p.measurement)
  for (const [k, v] of Object.entries(p.tags)) point.tag(k, v)
  for (const [k, v] of Object.entries(p.fields)) point.floatField(k, v)
  point.timestamp(p.ts)
  return point.toLineProtocol(LINE_SETTINGS) as string
}

function errorText(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown }
    if (typeof json.error === 'string') return json.error
    if (typeof json.message === 'string') return json.message
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().slice(0, 500) || '(empty body)'
}

/**
 * The InfluxDB store, over the v1-compatible HTTP API that InfluxDB 1.x, 2.x (compat endpoints) and
 * 3.x all serve: line protocol to `/write`, InfluxQL to `/query`. Windows are computed client-side
 * (core/windows.ts) and queried as runs of `GROUP BY time(length, phase)` in UTC, so they match
 * the embedded store exactly, DST and calendar months included; InfluxQL's tz() is not used.
 *
 * Resolves once `CREATE DATABASE` succeeded (when `createDatabase`, the default), so an unreachable
 * server fails at start with STORAGE_ERR_UNAVAILABLE; with `createDatabase: false` no I/O is done
 * until the first call.
 */
export async function createInfluxStore(options: InfluxStoreOptions): Promise<TelemetryStore> {
  const base = options.url.replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? 10_000
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Token ${options.token}`
  else if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
  }
  const database = options.database
  const rp = options.retentionPolicy
  let closed = false

  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `influxdb store ${base} is closed`)
  }

  async function send(path: string, init: RequestInit, what: string): Promise<{ status: number; body: string }> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(timeoutMs) })
    } catch (cause) {
      const name = (cause as Error).name
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `${what}: influxdb at ${base} did not answer within ${timeoutMs} ms`, { cause })
      }
      const code = ((cause as { cause?: { code?: unknown } }).cause?.code as string | undefined) ?? 'network error'
      throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `${what}: influxdb at ${base} is unreachable (${code})`, { cause })
    }
    return { status: res.status, body: await res.text() }
  }

  /** Runs statements in one request; returns one result per statement, throwing on any error. */
  async function query(statements: readonly string[], what: string): Promise<InfluxResult[]> {
    const form = new URLSearchParams({ db: database, epoch: 'ms', q: statements.join(';\n') })
    const { status, body } = await send(
      '/query',
      { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      what,
    )
    if (status < 200 || status >= 300) {
      const text = errorText(body)
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: influxdb answered ${status}: ${text}`, {
        cause: new Error(text),
        details: { status, influxError: text },
      })
    }
    let parsed: { results?: InfluxResult[]; error?: string }
    try {
      parsed = JSON.parse(body) as typeof parsed
    } catch (cause) {
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: influxdb answered with invalid JSON`, { cause })
    }
    if (parsed.error) throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: ${parsed.error}`, { details: { influxError: parsed.error } })
    const results = parsed.results ?? []
    const failed = results.find((r) => r.error)
    if (failed) {
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: ${failed.error as string}`, { details: { influxError: failed.error } })
    }
    if (results.length !== statements.length) {
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: expected ${statements.length} result(s), got ${results.length}`)
    }
    return results
  }

  async function queryChunked(statements: readonly string[], what: string): Promise<InfluxResult[]> {
    const out: InfluxResult[] = []
    for (let i = 0; i < statements.length; i += STATEMENTS_PER_REQUEST) {
      out.push(...(await query(statements.slice(i, i + STATEMENTS_PER_REQUEST), what)))
    }
    return out
  }

  async function writeLines(lines: readonly string[], what: string): Promise<void> {
    const params = new URLSearchParams({ db: database, precision: 'ms' })
    if (rp) params.set('rp', rp)
    const { status, body } = await send(
      `/write?${params.toString()}`,
      { method: 'POST', body: lines.join('\n'), headers: { 'content-type': 'text/plain; charset=utf-8' } },
      what,
    )
    if (status !== 204 && status !== 200) {
      const text = errorText(body)
      throw new PlantWattError('STORAGE_ERR_WRITE', `${what}: influxdb answered ${status}: ${text}`, {
        cause: new Error(text),
        details: { status, influxError: text },
      })
    }
  }

  if (options.createDatabase ?? true) {
    try {
      await query([`CREATE DATABASE ${ident(database)}`], `create database ${database}`)
    } catch (err) {
      if ((err as PlantWattError).code === 'STORAGE_ERR_QUERY') {
        throw new PlantWattError(
          'STORAGE_ERR_QUERY',
          `${(err as Error).message} (on InfluxDB 2.x/3.x create the bucket and its DBRP mapping, and set createDatabase: false)`,
          { cause: err },
        )
      }
      throw err
    }
  }

  return {
    backend: 'influxdb',

    async write(points: readonly TelemetryPoint[]): Promise<void> {
      assertOpen()
      if (points.length === 0) return
      validatePoints(points)
      const lines = points.map(toLine)
      for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) {
        const batch = lines.slice(i, i + WRITE_BATCH_LINES)
        await writeLines(batch, `write of lines ${i + 1}–${i + batch.length} of ${lines.length} to ${database}`)
      }
    },

    async aggregate(q: AggregateQuery): Promise<AggregateRow[]> {
      assertOpen()
      validateAggregateQuery(q)
      const runs = windowRuns(q.start, q.stop, q.every, q.timezone ?? DEFAULT_TIMEZONE)
      if (runs.length === 0 || filterMatchesNothing(q.filter)) return []
      const groupBy = q.groupBy ?? []
      const select = q.fields.map((f, i) => `${q.fn}(${ident(f)}) AS ${ident(`v${i}`)}`).join(', ')
      const from = fromClause(q.measurement, database, rp)
      const tagConds = tagConditions(q.filter)
      const groupTail = groupBy.map((k) => `, ${ident(k)}`).join('')
      const statements = runs.map((run) => {
        const phase = ((run.origin % run.lengthMs) + run.lengthMs) % run.lengthMs
        const conds = [`time >= ${run.from}ms`, `time < ${run.to}ms`, ...tagConds]
        return `SELECT ${select} FROM ${from}${where(conds)} GROUP BY time(${run.lengthMs}ms, ${phase}ms)${groupTail} fill(none)`
      })
      const results = await queryChunked(statements, `aggregate ${q.fn} of ${q.measurement}`)
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
    },

    async latest(q: LatestQuery): Promise<LatestRow[]> {
      assertOpen()
      if (filterMatchesNothing(q.filter)) return []
      const from = fromClause(q.measurement, database, rp)
      let fields = q.fields
      if (!fields) {
        const [keys] = await query([`SHOW FIELD KEYS FROM ${from}`], `field keys of ${q.measurement}`)
        fields = (keys?.series?.[0]?.values ?? []).map((v) => String(v[0]))
      }
      if (fields.length === 0) return []
      const conds = [...(q.since !== undefined ? [`time >= ${Math.floor(q.since)}ms`] : []), ...tagConditions(q.filter)]
      // One statement per field: with several selectors in one SELECT, InfluxQL drops the point's time.
      const statements = fields.map((f) => `SELECT last(${ident(f)}) AS "v" FROM ${from}${where(conds)} GROUP BY *`)
      const results = await queryChunked(statements, `latest of ${q.measurement}`)
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
    },

    async ping(): Promise<void> {
      assertOpen()
      const { status, body } = await send('/ping', { method: 'GET' }, 'ping')
      if (status < 200 || status >= 300) {
        throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `ping: influxdb at ${base} answered ${status}: ${errorText(body)}`)
      }
    },

    async close(): Promise<void> {
      closed = true
    },
  }
}
