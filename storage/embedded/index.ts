import type Database from 'better-sqlite3'
import { openSqlite, sqliteError } from './sqlite.ts'
import { PlantWattError } from '../../core/errors.ts'
import {
  canonicalTags,
  filterMatchesNothing,
  groupTags,
  matchesFilter,
  sortAggregateRows,
  sortLatestRows,
  validateAggregateQuery,
  validatePoints,
} from '../query.ts'
import type { AggregateFn, AggregateQuery, AggregateRow, LatestQuery, LatestRow, RawQuery, RawRow, SampleBlock, TelemetryPoint, TelemetryStore, WriteConflict } from '../store.ts'
import { blockPoints } from '../sample-block.ts'
import { appendRawPoints, compareRawSeries, validateRawQuery, type RawSeries } from '../raw.ts'
import { DEFAULT_TIMEZONE, windowRuns } from '../../core/windows.ts'

/** Options of the embedded (SQLite) store. */
export interface EmbeddedStoreOptions {
  /** Database file, created with its folder; ':memory:' for a private in-memory store. */
  path: string
  /**
   * 'normal' (default): a resolved write survives a crash of the process, not necessarily a
   * power loss or OS crash (the last commits may roll back; the file stays consistent).
   * 'full': fsync on every commit, survives power loss too, slower.
   */
  synchronous?: 'normal' | 'full'
  /** How long a writer waits for another process' write lock before failing. Default 5000. */
  busyTimeoutMs?: number
}

const SCHEMA_VERSION = 1
/** Rows a raw read fetches per SQLite call before yielding to the event loop. */
const RAW_CHUNK_ROWS = 50_000

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  measurement TEXT NOT NULL,
  tags TEXT NOT NULL,
  field TEXT NOT NULL,
  UNIQUE (measurement, tags, field)
);
CREATE TABLE IF NOT EXISTS points (
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
`

// better-sqlite3 binds every JS number as REAL: cast where integer division must happen.
const BUCKET = 'CAST(@origin AS INTEGER) + ((p.ts - CAST(@origin AS INTEGER)) / CAST(@length AS INTEGER)) * CAST(@length AS INTEGER)'

const AGG_SQL: Record<AggregateFn, string> = {
  mean: 'avg(p.value) AS v',
  min: 'min(p.value) AS v',
  max: 'max(p.value) AS v',
  sum: 'sum(p.value) AS v',
  count: 'count(*) AS v',
  spread: 'max(p.value) - min(p.value) AS v',
  // SQLite: with a single min()/max() aggregate, bare columns come from the row holding it.
  first: 'p.value AS v, min(p.ts) AS edge',
  last: 'p.value AS v, max(p.ts) AS edge',
}

interface SeriesRow {
  id: number
  measurement: string
  tags: Record<string, string>
  field: string
}

/**
 * Known series, loaded lazily and topped up from `id > maxId`: series are never deleted, and other
 * processes sharing the file (ingest) add new ones at any time.
 */
class SeriesIndex {
  private readonly byKey = new Map<string, SeriesRow>()
  private readonly byMeasurement = new Map<string, SeriesRow[]>()
  private maxId = 0

  static key(measurement: string, tagsKey: string, field: string): string {
    return `${measurement}\u0000${tagsKey}\u0000${field}`
  }

  get(key: string): SeriesRow | undefined {
    return this.byKey.get(key)
  }

  add(row: SeriesRow, key = SeriesIndex.key(row.measurement, canonicalTags(row.tags), row.field)): void {
    if (this.byKey.has(key)) return
    this.byKey.set(key, row)
    const list = this.byMeasurement.get(row.measurement)
    if (list) list.push(row)
    else this.byMeasurement.set(row.measurement, [row])
  }

  refresh(select: Database.Statement<[number], { id: number; measurement: string; tags: string; field: string }>): void {
    for (const r of select.all(this.maxId)) {
      this.add({ id: r.id, measurement: r.measurement, tags: JSON.parse(r.tags) as Record<string, string>, field: r.field })
      if (r.id > this.maxId) this.maxId = r.id
    }
  }

  of(measurement: string): readonly SeriesRow[] {
    return this.byMeasurement.get(measurement) ?? []
  }
}


/**
 * The embedded store: one SQLite file in WAL mode, which several processes may share (ingest
 * writing while the API, alerts and CLI read). No I/O beyond opening the file.
 *
 * better-sqlite3 is synchronous: each call blocks the event loop while SQLite works. A write of
 * 5,000 points takes a few milliseconds and a day of 1-minute windows over a few devices well under
 * that; very large scans (years of raw points) would stall the process for their duration — bound
 * query ranges at the API, or move such queries to a worker thread.
 */
export function createEmbeddedStore(options: EmbeddedStoreOptions): TelemetryStore {
  const { path } = options
  let db: Database.Database
  try {
    db = openSqlite(options)
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new PlantWattError('STORAGE_ERR_SCHEMA', `${path}: schema version ${version} is newer than this PlantWatt (${SCHEMA_VERSION})`)
    }
    db.exec(SCHEMA)
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`)
  } catch (cause) {
    if (cause instanceof PlantWattError) throw cause
    throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `cannot open embedded store ${path}: ${(cause as Error).message}`, { cause })
  }

  const selectNewSeries = db.prepare<[number], { id: number; measurement: string; tags: string; field: string }>(
    'SELECT id, measurement, tags, field FROM series WHERE id > ? ORDER BY id',
  )
  const upsertSeries = db.prepare<[string, string, string], { id: number }>(
    'INSERT INTO series (measurement, tags, field) VALUES (?, ?, ?) ON CONFLICT (measurement, tags, field) DO UPDATE SET field = excluded.field RETURNING id',
  )
  const upsertPoint = db.prepare<[number, number, number]>(
    'INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?) ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value',
  )
  // Keep-first: the insert leaves an existing row alone (changes = 0), and only then is it read.
  const insertPoint = db.prepare<[number, number, number]>('INSERT INTO points (series_id, ts, value) VALUES (?, ?, ?) ON CONFLICT (series_id, ts) DO NOTHING')
  const valueAt = db.prepare<[number, number], { value: number }>('SELECT value FROM points WHERE series_id = ? AND ts = ?')
  const latestOf = db.prepare<[number, number], { ts: number; value: number }>(
    'SELECT ts, value FROM points WHERE series_id = ? AND ts >= ? ORDER BY ts DESC LIMIT 1',
  )
  const rawOf = db.prepare<[number, number, number, number], [number, number]>('SELECT ts, value FROM points WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?').raw(true)
  const aggregateStatements = new Map<AggregateFn, Database.Statement>()
  const aggregateStatement = (fn: AggregateFn): Database.Statement => {
    let s = aggregateStatements.get(fn)
    if (!s) {
      // CROSS JOIN keeps the selected series as the outer loop: one (series_id, ts) range seek each.
      s = db.prepare(`
        WITH sel (series_id, grp) AS (SELECT value ->> 0, value ->> 1 FROM json_each(@series))
        SELECT sel.grp AS grp, ${BUCKET} AS ws, ${AGG_SQL[fn]}
        FROM sel CROSS JOIN points AS p
        WHERE p.series_id = sel.series_id AND p.ts >= @from AND p.ts < @to
        GROUP BY sel.grp, ws`)
      aggregateStatements.set(fn, s)
    }
    return s
  }

  const index = new SeriesIndex()
  let closed = false

  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `embedded store ${path} is closed`)
  }

  /** Writes the batch; with `conflicts`, keeps what is stored and lists the values that differed. */
  const writeBatch = db.transaction((points: readonly TelemetryPoint[], created: Map<string, SeriesRow>, conflicts: WriteConflict[] | undefined) => {
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as TelemetryPoint
      const tagsKey = canonicalTags(p.tags)
      for (const [field, value] of Object.entries(p.fields)) {
        const key = SeriesIndex.key(p.measurement, tagsKey, field)
        let series = index.get(key) ?? created.get(key)
        if (!series) {
          const row = upsertSeries.get(p.measurement, tagsKey, field) as { id: number }
          series = { id: row.id, measurement: p.measurement, tags: { ...p.tags }, field }
          created.set(key, series)
        }
        if (conflicts === undefined) upsertPoint.run(series.id, p.ts, value)
        else if (insertPoint.run(series.id, p.ts, value).changes === 0) {
          const stored = (valueAt.get(series.id, p.ts) as { value: number }).value
          if (stored !== value) conflicts.push({ point: i, field, ts: p.ts, stored, refused: value })
        }
      }
    }
  })

  function writeAll(points: readonly TelemetryPoint[], conflicts: WriteConflict[] | undefined): void {
    assertOpen()
    if (points.length === 0) return
    validatePoints(points)
    const created = new Map<string, SeriesRow>()
    try {
      // IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a deadlock
      // error when another process writes at the same time.
      writeBatch.immediate(points, created, conflicts)
    } catch (cause) {
      throw sqliteError('STORAGE_ERR_WRITE', `write of ${points.length} point(s) to ${path}`, cause)
    }
    // Only after commit: a rolled-back series id must not be remembered.
    for (const [key, row] of created) index.add(row, key)
  }

  return {
    backend: 'embedded',

    async write(points: readonly TelemetryPoint[]): Promise<void> {
      writeAll(points, undefined)
    },

    async writeBlocks(blocks: readonly SampleBlock[]): Promise<void> {
      writeAll(blocks.flatMap(blockPoints), undefined)
    },

    async writeKeepFirst(points: readonly TelemetryPoint[]): Promise<WriteConflict[]> {
      const conflicts: WriteConflict[] = []
      writeAll(points, conflicts)
      return conflicts
    },

    async aggregate(q: AggregateQuery): Promise<AggregateRow[]> {
      assertOpen()
      validateAggregateQuery(q)
      const runs = windowRuns(q.start, q.stop, q.every, q.timezone ?? DEFAULT_TIMEZONE)
      if (runs.length === 0 || filterMatchesNothing(q.filter)) return []
      try {
        index.refresh(selectNewSeries)
        const groupBy = q.groupBy ?? []
        const groups: { tags: Record<string, string>; field: string }[] = []
        const groupOf = new Map<string, number>()
        const selected: [number, number][] = []
        for (const s of index.of(q.measurement)) {
          if (!q.fields.includes(s.field) || !matchesFilter(s.tags, q.filter)) continue
          const tags = groupTags(s.tags, groupBy)
          const key = JSON.stringify([groupBy.map((k) => tags[k]), s.field])
          let g = groupOf.get(key)
          if (g === undefined) {
            g = groups.length
            groups.push({ tags, field: s.field })
            groupOf.set(key, g)
          }
          selected.push([s.id, g])
        }
        if (selected.length === 0) return []
        const series = JSON.stringify(selected)
        const statement = aggregateStatement(q.fn)
        const rows: AggregateRow[] = []
        for (const run of runs) {
          const params = { series, origin: run.origin, length: run.lengthMs, from: run.from, to: run.to }
          for (const r of statement.all(params) as { grp: number; ws: number; v: number }[]) {
            const group = groups[r.grp] as { tags: Record<string, string>; field: string }
            rows.push({ tags: { ...group.tags }, field: group.field, windowStart: r.ws, value: r.v })
          }
        }
        return sortAggregateRows(rows, q)
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_QUERY', `aggregate ${q.fn} of ${q.measurement} in ${path}`, cause)
      }
    },

    async raw(q: RawQuery): Promise<RawRow[]> {
      assertOpen()
      validateRawQuery(q)
      if (q.start >= q.stop || filterMatchesNothing(q.filter)) return []
      try {
        index.refresh(selectNewSeries)
        const selected: (RawSeries & { id: number })[] = []
        for (const s of index.of(q.measurement)) {
          if (q.fields.includes(s.field) && matchesFilter(s.tags, q.filter)) selected.push({ id: s.id, tags: s.tags, key: canonicalTags(s.tags), field: s.field })
        }
        selected.sort(compareRawSeries(q))
        const rows: RawRow[] = []
        // (series_id, ts) range seeks in answer order, each asking only for what the limit leaves, in
        // chunks with a yield between them: a long read does not stall the event loop for its whole length.
        for (const s of selected) {
          const series = { ...s, tags: { ...s.tags } }
          let from = q.start
          for (;;) {
            const want = Math.min(RAW_CHUNK_ROWS, q.limit - rows.length)
            const chunk = rawOf.all(s.id, from, q.stop, want)
            appendRawPoints(rows, series, chunk, q.limit)
            if (rows.length >= q.limit || chunk.length < want) break
            from = (chunk[chunk.length - 1] as [number, number])[0] + 1
            await new Promise<void>((resolve) => setImmediate(resolve))
            assertOpen()
          }
          if (rows.length >= q.limit) break
        }
        return rows
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_QUERY', `raw read of ${q.measurement} in ${path}`, cause)
      }
    },

    async latest(q: LatestQuery): Promise<LatestRow[]> {
      assertOpen()
      if (filterMatchesNothing(q.filter)) return []
      try {
        index.refresh(selectNewSeries)
        const since = q.since ?? Number.MIN_SAFE_INTEGER
        const rows: LatestRow[] = []
        for (const s of index.of(q.measurement)) {
          if ((q.fields && !q.fields.includes(s.field)) || !matchesFilter(s.tags, q.filter)) continue
          const p = latestOf.get(s.id, since)
          if (p) rows.push({ tags: { ...s.tags }, field: s.field, ts: p.ts, value: p.value })
        }
        return sortLatestRows(rows)
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_QUERY', `latest of ${q.measurement} in ${path}`, cause)
      }
    },

    async ping(): Promise<void> {
      assertOpen()
      try {
        db.prepare('SELECT 1').get()
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_UNAVAILABLE', `embedded store ${path}`, cause)
      }
    },

    async close(): Promise<void> {
      if (closed) return
      closed = true
      db.close()
    },
  }
}
