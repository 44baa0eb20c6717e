import { PlantWattError } from '../../core/errors.ts'
import {
  filterMatchesNothing,
  groupTags,
  sortAggregateRows,
  sortLatestRows,
  validateAggregateQuery,
  validatePoints,
} from '../query.ts'
import type { AggregateQuery, AggregateRow, LatestQuery, LatestRow, LineChunk, RawQuery, RawRow, TelemetryPoint, TelemetryStore } from '../store.ts'
import { canonicalTags } from '../query.ts'
import { appendRawPoints, compareRawSeries, validateRawQuery, type RawSeries } from '../raw.ts'
import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'
import { fromClause, ident, tagConditions, where } from './influxql.ts'
import { errorText, influxHttp, type InfluxResult } from './http.ts'

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
/** At most this many /write requests of one write() call in flight together. */
export const WRITE_CONCURRENCY = 2
/** At most this many InfluxQL statements per /query request. */
const STATEMENTS_PER_REQUEST = 100

const MEASUREMENT_SPECIAL = /[, \n\r\t]/
const KEY_SPECIAL = /[, =\n\r\t]/
const ESCAPES: Record<string, string> = { ',': '\\,', ' ': '\\ ', '=': '\\=', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
const escapeMeasurement = (s: string): string => (MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \n\r\t]/g, (c) => ESCAPES[c] as string) : s)
const escapeKey = (s: string): string => (KEY_SPECIAL.test(s) ? s.replace(/[, =\n\r\t]/g, (c) => ESCAPES[c] as string) : s)

/** Escaped field keys with their "=": the same few names come in every point. */
const fieldKeys = new Map<string, string>()
const FIELD_KEY_CACHE = 10_000

/**
 * "measurement,tag=value,…" (tags sorted, empty values left out, as Point does): the start of a
 * line, before the fields. Throws STORAGE_ERR_INVALID_POINT for a name the store would refuse.
 */
export function linePrefix(measurement: string, tags: Readonly<Record<string, string>>): string {
  validatePoints([{ measurement, tags, fields: { seq: 0 }, ts: 0 }])
  return buildPrefix(measurement, tags)
}

function buildPrefix(measurement: string, tags: Readonly<Record<string, string>>): string {
  let prefix = escapeMeasurement(measurement)
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k]
    if (k && v) prefix += `,${escapeKey(k)}=${escapeKey(v)}`
  }
  return prefix
}

/**
 * One line of protocol per point, all fields as floats (so a field never changes type): the same
 * text @influxdata/influxdb-client's Point writes (keys sorted, escaped alike), built without it.
 * Ingest gives the points of one message one shared tags object, so the prefix is built once per
 * tags object within the call (not across calls: a caller may change its object between writes).
 */
export function toLines(points: readonly TelemetryPoint[]): string[] {
  const prefixes = new Map<object, { measurement: string; prefix: string }>()
  let lastTags: object | undefined
  let lastMeasurement = ''
  let lastPrefix = ''
  const lines = new Array<string>(points.length)
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TelemetryPoint
    if (p.tags !== lastTags || p.measurement !== lastMeasurement) {
      let cached = prefixes.get(p.tags)
      if (cached === undefined || cached.measurement !== p.measurement) {
        cached = { measurement: p.measurement, prefix: buildPrefix(p.measurement, p.tags) }
        prefixes.set(p.tags, cached)
      }
      lastTags = p.tags
      lastMeasurement = p.measurement
      lastPrefix = cached.prefix
    }
    const keys = Object.keys(p.fields)
    for (let j = 1; j < keys.length; j++) {
      if ((keys[j - 1] as string) > (keys[j] as string)) {
        keys.sort()
        break
      }
    }
    let line = lastPrefix
    let sep = ' '
    for (const k of keys) {
      if (!k) continue
      let key = fieldKeys.get(k)
      if (key === undefined) {
        if (fieldKeys.size >= FIELD_KEY_CACHE) fieldKeys.clear()
        key = `${escapeKey(k)}=`
        fieldKeys.set(k, key)
      }
      line += sep + key + String(p.fields[k])
      sep = ','
    }
    lines[i] = `${line} ${p.ts}`
  }
  return lines
}


/** The chunks' bytes as one body: a view when they lie back to back in one buffer (ingest's slabs), else a copy. */
function joinChunks(chunks: readonly LineChunk[]): Uint8Array {
  const first = chunks[0]?.bytes
  if (first === undefined) return new Uint8Array(0)
  let end = first.byteOffset + first.byteLength
  let contiguous = true
  for (let i = 1; i < chunks.length && contiguous; i++) {
    const b = (chunks[i] as LineChunk).bytes
    contiguous = b.buffer === first.buffer && b.byteOffset === end
    end = b.byteOffset + b.byteLength
  }
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset)
  return Buffer.concat(chunks.map((c) => c.bytes))
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
  const { base, send, query } = influxHttp(options)
  const database = options.database
  const rp = options.retentionPolicy
  let closed = false

  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `influxdb store ${base} is closed`)
  }

  async function queryChunked(statements: readonly string[], what: string): Promise<InfluxResult[]> {
    const out: InfluxResult[] = []
    for (let i = 0; i < statements.length; i += STATEMENTS_PER_REQUEST) {
      out.push(...(await query(statements.slice(i, i + STATEMENTS_PER_REQUEST), what)))
    }
    return out
  }

  async function writeRequest(body: string | Uint8Array, what: string): Promise<void> {
    const params = new URLSearchParams({ db: database, precision: 'ms' })
    if (rp) params.set('rp', rp)
    const { status, body: answer } = await send(`/write?${params.toString()}`, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' } }, what)
    if (status !== 204 && status !== 200) {
      const text = errorText(answer)
      throw new PlantWattError('STORAGE_ERR_WRITE', `${what}: influxdb answered ${status}: ${text}`, {
        cause: new Error(text),
        details: { status, influxError: text },
      })
    }
  }

  /**
   * Sends the request bodies WRITE_CONCURRENCY at a time (influxd writes them on separate cores);
   * resolves once every one is written, and any failure fails the call whole — points are
   * idempotent, so a retry of the lot is harmless.
   */
  async function writeAll(requests: readonly { body: () => string | Uint8Array; what: string }[]): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      for (let r = requests[next++]; r; r = requests[next++]) await writeRequest(r.body(), r.what)
    }
    const workers = Array.from({ length: Math.min(WRITE_CONCURRENCY, requests.length) }, worker)
    const results = await Promise.allSettled(workers)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
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
      const lines = toLines(points)
      const requests: { body: () => string; what: string }[] = []
      for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) {
        const to = Math.min(i + WRITE_BATCH_LINES, lines.length)
        requests.push({ body: () => lines.slice(i, to).join('\n'), what: `write of lines ${i + 1}–${to} of ${lines.length} to ${database}` })
      }
      await writeAll(requests)
    },

    async writeLines(chunks: readonly LineChunk[]): Promise<void> {
      assertOpen()
      let total = 0
      for (const c of chunks) total += c.lines
      // Whole chunks, about WRITE_BATCH_LINES lines a request (a chunk is never split).
      const requests: { body: () => Uint8Array; what: string }[] = []
      let first = 0
      let lines = 0
      let from = 0
      for (let i = 0; i < chunks.length; i++) {
        lines += (chunks[i] as LineChunk).lines
        if (lines >= WRITE_BATCH_LINES || i === chunks.length - 1) {
          const group = chunks.slice(first, i + 1)
          requests.push({ body: () => joinChunks(group), what: `write of lines ${from + 1}–${from + lines} of ${total} to ${database}` })
          first = i + 1
          from += lines
          lines = 0
        }
      }
      await writeAll(requests)
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

    async raw(q: RawQuery): Promise<RawRow[]> {
      assertOpen()
      validateRawQuery(q)
      if (q.start >= q.stop || filterMatchesNothing(q.filter)) return []
      const from = fromClause(q.measurement, database, rp)
      const conds = [`time >= ${q.start}ms`, `time < ${q.stop}ms`, ...tagConditions(q.filter)]
      // One statement per field (a point lacking the field is then not returned); LIMIT bounds each
      // series, the answer order and the overall limit are applied here.
      const statements = q.fields.map((f) => `SELECT ${ident(f)} AS "v" FROM ${from}${where(conds)} GROUP BY * ORDER BY time ASC LIMIT ${q.limit}`)
      const results = await queryChunked(statements, `raw read of ${q.measurement}`)
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
        const points = s.values.flatMap((v): [number, number][] => (typeof v[s.col] === 'number' ? [[v[0] as number, v[s.col] as number]] : []))
        if (!appendRawPoints(rows, s, points, q.limit)) break
      }
      return rows
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
