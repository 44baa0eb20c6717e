import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { counterRollup } from '../reports/counter-rollup.ts'
import { energyReport, productionReport, type ReportDeps } from '../reports/energy.ts'
import { monthlyReport } from '../reports/monthly.ts'
import { secOf } from '../reports/sec.ts'
import { parseScope } from '../reports/scope.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * `npm run bench` part: time to answer report calls over one year.
 *  - one line, 1-minute data (main meter energy_import_kwh + production counter output_t: 2 × 525,600
 *    samples): the monthly report (energy, cost, CO2, SEC per month), on the embedded store and on a
 *    real influxd; raw path (no roll-up) once, then with the roll-up cold (first call fills it) and
 *    warm (median of 5);
 *  - the commission scope: 100 enterprises × 1 line, energy + SEC per month for every line (the
 *    report-layer call the commission endpoints make), embedded store. Its data are 15-minute
 *    samples (2 × 35,040 per line, 7 M points): reports read quarter-hour counter readings, so a warm
 *    answer reads exactly what it would read from 1-minute data; only the cold fill is cheaper.
 */

/** 2026-01-01 00:00 Asia/Shanghai (the shipped Hubei tariff is in force from 2026-01-01). */
const YEAR_START = Date.UTC(2025, 11, 31, 16)
/** 2027-01-01 00:00 Asia/Shanghai. */
const YEAR_END = Date.UTC(2026, 11, 31, 16)
const NOW = YEAR_END + 2 * DAY_MS
const WRITE_BATCH = 50_000
const WARM_RUNS = 5

export interface TimedRuns {
  /** First call with an empty roll-up: fills it, ms. */
  coldMs: number
  /** Median of WARM_RUNS calls after it, ms. */
  warmMedianMs: number
  warmMs: number[]
  /** CPU time of this process (user + system) of the same calls, ms: wall time suffers on a shared machine, this less. */
  coldCpuMs: number
  warmMedianCpuMs: number
  /** Warm, with the in-memory cache of settled answers off: everything read from counter_15m (median of 5), ms. */
  warmNoAnswerCacheMs?: number
  warmNoAnswerCacheCpuMs?: number
  /**
   * Warm, answer cache off, the settled counter_15m readings kept in memory (CounterRollup
   * maxKeptReadings): the store is asked only for the watermarks and what is newer than the kept
   * readings; increments, buckets, TOU prices, demand and SEC are computed on every call (median of 5), ms.
   */
  warmKeptReadingsMs?: number
  warmKeptReadingsCpuMs?: number
  /** The InfluxDB server's CPU time per call (median of 5) of the two warm runs without the answer cache, ms. */
  influxdCpuMs?: { noAnswerCache: number; keptReadings: number }
  /** What each figure keeps in memory between calls. */
  cached?: Record<string, string>
  /** os.loadavg() (1, 5, 15 min) when the part started and ended: the machine is shared. */
  loadAverage?: { start: number[]; end: number[] }
}

export interface OneLineResult extends TimedRuns {
  store: 'embedded' | 'influxdb'
  points: number
  writeS: number
  /** The same answer from the raw data (no roll-up), one call, ms. */
  rawMs: number
  /** Sanity figures of the answer. */
  energyKwh: number
  totalCost: number
  months: number
}

export interface CommissionResult extends TimedRuns {
  store: 'embedded'
  lines: number
  points: number
  stepMinutes: number
  writeS: number
  /** Lines graded in the answer. */
  secRows: number
}

export interface ReportsBenchResult {
  what: string
  oneLine: OneLineResult[]
  commission: CommissionResult
}

/** Power of a line at ts, kW: a day shape (busy 08–20) plus a weekly dip, deterministic. */
function powerKw(ts: number, line: number): number {
  const hour = Math.floor(((ts + 8 * HOUR_MS) % DAY_MS) / HOUR_MS)
  const weekday = Math.floor((ts + 8 * HOUR_MS) / DAY_MS + 4) % 7
  const base = hour >= 8 && hour < 20 ? 400 : 150
  return (base + ((line * 37 + hour * 11) % 60)) * (weekday === 0 ? 0.5 : 1)
}

function lineModel(enterprises: number): PlantModel {
  return validateConfig(
    PlantModelSchema,
    {
      timezone: 'Asia/Shanghai',
      enterprises: Array.from({ length: enterprises }, (_, i) => ({
        id: `e${String(i).padStart(3, '0')}`,
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
      })),
    },
    'bench plant',
  )
}

/** Writes a year of counters for every line of the model, `stepMs` apart, in big batches. */
async function writeYear(store: TelemetryStore, enterprises: number, stepMs: number): Promise<{ points: number; seconds: number }> {
  const started = performance.now()
  let points = 0
  let batch: TelemetryPoint[] = []
  for (let e = 0; e < enterprises; e++) {
    const id = `e${String(e).padStart(3, '0')}`
    const main = { enterprise: id, site: 's1', line: 'l1', device: 'main' }
    const plc = { enterprise: id, site: 's1', line: 'l1', device: 'plc' }
    let kwh = 0
    let t = 0
    for (let ts = YEAR_START; ts <= YEAR_END; ts += stepMs) {
      batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: main, fields: { energy_import_kwh: kwh }, ts })
      batch.push({ measurement: TELEMETRY_MEASUREMENT, tags: plc, fields: { output_t: t }, ts })
      const kw = powerKw(ts, e)
      kwh += (kw * stepMs) / HOUR_MS
      t += (kw * stepMs) / HOUR_MS / 820 // ≈ 820 kWh/t → ≈ 100.8 kgce/t: graded compliant
      if (batch.length >= WRITE_BATCH) {
        await store.write(batch)
        points += batch.length
        batch = []
      }
    }
  }
  if (batch.length > 0) await store.write(batch)
  points += batch.length
  return { points, seconds: (performance.now() - started) / 1000 }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const t = performance.now()
  const cpu = process.cpuUsage()
  const value = await fn()
  const used = process.cpuUsage(cpu)
  return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, value }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

const round = (x: number): number => Math.round(x * 10) / 10

/** CPU time (user + system) of another process so far, ms, from /proc (Linux; 100 clock ticks a second). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

async function coldWarm<T>(fn: () => Promise<T>, serverPid?: () => number | undefined): Promise<TimedRuns & { value: T; serverCpuMs?: number }> {
  const cold = await timed(fn)
  const warm: number[] = []
  const warmCpu: number[] = []
  const serverCpu: number[] = []
  let value = cold.value
  for (let i = 0; i < WARM_RUNS; i++) {
    const s0 = processCpuMs(serverPid?.())
    const r = await timed(fn)
    const s1 = processCpuMs(serverPid?.())
    if (s0 !== undefined && s1 !== undefined) serverCpu.push(s1 - s0)
    warm.push(round(r.ms))
    warmCpu.push(round(r.cpuMs))
    value = r.value
  }
  return {
    coldMs: round(cold.ms),
    warmMedianMs: median(warm),
    warmMs: warm,
    coldCpuMs: round(cold.cpuMs),
    warmMedianCpuMs: median(warmCpu),
    value,
    ...(serverCpu.length > 0 ? { serverCpuMs: median(serverCpu) } : {}),
  }
}

const CACHED = {
  warm: 'settled answers (per-device amounts per bucket, priced cost per tariff group) and the readings below',
  warmNoAnswerCache: 'nothing: new roll-up settings on every call, every reading read from counter_15m',
  warmKeptReadings: 'the stored counter_15m readings of settled quarters (exact until the watermark generation changes); no answers',
}

async function oneLine(name: OneLineResult['store'], store: TelemetryStore, serverPid?: () => number | undefined): Promise<OneLineResult> {
  const loadStart = loadavg().map(round)
  const model = lineModel(1)
  const written = await writeYear(store, 1, MINUTE_MS)
  const scope = parseScope('e000/s1/l1')
  const range = { start: YEAR_START, end: YEAR_END }
  const raw = await timed(() => monthlyReport({ store, model, now: () => NOW }, scope, range))
  const deps: ReportDeps = { store, model, now: () => NOW, rollup: counterRollup() }
  const runs = await coldWarm(() => monthlyReport(deps, scope, range))
  const noCache = await coldWarm(() => monthlyReport({ ...deps, rollup: counterRollup({ maxCachedAnswers: 0 }) }, scope, range), serverPid)
  const keptRollup = counterRollup({ maxCachedAnswers: 0 })
  const kept = await coldWarm(() => monthlyReport({ ...deps, rollup: keptRollup }, scope, range), serverPid)
  return {
    warmNoAnswerCacheMs: noCache.warmMedianMs,
    warmNoAnswerCacheCpuMs: noCache.warmMedianCpuMs,
    warmKeptReadingsMs: kept.warmMedianMs,
    warmKeptReadingsCpuMs: kept.warmMedianCpuMs,
    ...(noCache.serverCpuMs !== undefined && kept.serverCpuMs !== undefined
      ? { influxdCpuMs: { noAnswerCache: noCache.serverCpuMs, keptReadings: kept.serverCpuMs } }
      : {}),
    cached: CACHED,
    loadAverage: { start: loadStart, end: loadavg().map(round) },
    store: name,
    points: written.points,
    writeS: round(written.seconds),
    rawMs: round(raw.ms),
    coldMs: runs.coldMs,
    warmMedianMs: runs.warmMedianMs,
    warmMs: runs.warmMs,
    coldCpuMs: runs.coldCpuMs,
    warmMedianCpuMs: runs.warmMedianCpuMs,
    energyKwh: Math.round(runs.value.totals.energyKwh),
    totalCost: Math.round(runs.value.totals.totalCost),
    months: runs.value.rows.length,
  }
}

async function commission(store: TelemetryStore, enterprises: number): Promise<CommissionResult> {
  const model = lineModel(enterprises)
  const stepMinutes = 15
  const written = await writeYear(store, enterprises, stepMinutes * MINUTE_MS)
  const range = { start: YEAR_START, end: YEAR_END }
  const deps: ReportDeps = { store, model, now: () => NOW, rollup: counterRollup() }
  // What the commission endpoints need of the report layer: energy and SEC of every line.
  const all = async (base: ReportDeps = deps) => {
    const d: ReportDeps = { ...base, memo: new Map() }
    const rows = []
    for (const e of model.enterprises) {
      const scope = parseScope(e.id)
      const [energy, production] = await Promise.all([energyReport(d, scope, range, 'month'), productionReport(d, scope, range, 'month')])
      rows.push(...secOf(d, scope, energy, production.rows).rows)
    }
    return rows
  }
  const runs = await coldWarm(() => all())
  const noCache = await coldWarm(() => all({ ...deps, rollup: counterRollup({ maxCachedAnswers: 0 }) }))
  return {
    store: 'embedded',
    lines: enterprises,
    points: written.points,
    stepMinutes,
    writeS: round(written.seconds),
    coldMs: runs.coldMs,
    warmMedianMs: runs.warmMedianMs,
    warmMs: runs.warmMs,
    coldCpuMs: runs.coldCpuMs,
    warmMedianCpuMs: runs.warmMedianCpuMs,
    warmNoAnswerCacheMs: noCache.warmMedianMs,
    warmNoAnswerCacheCpuMs: noCache.warmMedianCpuMs,
    secRows: runs.value.length,
  }
}

export interface ReportsBenchOptions {
  /** A running influxd to use; default: one is started (and stopped) here. */
  influx?: RunningInfluxd
  /** Enterprises (× 1 line) of the commission scope. Default 100. */
  enterprises?: number
  /** Skip the influxdb part (e.g. no influxd installed). Default false. */
  skipInflux?: boolean
}

/** Runs the report benchmarks; returns the figures (bench/run.ts puts them under `reports`). */
export async function runReportsBenchmark(opts: ReportsBenchOptions = {}): Promise<ReportsBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-reports-'))
  const oneLineResults: OneLineResult[] = []
  let commissionResult: CommissionResult
  try {
    const embedded = createEmbeddedStore({ path: join(dir, 'one-line.db') })
    try {
      oneLineResults.push(await oneLine('embedded', embedded))
    } finally {
      await embedded.close()
    }
    if (!opts.skipInflux) {
      const influx = opts.influx ?? (await startInfluxd())
      try {
        const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: 'bench_reports', createDatabase: true, timeoutMs: 120_000 })
        oneLineResults.push(await oneLine('influxdb', store, () => influx.pid()))
        await store.close()
      } finally {
        if (!opts.influx) await influx.stop()
      }
    }
    const many = createEmbeddedStore({ path: join(dir, 'commission.db') })
    try {
      commissionResult = await commission(many, opts.enterprises ?? 100)
    } finally {
      await many.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    what: 'one year: monthly report (energy, cost, CO2, SEC) of one line with 1-minute data; energy + SEC per month of 100 enterprises × 1 line (15-minute data); cold = first call (fills the counter roll-up), warm = median of 5',
    oneLine: oneLineResults,
    commission: commissionResult,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const enterprises = Number(process.env.PW_BENCH_ENTERPRISES ?? 100)
  const result = await runReportsBenchmark({ enterprises, skipInflux: process.env.PW_BENCH_SKIP_INFLUX === '1' })
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
}
