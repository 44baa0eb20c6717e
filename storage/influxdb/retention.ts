import { DAY_MS, HOUR_MS } from '../../core/duration.ts'
import type { WindowRun } from '../../core/windows.ts'
import type { RetentionConfig } from '../config.ts'
import { ceilTo, floorTo, MINUTE_MS, QUARTER_HOUR_MS } from '../retention.ts'
import type { AggregateFn } from '../store.ts'
import type { InfluxHttp } from './http.ts'
import { ident } from './influxql.ts'

/**
 * Retention on InfluxDB 1.x: three retention policies and, per expiring measurement, two continuous
 * queries that PlantWatt creates (or brings up to date) at start when `storage.retention` is set:
 *
 * | retention policy | holds | duration |
 * |---|---|---|
 * | `pw_raw` (default) | raw points as written | rawDays |
 * | `pw_1m` | `<measurement>` with count_f, sum_f, min_f, max_f, first_f, last_f per field, 1-minute buckets | minuteDays |
 * | `pw_15m` | the same, 15-minute buckets | quarterHourDays |
 *
 * CQ `pw_<measurement>_1m` / `_15m`: `SELECT count(*), sum(*), min(*), max(*), first(*), last(*) INTO
 * "<db>"."pw_1m"."<m>" FROM "<db>"."pw_raw"."<m>" GROUP BY time(1m), *` with `RESAMPLE FOR 1h`
 * (`2h` for 15m), so samples up to an hour late are still counted. InfluxDB refuses points older
 * than a retention policy's duration: a replay older than rawDays is dropped by the server.
 */
export const RAW_RP = 'pw_raw'
/** Measurements that do not expire (not in retention.measurements) and the event log: never expires. */
export const KEPT_RP = 'autogen'
export const MINUTE_RP = 'pw_1m'
export const QUARTER_RP = 'pw_15m'
/** A bucket is final this long after its end (the CQs' RESAMPLE FOR, plus their run at the interval end). */
export const CQ_SETTLE_MS = 2 * HOUR_MS + QUARTER_HOUR_MS

const cqName = (measurement: string, res: '1m' | '15m'): string => `pw_${measurement.replace(/[^A-Za-z0-9_]/g, '_')}_${res}`

/** The statements that create or update the retention policies and continuous queries. */
export function retentionStatements(
  database: string,
  r: Readonly<RetentionConfig>,
  existing: { policies: Map<string, { duration: string; isDefault: boolean }>; queries: Map<string, string> },
): string[] {
  const db = ident(database)
  const out: string[] = []
  const policy = (name: string, days: number, isDefault: boolean): void => {
    const had = existing.policies.get(name)
    // SHOW RETENTION POLICIES writes durations as Go does: 720h0m0s.
    if (had && had.duration === `${days * 24}h0m0s` && had.isDefault === isDefault) return
    const verb = had ? 'ALTER' : 'CREATE'
    out.push(`${verb} RETENTION POLICY ${ident(name)} ON ${db} DURATION ${days}d REPLICATION 1${isDefault ? ' DEFAULT' : ''}`)
  }
  policy(RAW_RP, r.rawDays, true)
  policy(MINUTE_RP, r.minuteDays, false)
  policy(QUARTER_RP, r.quarterHourDays, false)
  for (const m of r.measurements) {
    for (const [res, rp, resample] of [
      ['1m', MINUTE_RP, '1h'],
      ['15m', QUARTER_RP, '2h'],
    ] as const) {
      const name = cqName(m, res)
      const text = `CREATE CONTINUOUS QUERY ${name} ON ${database} RESAMPLE FOR ${resample} BEGIN ${rollupSelect(database, m, rp, res)} END`
      const had = existing.queries.get(name)
      // influxd stores the text with identifiers unquoted.
      if (had !== undefined && had.replace(/"/g, '') === text.replace(/"/g, '')) continue
      if (had !== undefined) out.push(`DROP CONTINUOUS QUERY ${ident(name)} ON ${db}`)
      out.push(text)
    }
  }
  return out
}

/** The roll-up query of a CQ; with a time range it also fills a roll-up for data written before the CQ existed. */
export function rollupSelect(database: string, measurement: string, rp: string, res: '1m' | '15m', range?: { from: number; to: number }): string {
  const db = ident(database)
  const time = range ? ` WHERE time >= ${range.from}ms AND time < ${range.to}ms` : ''
  return `SELECT count(*), sum(*), min(*), max(*), first(*), last(*) INTO ${db}.${ident(rp)}.${ident(measurement)} FROM ${db}.${ident(RAW_RP)}.${ident(measurement)}${time} GROUP BY time(${res}), *`
}

/** Creates or updates the retention policies and CQs (idempotent: run at every start). */
export async function ensureRetention(http: InfluxHttp, database: string, r: Readonly<RetentionConfig>): Promise<string[]> {
  const [rps] = await http.query([`SHOW RETENTION POLICIES ON ${ident(database)}`], 'retention policies')
  const policies = new Map((rps?.series?.[0]?.values ?? []).map((v) => [String(v[0]), { duration: String(v[1]), isDefault: v[4] === true }]))
  const [cqs] = await http.query(['SHOW CONTINUOUS QUERIES'], 'continuous queries')
  const queries = new Map<string, string>()
  for (const s of cqs?.series ?? []) if (s.name === database) for (const v of s.values ?? []) queries.set(String(v[0]), String(v[1]))
  const statements = retentionStatements(database, r, { policies, queries })
  if (statements.length > 0) await http.query(statements, `retention policies and continuous queries of ${database}`)
  return statements
}

/** A piece of a run of windows and where it is read. */
export interface InfluxSegment {
  rp: string
  rollup: boolean
  from: number
  to: number
}

/**
 * Splits a run: whole buckets of the coarsest roll-up whose buckets never straddle a window and that
 * is final (before now − CQ_SETTLE_MS) from that roll-up, the rest from raw points. Raw points older
 * than rawDays are gone: a window starting inside a bucket that old loses that part (use windows on
 * whole minutes — every report does).
 */
export function splitRun(run: WindowRun, now: number, raw: string): InfluxSegment[] {
  const final = now - CQ_SETTLE_MS
  for (const [res, rp] of [
    [QUARTER_HOUR_MS, QUARTER_RP],
    [MINUTE_MS, MINUTE_RP],
  ] as const) {
    const aligned = run.count === 1 || (floorTo(run.origin, res) === run.origin && run.lengthMs % res === 0)
    const lo = ceilTo(run.from, res)
    const hi = Math.min(floorTo(run.to, res), floorTo(final, res))
    if (!aligned || lo >= hi) continue
    const out: InfluxSegment[] = []
    if (run.from < lo) out.push({ rp: raw, rollup: false, from: run.from, to: lo })
    out.push({ rp, rollup: true, from: lo, to: hi })
    if (hi < run.to) out.push({ rp: raw, rollup: false, from: hi, to: run.to })
    return out
  }
  return [{ rp: raw, rollup: false, from: run.from, to: run.to }]
}

/** SELECT list of one field's state in a segment (aliases suffixed by the field's index). */
export function influxStateSelect(fn: AggregateFn, field: string, i: number, rollup: boolean): string {
  const f = (prefix: string): string => ident(rollup ? `${prefix}_${field}` : field)
  switch (fn) {
    case 'mean':
    case 'sum':
    case 'count':
      return rollup ? `sum(${f('count')}) AS "c${i}", sum(${f('sum')}) AS "s${i}"` : `count(${f('')}) AS "c${i}", sum(${f('')}) AS "s${i}"`
    case 'min':
    case 'max':
    case 'spread':
      return `min(${f('min')}) AS "mn${i}", max(${f('max')}) AS "mx${i}"`
    case 'first':
      return `first(${f('first')}) AS "v${i}"`
    case 'last':
      return `last(${f('last')}) AS "v${i}"`
  }
}

/** One window's state of one field, merged over the segments in time order. */
export interface InfluxState {
  c?: number
  s?: number
  mn?: number
  mx?: number
  v?: number
}

export function mergeInfluxState(into: InfluxState, next: InfluxState, fn: AggregateFn): void {
  if (next.c !== undefined) into.c = (into.c ?? 0) + next.c
  if (next.s !== undefined) into.s = (into.s ?? 0) + next.s
  if (next.mn !== undefined) into.mn = into.mn === undefined ? next.mn : Math.min(into.mn, next.mn)
  if (next.mx !== undefined) into.mx = into.mx === undefined ? next.mx : Math.max(into.mx, next.mx)
  // Segments come in time order: the first keeps its value, the last is overwritten.
  if (next.v !== undefined && (fn === 'last' || into.v === undefined)) into.v = next.v
}

export function finalInfluxState(st: InfluxState, fn: AggregateFn): number | undefined {
  switch (fn) {
    case 'mean':
      return st.c ? (st.s as number) / st.c : undefined
    case 'sum':
      return st.c ? st.s : undefined
    case 'count':
      return st.c || undefined
    case 'min':
      return st.mn
    case 'max':
      return st.mx
    case 'spread':
      return st.mx === undefined || st.mn === undefined ? undefined : st.mx - st.mn
    default:
      return st.v
  }
}

/** Rows of a raw RP older than this are gone (with a day's margin for the shard that expires whole). */
export const rawHorizon = (r: Readonly<RetentionConfig>, now: number): number => now - r.rawDays * DAY_MS
