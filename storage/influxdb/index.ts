import { PlantWattError } from '../../core/errors.ts'
import type { AggregateQuery, AggregateRow, LatestQuery, LatestRow, RawQuery, RawRow, SampleBlock, TelemetryPoint, TelemetryStore } from '../store.ts'
import { errorText, influxHttp } from './http.ts'
import { ident } from './influxql.ts'
import { aggregate, latest, raw, type InfluxReader } from './read.ts'
import { InfluxWriter } from './write.ts'
import type { RetentionConfig } from '../config.ts'
import { resolveRetention } from '../retention.ts'
import { ensureRetention, KEPT_RP, RAW_RP } from './retention.ts'

export { linePrefix, toLines } from './line-protocol.ts'
export { WRITE_BATCH_LINES, WRITE_CONCURRENCY } from './write.ts'

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
  /**
   * Retention (1.x, retention.ts): when given, PlantWatt creates the retention policies pw_raw
   * (default), pw_1m and pw_15m and the continuous queries that fill the roll-ups at start, writes raw
   * points to pw_raw (unless `retentionPolicy` names another) and reads aggregates from the roll-ups
   * where they are final. Absent: the database is used as it is (no policy or CQ is touched).
   */
  retention?: Partial<RetentionConfig> | undefined
  /** Clock of the roll-up choice, epoch ms. Default Date.now. */
  clock?: () => number
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
  const http = influxHttp(options)
  const { base, send, query } = http
  const database = options.database
  const retention = options.retention === undefined ? undefined : resolveRetention(options.retention)
  const retentionPolicy = options.retentionPolicy ?? (retention ? RAW_RP : undefined)
  const reader: InfluxReader = { database, retentionPolicy, query, ...(retention ? { rollups: { now: options.clock ?? Date.now } } : {}) }
  const writer = new InfluxWriter(http, database, retentionPolicy)
  // Measurements that do not expire (the reports' counter_15m and its state at ts 0) stay in autogen:
  // pw_raw would drop them after rawDays, and refuses points older than that outright.
  const keptReader: InfluxReader = { database, retentionPolicy: KEPT_RP, query }
  const keptWriter = new InfluxWriter(http, database, KEPT_RP)
  const kept = (measurement: string): boolean => retention !== undefined && !retention.measurements.includes(measurement)
  const readerOf = (measurement: string): InfluxReader => (kept(measurement) ? keptReader : reader)
  let closed = false

  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `influxdb store ${base} is closed`)
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
  if (retention) await ensureRetention(http, database, retention)

  return {
    backend: 'influxdb',

    async write(points: readonly TelemetryPoint[]): Promise<void> {
      assertOpen()
      if (!points.some((p) => kept(p.measurement))) return writer.writePoints(points)
      await writer.writePoints(points.filter((p) => !kept(p.measurement)))
      await keptWriter.writePoints(points.filter((p) => kept(p.measurement)))
    },

    async writeBlocks(blocks: readonly SampleBlock[]): Promise<void> {
      assertOpen()
      if (!blocks.some((b) => kept(b.measurement))) return writer.writeBlocks(blocks)
      await writer.writeBlocks(blocks.filter((b) => !kept(b.measurement)))
      await keptWriter.writeBlocks(blocks.filter((b) => kept(b.measurement)))
    },

    async aggregate(q: AggregateQuery): Promise<AggregateRow[]> {
      assertOpen()
      return aggregate(readerOf(q.measurement), q)
    },

    async raw(q: RawQuery): Promise<RawRow[]> {
      assertOpen()
      return raw(readerOf(q.measurement), q)
    },

    async latest(q: LatestQuery): Promise<LatestRow[]> {
      assertOpen()
      return latest(readerOf(q.measurement), q)
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
