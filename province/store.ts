/**
 * The province's own indicator store: one embedded SQLite file. Every upload is kept by (enterprise,
 * indicator, subject, carrier, period, start, revision); `current` holds the newest revision of each,
 * which is all the commission reads; `quarter_counts` counts the 15-minute boundary records per
 * enterprise and local day as they arrive, so completeness needs no scan of the 15-minute rows.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { PlantWattError } from '../core/errors.ts'
import { zoneOffsetMs } from '../core/windows.ts'
import type { IndicatorRecord } from './message.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  enterprise TEXT NOT NULL, indicator TEXT NOT NULL, subject TEXT NOT NULL, carrier TEXT NOT NULL,
  period TEXT NOT NULL, start INTEGER NOT NULL, revision INTEGER NOT NULL, end INTEGER NOT NULL,
  value REAL NOT NULL, unit TEXT NOT NULL, basis TEXT NOT NULL, extra TEXT, received_at INTEGER NOT NULL, receipt TEXT NOT NULL,
  PRIMARY KEY (enterprise, indicator, subject, carrier, period, start, revision)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS current (
  enterprise TEXT NOT NULL, indicator TEXT NOT NULL, subject TEXT NOT NULL, carrier TEXT NOT NULL,
  period TEXT NOT NULL, start INTEGER NOT NULL, revision INTEGER NOT NULL, end INTEGER NOT NULL,
  value REAL NOT NULL, unit TEXT NOT NULL, basis TEXT NOT NULL, extra TEXT, received_at INTEGER NOT NULL,
  PRIMARY KEY (enterprise, indicator, subject, carrier, period, start)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_by_period ON current (period, start) WHERE period <> '15m';
CREATE TABLE IF NOT EXISTS quarter_counts (
  enterprise TEXT NOT NULL, carrier TEXT NOT NULL, day INTEGER NOT NULL, received INTEGER NOT NULL, late INTEGER NOT NULL,
  last_received_at INTEGER NOT NULL, PRIMARY KEY (enterprise, carrier, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (enterprise TEXT NOT NULL, nonce TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (enterprise, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (receipt TEXT PRIMARY KEY, enterprise TEXT NOT NULL, received_at INTEGER NOT NULL, stored INTEGER NOT NULL, duplicates INTEGER NOT NULL);
`

/** A stored record as the commission reads it. */
export interface StoredRecord extends IndicatorRecord {
  enterprise: string
  receivedAt: number
}

export interface StoreResult {
  stored: number
  duplicates: number
}

export interface QuarterCount {
  enterprise: string
  carrier: string
  /** Local day start, epoch ms. */
  day: number
  received: number
  late: number
}

type Row = Record<string, unknown>

export interface ProvinceStoreOptions {
  /** SQLite file; ':memory:' for tests. */
  path: string
  timezone: string
  /** A 15-minute record received later than this after its end is late, ms. */
  lateAfterMs: number
}

export class ProvinceStore {
  readonly #db: Database.Database
  readonly #tz: string
  readonly #lateAfterMs: number
  readonly #offsets = new Map<number, number>()
  #version = 0
  readonly #stmts

  constructor(opts: ProvinceStoreOptions) {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true })
    this.#db = new Database(opts.path)
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = NORMAL')
    this.#db.exec(SCHEMA)
    this.#tz = opts.timezone
    this.#lateAfterMs = opts.lateAfterMs
    const db = this.#db
    this.#stmts = {
      nonce: db.prepare('INSERT OR IGNORE INTO nonces (enterprise, nonce, ts) VALUES (?, ?, ?)'),
      pruneNonces: db.prepare('DELETE FROM nonces WHERE ts < ?'),
      insert: db.prepare(
        'INSERT OR IGNORE INTO records VALUES (@enterprise, @indicator, @subject, @carrier, @period, @start, @revision, @end, @value, @unit, @basis, @extra, @receivedAt, @receipt)',
      ),
      existing: db.prepare(
        'SELECT end, value, unit, basis, extra FROM records WHERE enterprise=? AND indicator=? AND subject=? AND carrier=? AND period=? AND start=? AND revision=?',
      ),
      current: db.prepare('SELECT revision FROM current WHERE enterprise=? AND indicator=? AND subject=? AND carrier=? AND period=? AND start=?'),
      upsertCurrent: db.prepare(
        'INSERT OR REPLACE INTO current VALUES (@enterprise, @indicator, @subject, @carrier, @period, @start, @revision, @end, @value, @unit, @basis, @extra, @receivedAt)',
      ),
      insertCurrent: db.prepare(
        'INSERT OR IGNORE INTO current VALUES (@enterprise, @indicator, @subject, @carrier, @period, @start, @revision, @end, @value, @unit, @basis, @extra, @receivedAt)',
      ),
      count: db.prepare(
        'INSERT INTO quarter_counts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET received = received + excluded.received, late = late + excluded.late, last_received_at = max(last_received_at, excluded.last_received_at)',
      ),
      receipt: db.prepare('INSERT OR IGNORE INTO receipts VALUES (?, ?, ?, ?, ?)'),
    }
  }

  /** Changes with every stored record: answers cached against it stay right. */
  get version(): number {
    return this.#version
  }

  /** Records a nonce; false when the enterprise used it before (a replay). Forgets nonces older than `forgetBefore`. */
  useNonce(enterprise: string, nonce: string, ts: number, forgetBefore: number): boolean {
    if (Math.random() < 0.01) this.#stmts.pruneNonces.run(forgetBefore)
    return this.#stmts.nonce.run(enterprise, nonce, ts).changes === 1
  }

  /**
   * Stores the records of one upload in one transaction: all or none. A record already held with the
   * same revision and content is a duplicate; with the same revision and other content it is refused
   * (PROVINCE_ERR_REVISION_CONFLICT) — a correction must come as a new revision.
   */
  storeUpload(enterprise: string, records: readonly IndicatorRecord[], receivedAt: number, receipt: string): StoreResult {
    const run = this.#db.transaction((): StoreResult => {
      let stored = 0
      let duplicates = 0
      // new 15-minute boundary keys per (carrier, local day): [received, late]
      const counts = new Map<string, [number, number]>()
      records.forEach((r, i) => {
        const fresh = this.#storeOne(enterprise, r, receivedAt, receipt, i)
        if (fresh === 'duplicate') {
          duplicates++
          return
        }
        stored++
        if (fresh === 'new-key' && r.indicator === 'energy' && r.subject === 'boundary' && r.period === '15m') {
          const key = `${r.carrier ?? ''}|${this.localDayStart(r.start)}`
          const c = counts.get(key) ?? [0, 0]
          c[0]++
          if (receivedAt - r.end > this.#lateAfterMs) c[1]++
          counts.set(key, c)
        }
      })
      for (const [key, [received, late]] of counts) {
        const [carrier, day] = key.split('|')
        this.#stmts.count.run(enterprise, carrier, Number(day), received, late, receivedAt)
      }
      this.#stmts.receipt.run(receipt, enterprise, receivedAt, stored, duplicates)
      return { stored, duplicates }
    })
    const result = run()
    if (result.stored > 0) this.#version++
    return result
  }

  /** 'duplicate' (held already), 'new-key' (first revision the province sees of this record) or 'revision'. */
  #storeOne(enterprise: string, r: IndicatorRecord, receivedAt: number, receipt: string, index: number): 'duplicate' | 'new-key' | 'revision' {
    const carrier = r.carrier ?? ''
    const extra = extraOf(r)
    const row = {
      enterprise,
      indicator: r.indicator,
      subject: r.subject,
      carrier,
      period: r.period,
      start: r.start,
      revision: r.revision,
      end: r.end,
      value: r.value,
      unit: r.unit,
      basis: r.basis,
      extra,
      receivedAt,
      receipt,
    }
    if (this.#stmts.insert.run(row).changes === 0) {
      const held = this.#stmts.existing.get(enterprise, r.indicator, r.subject, carrier, r.period, r.start, r.revision) as Row
      if (held.value !== r.value || held.unit !== r.unit || held.end !== r.end || held.basis !== r.basis || held.extra !== extra) {
        throw new PlantWattError(
          'PROVINCE_ERR_REVISION_CONFLICT',
          `/records/${index}: revision ${r.revision} of this period is held with other content; send a new revision`,
          {
            details: [{ path: `/records/${index}/revision`, message: 'held with other content' }],
          },
        )
      }
      return 'duplicate'
    }
    // revision 0 never replaces a held row: one statement tells whether the key is new
    if (r.revision === 0) return this.#stmts.insertCurrent.run(row).changes === 1 ? 'new-key' : 'revision'
    const cur = this.#stmts.current.get(enterprise, r.indicator, r.subject, carrier, r.period, r.start) as { revision: number } | undefined
    if (cur === undefined || cur.revision < r.revision) this.#stmts.upsertCurrent.run(row)
    return cur === undefined ? 'new-key' : 'revision'
  }

  /** Local midnight of the day holding `ts` (offset cached per hour). */
  localDayStart(ts: number): number {
    const hour = Math.floor(ts / 3_600_000)
    let off = this.#offsets.get(hour)
    if (off === undefined) {
      off = zoneOffsetMs(hour * 3_600_000, this.#tz)
      if (this.#offsets.size > 100_000) this.#offsets.clear()
      this.#offsets.set(hour, off)
    }
    return Math.floor((ts + off) / 86_400_000) * 86_400_000 - off
  }

  /** Newest revisions of the month records of the month starting at `monthStart`. */
  monthRecords(monthStart: number): StoredRecord[] {
    const rows = this.#db.prepare("SELECT * FROM current WHERE period = 'month' AND start = ?").all(monthStart) as Row[]
    return rows.map(toRecord)
  }

  /** Daily boundary energy per enterprise and carrier in [start, end): the sum and the number of days. */
  dayTotals(start: number, end: number): { enterprise: string; carrier: string; sum: number; days: number }[] {
    const sql =
      "SELECT enterprise, carrier, sum(value) AS sum, count(*) AS days FROM current WHERE period = 'day' AND indicator = 'energy' AND subject = 'boundary' AND start >= ? AND start < ? GROUP BY enterprise, carrier"
    return (this.#db.prepare(sql).all(start, end) as Row[]).map((r) => ({
      enterprise: String(r.enterprise),
      carrier: String(r.carrier),
      sum: Number(r.sum),
      days: Number(r.days),
    }))
  }

  /** Newest revisions of one enterprise's records in [start, end), optionally of one indicator and period. */
  enterpriseRecords(enterprise: string, start: number, end: number, filter: { indicator?: string; period?: string } = {}): StoredRecord[] {
    const rows = this.#db
      .prepare(
        'SELECT * FROM current WHERE enterprise = ? AND start >= ? AND start < ? AND (? IS NULL OR indicator = ?) AND (? IS NULL OR period = ?) ORDER BY indicator, subject, carrier, period, start LIMIT 20000',
      )
      .all(enterprise, start, end, filter.indicator ?? null, filter.indicator ?? null, filter.period ?? null, filter.period ?? null) as Row[]
    return rows.map(toRecord)
  }

  /** Every revision held of one record key (drill-down history). */
  revisions(
    enterprise: string,
    indicator: string,
    subject: string,
    carrier: string,
    period: string,
    start: number,
  ): { revision: number; value: number; receivedAt: number }[] {
    return (
      this.#db
        .prepare(
          'SELECT revision, value, received_at FROM records WHERE enterprise=? AND indicator=? AND subject=? AND carrier=? AND period=? AND start=? ORDER BY revision',
        )
        .all(enterprise, indicator, subject, carrier, period, start) as Row[]
    ).map((r) => ({ revision: Number(r.revision), value: Number(r.value), receivedAt: Number(r.received_at) }))
  }

  /** 15-minute boundary record counts per enterprise, carrier and local day in [start, end). */
  quarterCounts(start: number, end: number): QuarterCount[] {
    return (this.#db.prepare('SELECT enterprise, carrier, day, received, late FROM quarter_counts WHERE day >= ? AND day < ?').all(start, end) as Row[]).map(
      (r) => ({
        enterprise: String(r.enterprise),
        carrier: String(r.carrier),
        day: Number(r.day),
        received: Number(r.received),
        late: Number(r.late),
      }),
    )
  }

  /** Newest upload time per enterprise. */
  lastUploads(): Map<string, number> {
    const rows = this.#db.prepare('SELECT enterprise, max(received_at) AS at FROM receipts GROUP BY enterprise').all() as Row[]
    return new Map(rows.map((r) => [String(r.enterprise), Number(r.at)]))
  }

  /** Row counts (tests and the bench: nothing lost, nothing duplicated). */
  counts(): { records: number; current: number; receipts: number } {
    const one = (sql: string): number => Number((this.#db.prepare(sql).get() as { n: number }).n)
    return {
      records: one('SELECT count(*) AS n FROM records'),
      current: one('SELECT count(*) AS n FROM current'),
      receipts: one('SELECT count(*) AS n FROM receipts'),
    }
  }

  close(): void {
    this.#db.close()
  }
}

function extraOf(r: IndicatorRecord): string | null {
  const extra: Record<string, unknown> = {}
  if (r.coverage !== undefined) extra.coverage = r.coverage
  if (r.process !== undefined) extra.process = r.process
  if (r.ncCapable !== undefined) extra.ncCapable = r.ncCapable
  if (r.grade !== undefined) extra.grade = r.grade
  return Object.keys(extra).length === 0 ? null : JSON.stringify(extra)
}

function toRecord(r: Row): StoredRecord {
  const extra = typeof r.extra === 'string' ? (JSON.parse(r.extra) as Partial<IndicatorRecord>) : {}
  const out: StoredRecord = {
    enterprise: String(r.enterprise),
    indicator: r.indicator as IndicatorRecord['indicator'],
    subject: String(r.subject),
    period: r.period as IndicatorRecord['period'],
    start: Number(r.start),
    end: Number(r.end),
    revision: Number(r.revision),
    value: Number(r.value),
    unit: String(r.unit),
    basis: String(r.basis),
    receivedAt: Number(r.received_at),
    ...extra,
  }
  if (r.carrier !== '') out.carrier = String(r.carrier)
  return out
}
