/**
 * `npm run bench` part (also alone: `npm run bench -- --only storage-retention`): the embedded store
 * over years.
 *  1. bytes per value: one hour of the Hubei scenario's shape (38 devices × 20 values every second)
 *     written raw, rolled up to 1 and 15 minutes, measured with SQLite's dbstat;
 *  2. the scenario's year projected: without retention, and with the default retention (raw 90 days,
 *     1-minute 400 days, 15-minute 10 years);
 *  3. a backfill at full rate with retention active, scaled down so that it runs in about a minute
 *     (one device of 20 values, `days` days at 1 s, raw kept `rawDays`): the file never outgrows a
 *     budget computed from the measured bytes per row, and the scaled figures projected to the plant;
 *  4. the monthly report of a year (1-minute counters of one line) before and after its raw data
 *     expired: identical, and its warm time.
 * Prints one JSON object.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { validateConfig } from '../core/config.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { counterRollup } from '../reports/counter-rollup.ts'
import { monthlyReport } from '../reports/monthly.ts'
import { parseScope } from '../reports/scope.ts'
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded/index.ts'
import { DEFAULT_RETENTION } from '../storage/retention.ts'
import { type AggregateFn, type AggregateRow, TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'

const HUBEI_DEVICES = 38
const VALUES_PER_DEVICE = 20
const FIELDS = Array.from({ length: VALUES_PER_DEVICE }, (_, k) => `q${String(k).padStart(2, '0')}`)
const T0 = Date.UTC(2026, 0, 4, 16) // a Monday, local midnight in Asia/Shanghai
const BATCH = 5000

export interface StorageRetentionOptions {
  /** Backfill length, days (default 6; `--days 30` for the month at full rate). */
  days?: number
  /** Raw retention of the backfill, days (default 2: scaled like the backfill; at least 2). */
  rawDays?: number
}

/** The backfill's own report: per field one aggregate, per local day and over the whole range. */
const BACKFILL_REPORT: readonly { field: string; fn: AggregateFn }[] = [
  { field: 'q00', fn: 'spread' }, // the counter: energy of the day
  { field: 'q00', fn: 'last' },
  { field: 'q01', fn: 'mean' },
  { field: 'q02', fn: 'max' },
  { field: 'q03', fn: 'min' },
  { field: 'q04', fn: 'count' },
]

/** The report of the backfill's first `reportDays` days: per day and the whole range, every aggregate of BACKFILL_REPORT. */
async function backfillReport(store: EmbeddedStore, reportDays: number): Promise<AggregateRow[]> {
  const rows: AggregateRow[] = []
  for (const every of ['1d', undefined]) {
    for (const { field, fn } of BACKFILL_REPORT) {
      const q = { measurement: TELEMETRY_MEASUREMENT, fields: [field], start: T0, stop: T0 + reportDays * DAY_MS, fn, timezone: 'Asia/Shanghai' }
      for (const r of await store.aggregate(every === undefined ? q : { ...q, every })) rows.push({ ...r, field: `${fn}(${r.field})${every ?? ''}` })
    }
  }
  return rows
}

/** Largest relative difference between two reports of the same rows (Infinity when their shapes differ). */
function largestRelativeDifference(a: readonly AggregateRow[], b: readonly AggregateRow[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY
  let worst = 0
  a.forEach((r, i) => {
    const o = b[i]
    if (o === undefined || o.field !== r.field || o.windowStart !== r.windowStart) worst = Number.POSITIVE_INFINITY
    else worst = Math.max(worst, Math.abs(o.value - r.value) / Math.max(Math.abs(r.value), 1e-12))
  })
  return worst
}

interface Sizes {
  rawBytesPerValue: number
  minuteBytesPerRow: number
  quarterBytesPerRow: number
}

function tableBytes(path: string): Map<string, number> {
  const db = new Database(path, { readonly: true })
  try {
    return new Map((db.prepare('SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name').all() as { name: string; b: number }[]).map((r) => [r.name, r.b]))
  } finally {
    db.close()
  }
}

function rows(path: string, table: string): number {
  const db = new Database(path, { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

const fileBytes = (path: string): number => statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0)

/** A plausible meter reading: slow wave per field and device, counters rising. */
function readingOf(device: number, field: number, ts: number): number {
  const s = ts / 1000
  return field === 0 ? 1e5 + s * 0.1 * (device + 1) : Math.round((200 + 50 * Math.sin(s / 300 + device + field)) * 100) / 100
}

async function writeSeconds(store: EmbeddedStore, devices: number, from: number, to: number, afterBatch?: (ts: number) => void): Promise<number> {
  let batch: TelemetryPoint[] = []
  let values = 0
  for (let ts = from; ts < to; ts += 1000) {
    for (let d = 0; d < devices; d++) {
      const fields: Record<string, number> = {}
      for (let f = 0; f < VALUES_PER_DEVICE; f++) fields[FIELDS[f] as string] = readingOf(d, f, ts)
      batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: { enterprise: 'hb', site: 's1', line: 'l1', device: `m${d}` }, fields, ts })
    }
    if (batch.length * VALUES_PER_DEVICE >= BATCH * 4) {
      await store.write(batch)
      values += batch.length * VALUES_PER_DEVICE
      batch = []
      afterBatch?.(ts)
    }
  }
  if (batch.length > 0) await store.write(batch)
  return values + batch.length * VALUES_PER_DEVICE
}

/** 1. One hour of the scenario, raw and rolled up. */
async function measureSizes(dir: string): Promise<Sizes & { values: number; writeValuesPerS: number; rollupMs: number }> {
  const path = join(dir, 'sizes.db')
  const store = createEmbeddedStore({ path, retention: {}, clock: () => T0 + HOUR_MS + 2 * MINUTE_MS, maintenanceIntervalMs: 0 })
  const t0 = performance.now()
  const values = await writeSeconds(store, HUBEI_DEVICES, T0, T0 + HOUR_MS)
  const writeS = (performance.now() - t0) / 1000
  const r0 = performance.now()
  store.maintain()
  const rollupMs = performance.now() - r0
  await store.close()
  const b = tableBytes(path)
  return {
    values,
    writeValuesPerS: Math.round(values / writeS),
    rollupMs: Math.round(rollupMs),
    rawBytesPerValue: (b.get('points') ?? 0) / rows(path, 'points'),
    minuteBytesPerRow: (b.get('rollup_1m') ?? 0) / rows(path, 'rollup_1m'),
    quarterBytesPerRow: (b.get('rollup_15m') ?? 0) / rows(path, 'rollup_15m'),
  }
}

/** 2. The scenario's year, from the measured sizes. */
function projectYear(s: Sizes): Record<string, number> {
  const series = HUBEI_DEVICES * VALUES_PER_DEVICE
  const rawPerDay = series * 86_400 * s.rawBytesPerValue
  const minutePerDay = series * 1440 * s.minuteBytesPerRow
  const quarterPerDay = series * 96 * s.quarterBytesPerRow
  const r = DEFAULT_RETENTION
  const GB = 1e9
  return {
    rawPerDayGB: rawPerDay / GB,
    yearWithoutRetentionGB: (365 * rawPerDay) / GB,
    yearWithRetentionGB: (Math.min(365, r.rawDays) * rawPerDay + Math.min(365, r.minuteDays) * minutePerDay + 365 * quarterPerDay) / GB,
    tenYearsWithRetentionGB: (r.rawDays * rawPerDay + r.minuteDays * minutePerDay + 3650 * quarterPerDay) / GB,
  }
}

/** 3. Backfill at 1 s with retention active, the clock following the data. */
async function backfill(dir: string, days: number, rawDays: number, s: Sizes) {
  const path = join(dir, 'backfill.db')
  let now = T0
  const store = createEmbeddedStore({
    path,
    retention: { rawDays, minuteDays: rawDays + 1, quarterHourDays: 3660 },
    clock: () => now,
    maintenanceIntervalMs: 0,
  })
  const series = VALUES_PER_DEVICE
  // Steady state: rawDays of raw (+ the slice not yet expired), minutes for minuteDays, all quarters; 25 % for free pages and the WAL.
  const budget = Math.round(
    1.25 *
      (series * 86_400 * (rawDays + 0.25) * s.rawBytesPerValue +
        series * 1440 * (rawDays + 1.25) * s.minuteBytesPerRow +
        series * 96 * days * s.quarterBytesPerRow) +
      4 * 1024 * 1024,
  )
  let peak = 0
  let maintenanceMs = 0
  let longestRunMs = 0
  // The first reportDays days, reported once all are written and before any of their raw expires
  // (the clock an hour short of rawDays), and again at the end, answered by 15-minute roll-ups alone.
  const reportDays = Math.max(1, Math.min(rawDays - 1, days - rawDays - 2))
  let reportBefore: Promise<AggregateRow[]> | undefined
  let reportMs = 0
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const values = await writeSeconds(store, 1, T0, T0 + days * DAY_MS, (ts) => {
    now = ts + 1000
    if (reportBefore === undefined && now >= T0 + rawDays * DAY_MS - HOUR_MS) {
      store.maintain()
      const r0 = performance.now()
      reportBefore = backfillReport(store, reportDays).finally(() => {
        reportMs = performance.now() - r0
      })
    }
    const m0 = performance.now()
    // Until nothing is left: at backfill speed the plant's hours arrive in seconds, and retention must
    // keep pace with them; each step stays short (longestStepMs), the share of time it takes is reported.
    store.maintain()
    const took = performance.now() - m0
    maintenanceMs += took
    longestRunMs = Math.max(longestRunMs, took)
    peak = Math.max(peak, fileBytes(path))
  })
  now = T0 + days * DAY_MS + 2 * MINUTE_MS
  store.maintain()
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(c0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  const stats = store.maintenanceStats()
  peak = Math.max(peak, fileBytes(path))
  const before = (await reportBefore) ?? []
  const r0 = performance.now()
  const after = await backfillReport(store, reportDays)
  const reportAfterMs = performance.now() - r0
  const walBytes = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0
  await store.close()
  const tables = tableBytes(path)
  const db = new Database(path, { readonly: true })
  const freeBytes = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
  db.close()
  return {
    scaled: `1 device × ${VALUES_PER_DEVICE} values at 1 s for ${days} days, raw kept ${rawDays} days (the plant: ${HUBEI_DEVICES} devices, 90 days)`,
    values,
    seconds: Math.round(seconds),
    valuesPerS: Math.round(values / seconds),
    /** CPU time of this process (the machine is shared: wall-clock figures vary with its load). */
    cpuSeconds: Math.round(cpuSeconds),
    valuesPerCpuS: Math.round(values / cpuSeconds),
    maintenanceShare: maintenanceMs / 1000 / seconds,
    longestMaintenanceCallMs: Math.round(longestRunMs),
    longestMaintenanceStepMs: Math.round(stats?.longestStepMs ?? 0),
    rawDeleted: stats?.rawDeleted ?? 0,
    peakFileBytes: peak,
    atEnd: { rawBytes: tables.get('points') ?? 0, minuteBytes: tables.get('rollup_1m') ?? 0, quarterBytes: tables.get('rollup_15m') ?? 0, freeBytes, walBytes },
    budgetBytes: budget,
    withinBudget: peak <= budget,
    /** Raw bytes per value held at the end (rawDays of data): the steady state of part 2's projection. */
    steadyRawBytesPerValue: (tables.get('points') ?? 0) / (VALUES_PER_DEVICE * 86_400 * rawDays),
    report: {
      what: `days 1–${reportDays} of the backfill (Asia/Shanghai): ${BACKFILL_REPORT.map((r) => `${r.fn}(${r.field})`).join(', ')} per day and over the ${reportDays} days`,
      rows: before.length,
      beforeExpiry: `raw held (clock at day ${rawDays} − 1 h), ${Math.round(reportMs)} ms`,
      afterExpiry: `raw expired before ${new Date(now - rawDays * DAY_MS).toISOString()}, 1-minute roll-ups after ${rawDays + 1} days: 15-minute roll-ups only, ${Math.round(reportAfterMs)} ms`,
      identical: isDeepStrictEqual(before, after),
      largestRelativeDifference: largestRelativeDifference(before, after),
    },
  }
}

function lineModel(): PlantModel {
  return validateConfig(
    PlantModelSchema,
    {
      timezone: 'Asia/Shanghai',
      enterprises: [
        {
          id: 'hb',
          region: 'hubei',
          sites: [
            {
              id: 's1',
              lines: [
                {
                  id: 'l1',
                  mainMeter: 'main',
                  product: { id: 'clinker', unit: 't', productionDevice: 'plc', benchmark: 'cement-clinker' },
                  devices: [{ id: 'main' }, { id: 'plc', kind: 'plc' }],
                },
              ],
            },
          ],
        },
      ],
    },
    'bench plant',
  )
}

/** 4. The monthly report of a year before and after its raw data expired. */
async function yearlyReport(dir: string) {
  const start = Date.UTC(2025, 11, 31, 16)
  const end = Date.UTC(2026, 11, 31, 16)
  let now = end + DAY_MS
  const store = createEmbeddedStore({ path: join(dir, 'year.db'), retention: {}, clock: () => now, maintenanceIntervalMs: 0 })
  const main = { enterprise: 'hb', site: 's1', line: 'l1', device: 'main' }
  const plc = { enterprise: 'hb', site: 's1', line: 'l1', device: 'plc' }
  let batch: TelemetryPoint[] = []
  let kwh = 0
  let t = 0
  for (let ts = start; ts <= end; ts += MINUTE_MS) {
    batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: main, fields: { energy_import_kwh: kwh, active_power_kw: 300 }, ts })
    batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: plc, fields: { output_t: t }, ts })
    const hour = Math.floor(((ts + 8 * HOUR_MS) % DAY_MS) / HOUR_MS)
    const kw = hour >= 8 && hour < 20 ? 400 : 150
    kwh += kw / 60
    t += kw / 60 / 820
    if (batch.length >= 50_000) {
      await store.write(batch)
      batch = []
    }
  }
  await store.write(batch)
  store.maintain()
  const model = lineModel()
  const scope = parseScope('hb/s1/l1')
  // Two ways a report reads: straight from the store (its roll-ups answer), and as the API does, with
  // the reports' counter roll-up (counter_15m, kept: not a telemetry measurement) and its answer cache.
  const timed = async (withCounterRollup: boolean) => {
    const deps = { store, model, now: () => end + DAY_MS, ...(withCounterRollup ? { rollup: counterRollup() } : {}) }
    const ms: number[] = []
    const cpu: number[] = []
    let answer: unknown
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      answer = (await monthlyReport(deps, scope, { start, end })).rows
      ms.push(performance.now() - t0)
      const c = process.cpuUsage(c0)
      cpu.push((c.user + c.system) / 1000)
    }
    const median = (xs: number[]) => Math.round((xs.slice(1).sort((a, b) => a - b)[2] as number) * 10) / 10
    return { answer, coldMs: Math.round(ms[0] as number), warmMedianMs: median(ms), warmMedianCpuMs: median(cpu) }
  }
  const strip = ({ answer: _, ...t }: Awaited<ReturnType<typeof timed>>) => t
  const before = await timed(false)
  const beforeCounter = await timed(true)
  now = end + 400 * DAY_MS // raw (90 d) and minutes (400 d) expired: the year is answered from quarters
  store.maintain()
  const after = await timed(false)
  const afterCounter = await timed(true)
  await store.close()
  return {
    data: 'one line, 1-minute counters for 2026 (3 fields × 525,601 samples), monthly report (energy, cost, CO2, SEC per month)',
    storeRollups: { beforeExpiry: strip(before), afterExpiry: strip(after) },
    withCounterRollup: { beforeExpiry: strip(beforeCounter), afterExpiry: strip(afterCounter) },
    afterExpiryHolds: 'raw and 1-minute roll-up expired (clock + 400 days): the 15-minute roll-up only',
    cached:
      'storeRollups: nothing between calls; withCounterRollup: the settled counter_15m readings (before the watermark − 1 day, exact until its generation changes) — the answer cache is on but the report clock (end + 1 day) leaves the year unsettled, so no answer is reused',
    identical: {
      storeRollupsBeforeVsAfter: isDeepStrictEqual(before.answer, after.answer),
      counterRollupBeforeVsAfter: isDeepStrictEqual(beforeCounter.answer, afterCounter.answer),
      storeVsCounterRollup: isDeepStrictEqual(before.answer, beforeCounter.answer),
    },
    months: Array.isArray(before.answer) ? before.answer.length : 0,
  }
}

export async function runStorageRetentionBenchmark(opts: StorageRetentionOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-retention-'))
  try {
    const sizes = await measureSizes(dir)
    const projection = projectYear(sizes)
    const backfillResult = await backfill(dir, opts.days ?? 6, opts.rawDays ?? 2, sizes)
    const report = await yearlyReport(dir)
    return { what: 'embedded store: retention, roll-ups, a year projected', sizes, projection, backfill: backfillResult, yearlyReport: report }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `--days N --raw-days N` (or `N N`) of the command line (defaults: the short run, 6 and 2). */
export function storageRetentionOptions(args: readonly string[]): Required<StorageRetentionOptions> {
  // `[days] [rawDays]` as before, or the flags (which win).
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { days: { type: 'string' }, 'raw-days': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  })
  if (positionals.length > 2) throw new Error(`at most two positional arguments (days, rawDays), got ${positionals.join(' ')}`)
  const whole = (name: string, text: string, min: number): number => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${text}`)
    return n
  }
  const rawDays = whole('raw-days', values['raw-days'] ?? positionals[1] ?? '2', 2)
  const days = whole('days', values.days ?? positionals[0] ?? '6', rawDays + 3)
  return { days, rawDays }
}

// Alone: `npx tsx bench/storage-retention.ts [--days 30 --raw-days 7]` (the month at full rate, ~52 M values).
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runStorageRetentionBenchmark(storageRetentionOptions(process.argv.slice(2)))
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
