import type Database from 'better-sqlite3'
import { MINUTE_MS, QUARTER_HOUR_MS } from '../retention.ts'

/**
 * The SQL of the continuous roll-ups (tables from migration 2). A roll-up row holds count, sum, min,
 * max, first and last (with their ts) of one series over one bucket: every aggregate function of the
 * contract over windows made of whole buckets follows exactly from them.
 */
const COLUMNS = 'series_id, ts, count, sum, min, max, first, first_ts, last, last_ts'

/** Raw points grouped by series and bucket, with first/last values looked up by their ts. */
function fromRaw(bucketMs: number, oneSeries: boolean): string {
  const source = oneSeries
    ? 'points AS p WHERE p.series_id = @s AND p.ts >= @a AND p.ts < @b'
    : 'series AS x CROSS JOIN points AS p WHERE p.series_id = x.id AND p.ts >= @a AND p.ts < @b'
  return `SELECT g.series_id, g.b, g.c, g.s, g.mn, g.mx,
  (SELECT value FROM points WHERE series_id = g.series_id AND ts = g.fts), g.fts,
  (SELECT value FROM points WHERE series_id = g.series_id AND ts = g.lts), g.lts
FROM (SELECT p.series_id AS series_id, p.ts - (p.ts % ${bucketMs}) AS b, count(*) AS c, sum(p.value) AS s, min(p.value) AS mn, max(p.value) AS mx,
  min(p.ts) AS fts, max(p.ts) AS lts FROM ${source} GROUP BY p.series_id, b) AS g WHERE true`
}

/** Minute rows grouped into quarters of an hour. */
function quartersFromMinutes(oneSeries: boolean): string {
  const source = oneSeries
    ? 'rollup_1m AS r WHERE r.series_id = @s AND r.ts >= @a AND r.ts < @b'
    : 'series AS x CROSS JOIN rollup_1m AS r WHERE r.series_id = x.id AND r.ts >= @a AND r.ts < @b'
  return `SELECT g.series_id, g.b, g.c, g.s, g.mn, g.mx,
  (SELECT first FROM rollup_1m WHERE series_id = g.series_id AND ts = g.fts - (g.fts % ${MINUTE_MS})), g.fts,
  (SELECT last FROM rollup_1m WHERE series_id = g.series_id AND ts = g.lts - (g.lts % ${MINUTE_MS})), g.lts
FROM (SELECT r.series_id AS series_id, r.ts - (r.ts % ${QUARTER_HOUR_MS}) AS b, sum(r.count) AS c, sum(r.sum) AS s, min(r.min) AS mn, max(r.max) AS mx,
  min(r.first_ts) AS fts, max(r.last_ts) AS lts FROM ${source} GROUP BY r.series_id, b) AS g WHERE true`
}

/** Combines late points into a bucket whose raw data has expired: the stored row and the new points. */
const MERGE = `ON CONFLICT (series_id, ts) DO UPDATE SET
  count = count + excluded.count, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max),
  first = CASE WHEN excluded.first_ts < first_ts THEN excluded.first ELSE first END, first_ts = min(first_ts, excluded.first_ts),
  last = CASE WHEN excluded.last_ts > last_ts THEN excluded.last ELSE last END, last_ts = max(last_ts, excluded.last_ts)`

type Range = { a: number; b: number }
type SeriesRange = Range & { s: number }

export function prepareRollupStatements(db: Database.Database) {
  const st = {
    /** Recomputes the minutes of [a, b) of every series from raw points. */
    minutesOfRange: db.prepare<Range>(`INSERT OR REPLACE INTO rollup_1m (${COLUMNS}) ${fromRaw(MINUTE_MS, false)}`),
    /** Recomputes the quarters of [a, b) (quarter-aligned) of every series from minute rows. */
    quartersOfRange: db.prepare<Range>(`INSERT OR REPLACE INTO rollup_15m (${COLUMNS}) ${quartersFromMinutes(false)}`),
    minutesOfSeries: db.prepare<SeriesRange>(`INSERT OR REPLACE INTO rollup_1m (${COLUMNS}) ${fromRaw(MINUTE_MS, true)}`),
    quartersOfSeries: db.prepare<SeriesRange>(`INSERT OR REPLACE INTO rollup_15m (${COLUMNS}) ${quartersFromMinutes(true)}`),
    mergeMinute: db.prepare<SeriesRange>(`INSERT INTO rollup_1m (${COLUMNS}) ${fromRaw(MINUTE_MS, true)} ${MERGE}`),
    mergeQuarter: db.prepare<SeriesRange>(`INSERT INTO rollup_15m (${COLUMNS}) ${fromRaw(QUARTER_HOUR_MS, true)} ${MERGE}`),
    deleteRawOfSeries: db.prepare<SeriesRange>('DELETE FROM points WHERE series_id = @s AND ts >= @a AND ts < @b'),
    deleteMinutesOfSeries: db.prepare<SeriesRange>('DELETE FROM rollup_1m WHERE series_id = @s AND ts >= @a AND ts < @b'),
    deleteQuartersOfSeries: db.prepare<SeriesRange>('DELETE FROM rollup_15m WHERE series_id = @s AND ts >= @a AND ts < @b'),
    /** The first raw ts at or after @a over all series (one seek per series). */
    nextRawTs: db.prepare<{ a: number }, { t: number | null }>(
      'SELECT min((SELECT min(ts) FROM points WHERE series_id = x.id AND ts >= @a)) AS t FROM series AS x',
    ),
    /** The first ts at or after @a of one series, per table. */
    nextOfSeries: {
      raw: db.prepare<{ s: number; a: number }, { t: number | null }>('SELECT min(ts) AS t FROM points WHERE series_id = @s AND ts >= @a'),
      minutes: db.prepare<{ s: number; a: number }, { t: number | null }>('SELECT min(ts) AS t FROM rollup_1m WHERE series_id = @s AND ts >= @a'),
      quarters: db.prepare<{ s: number; a: number }, { t: number | null }>('SELECT min(ts) AS t FROM rollup_15m WHERE series_id = @s AND ts >= @a'),
    },
    dirty: db.prepare<[number], { ts: number; series_id: number }>('SELECT ts, series_id FROM rollup_dirty ORDER BY ts, series_id LIMIT ?'),
    firstDirty: db.prepare<[], { ts: number }>('SELECT ts FROM rollup_dirty ORDER BY ts LIMIT 1'),
    /** The first dirty minute of the series in @series (JSON [[id, …], …] as aggregate() builds it). */
    firstDirtyOf: db.prepare<{ series: string }, { ts: number | null }>(
      'SELECT min(d.ts) AS ts FROM rollup_dirty AS d WHERE d.series_id IN (SELECT value ->> 0 FROM json_each(@series))',
    ),
    deleteDirty: db.prepare<[number, number]>('DELETE FROM rollup_dirty WHERE ts = ? AND series_id = ?'),
    markDirty: db.prepare<[number, number]>('INSERT OR IGNORE INTO rollup_dirty (ts, series_id) VALUES (?, ?)'),
    state: db.prepare<[], { key: string; value: number }>('SELECT key, value FROM storage_state'),
    stateOf: db.prepare<[string], { value: number }>('SELECT value FROM storage_state WHERE key = ?'),
    setState: db.prepare<[string, number]>('INSERT INTO storage_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    seriesOf: db.prepare<[], { id: number; measurement: string }>('SELECT id, measurement FROM series'),
  }
  return st
}

export type RollupStatements = ReturnType<typeof prepareRollupStatements>

/** Keys of storage_state. */
export const STATE = {
  /** Every minute before this is rolled up (except the minutes listed in rollup_dirty). */
  rolledTo: 'rollup_to',
  /** Raw points of the expiring measurements before this are deleted. */
  rawFrom: 'raw_from',
  minuteFrom: 'minute_from',
  quarterFrom: 'quarter_from',
} as const

/** The roll-up's horizons as readers need them. */
export interface RollupHorizons {
  /** Minutes [minuteFrom, rolledTo) and quarters [quarterFrom, floor15(rolledTo)) answer exactly. */
  rolledTo: number
  rawFrom: number
  minuteFrom: number
  quarterFrom: number
}

/**
 * The horizons; with `series` (aggregate()'s JSON list of selected series), a minute written behind
 * the roll-up lowers `rolledTo` only for those series — another series' late point (report state at
 * ts 0) does not send every query to raw points that may have expired.
 */
export function readHorizons(st: RollupStatements, series?: string): RollupHorizons {
  const h: RollupHorizons = { rolledTo: 0, rawFrom: 0, minuteFrom: 0, quarterFrom: 0 }
  for (const row of st.state.all()) {
    if (row.key === STATE.rolledTo) h.rolledTo = row.value
    else if (row.key === STATE.rawFrom) h.rawFrom = row.value
    else if (row.key === STATE.minuteFrom) h.minuteFrom = row.value
    else if (row.key === STATE.quarterFrom) h.quarterFrom = row.value
  }
  const dirty = series === undefined ? st.firstDirty.get()?.ts : st.firstDirtyOf.get({ series })?.ts
  if (typeof dirty === 'number' && dirty < h.rolledTo) h.rolledTo = dirty
  return h
}
