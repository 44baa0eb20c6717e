/**
 * The TelemetryStore contract. Every backend (embedded, influxdb) implements it and runs the one
 * contract suite in `store.contract.ts`.
 *
 * Data model (InfluxDB's): a point is a measurement, a tag set, numeric fields and a timestamp in
 * epoch milliseconds. A *series* is (measurement, tag set, field). Writes are idempotent by
 * (series, timestamp): writing the same series and timestamp again replaces the value, so a replay
 * after a fault duplicates nothing.
 */

/** The measurement telemetry samples are stored in; tags: enterprise, site, line, device. */
export const TELEMETRY_MEASUREMENT = 'telemetry'
/** Tags of the telemetry measurement, outermost first. */
export const TELEMETRY_TAGS = ['enterprise', 'site', 'line', 'device'] as const

export interface TelemetryPoint {
  measurement: string
  tags: Readonly<Record<string, string>>
  /** Field name → finite number. */
  fields: Readonly<Record<string, number>>
  /** Epoch milliseconds. */
  ts: number
}

export const AGGREGATE_FNS = ['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'spread'] as const
export type AggregateFn = (typeof AGGREGATE_FNS)[number]

/** Tag → exact value, or → any of several values. */
export type TagFilter = Readonly<Record<string, string | readonly string[]>>

export interface AggregateQuery {
  measurement: string
  fields: readonly string[]
  filter?: TagFilter
  /** Inclusive start, epoch ms. */
  start: number
  /** Exclusive stop, epoch ms. */
  stop: number
  /**
   * Window length (`core/duration.ts` syntax: 1m, 15m, 1h, 1d, 1w, 1mo, 1y). Fixed windows shorter
   * than a day align on multiples of their length from local midnight; days at local midnight;
   * weeks on Monday local midnight; months and years on the 1st, local midnight.
   * Absent: one window over the whole range, whose windowStart is `start`.
   */
  every?: string
  fn: AggregateFn
  /** Tag keys to group by; rows carry only these tags. */
  groupBy?: readonly string[]
  /** IANA time zone the windows align in. Default Asia/Shanghai. */
  timezone?: string
}

export interface AggregateRow {
  /** The group's tag values (only the keys named in groupBy). */
  tags: Record<string, string>
  field: string
  /** Window start, epoch ms. Windows without data are omitted. */
  windowStart: number
  value: number
}

export interface LatestQuery {
  measurement: string
  filter?: TagFilter
  /** Fields to return; all fields when absent. */
  fields?: readonly string[]
  /** Ignore points older than this (epoch ms). Default: no bound. */
  since?: number
}

export interface LatestRow {
  /** The full tag set of the series. */
  tags: Record<string, string>
  field: string
  /** Timestamp of this field's newest point. */
  ts: number
  value: number
}

export interface RawQuery {
  measurement: string
  fields: readonly string[]
  filter?: TagFilter
  /** Inclusive start, epoch ms. */
  start: number
  /** Exclusive stop, epoch ms. */
  stop: number
  /**
   * Most rows returned: a positive integer, required so every raw read is bounded (the API caps it).
   * The first `limit` rows in answer order are returned; ask for one more to learn whether more exist.
   */
  limit: number
}

export interface RawRow {
  /** The full tag set of the series; rows of one series may share this object: do not mutate it. */
  tags: Readonly<Record<string, string>>
  field: string
  /** Epoch ms. */
  ts: number
  value: number
}

/**
 * The samples of one payload that core/payload-scan.ts scanSamples has validated, by position in
 * the payload: a neutral structure each backend turns into its own format without decoding JSON
 * again. Sample k (0 ≤ k < samples) is the point `measurement`, `tags`, ts = slots[from + 4k], its
 * fields the members of the JSON object json[slots[from + 4k + 1], slots[from + 4k + 2]) — only
 * `"<quantity>": <plain decimal>` members (core/quantities.ts names, no escapes, no exponent), JSON
 * whitespace between tokens — followed by `seq`.
 */
export interface SampleBlock {
  measurement: string
  /** Shared by the blocks of one device, so a backend may cache what it derives from them. */
  tags: Readonly<Record<string, string>>
  /** The payload: JSON text, ASCII inside the values objects. */
  json: Uint8Array
  /** Field `seq` of every sample: a non-negative safe integer. */
  seq: number
  /**
   * SAMPLE_SLOTS (4) numbers per sample, from `from`: ts (epoch ms), values start, values end, and a
   * fingerprint of the values (for ingest's conflict window; backends ignore it).
   */
  slots: Float64Array
  from: number
  samples: number
}

/** A field writeKeepFirst did not store because the (series, ts) held another value. */
export interface WriteConflict {
  /** Index of the point in the written batch. */
  point: number
  field: string
  ts: number
  /** The value kept: the one stored first. */
  stored: number
  /** The value of the point, not stored. */
  refused: number
}

export interface TelemetryStore {
  /** Registry key of the backend: 'embedded' | 'influxdb'. */
  readonly backend: string
  /** Durable when the promise resolves; idempotent by (series, ts). */
  write(points: readonly TelemetryPoint[]): Promise<void>
  /**
   * Writes the samples of already validated payloads as write() writes their points — durable on
   * resolve, idempotent, a failure fails the call — without decoding them again or checking them
   * point by point: the caller vouches for the blocks (ingest builds them with scanSamples).
   * Both backends have it and the contract suite runs it; optional only so that test doubles with
   * write() alone still fit (ingest writes points to a store without it).
   */
  writeBlocks?(blocks: readonly SampleBlock[]): Promise<void>
  /**
   * Only on stores that can tell exactly, without a read of their own (the embedded backend):
   * writes as write() does — one transaction, durable on resolve, an invalid batch rejected whole —
   * except that a (series, ts) already stored, by an earlier call or earlier in this batch, keeps
   * its value. Resolves with every field whose value differed from the one kept (a repeat of the same
   * value is no conflict), in batch order. Ingest uses it so that a second, different sample for a
   * device and timestamp is reported instead of silently replacing the first.
   */
  writeKeepFirst?(points: readonly TelemetryPoint[]): Promise<WriteConflict[]>
  /** Window aggregates, ordered by tags, field, windowStart. */
  aggregate(query: AggregateQuery): Promise<AggregateRow[]>
  /**
   * The stored points of the matching series in [start, stop), at most `limit` rows, ordered by tag
   * set (canonical: keys sorted), field (query order), ts.
   */
  raw(query: RawQuery): Promise<RawRow[]>
  /** Newest value of each (series) matching the query. */
  latest(query: LatestQuery): Promise<LatestRow[]>
  /** Liveness check: resolves when the backend answers. */
  ping(): Promise<void>
  close(): Promise<void>
}
