/**
 * Read → browser latency of the live stream on the demo: `plantwatt up --scenario hubei` wiring in
 * this process (scenario simulators, edge agent polling each device every second, broker, ingest on
 * an embedded store, API; no OPC UA machines), one real SSE client on `/api/v1/stream` (all
 * enterprises), and for every device value received `arrival − ts` (ts: when the edge agent read the
 * meter). Runs the stack once per configuration: the poll path alone (as before the push, and as a
 * standalone API still runs) and the push path, each at ingest's former batch delay (500 ms) and at
 * its default (100 ms), and the push path at the given others.
 *
 *   npm run bench -- --only live-latency          (or: npx tsx bench/live-latency.ts [seconds])
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll } from '../cli/wiring.ts'
import { silentLogger } from '../core/logger.ts'
import { loadScenario } from '../simulators/index.ts'

export interface LiveLatencyOptions {
  /** Seconds measured per configuration, after the warm-up. Default 30. */
  seconds?: number
  /** Seconds after the first value before measuring (agent connects, first snapshot). Default 5. */
  warmupSeconds?: number
  /** Ingest batch delays (ingest.flushIntervalMs) to run the push path at, besides the default. */
  flushIntervalsMs?: readonly number[]
}

export interface LiveLatencyRun {
  path: 'poll' | 'push'
  pollMs: number
  flushIntervalMs: number
  devices: number
  values: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  /** Ingest over the run: mean rows per batch and mean store write, ms. */
  meanBatchPoints: number
  meanWriteMs: number
}

export interface LiveLatencyResult {
  what: string
  runs: LiveLatencyRun[]
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

interface StreamDevice {
  enterprise: string
  site: string
  line: string
  device: string
  ts: number
}

/** Reads `/api/v1/stream` and calls `onDevice` with each device of each `values` event as it arrives. */
async function readStream(url: string, signal: AbortSignal, onDevice: (d: StreamDevice, arrival: number) => void): Promise<void> {
  const res = await fetch(url, { signal })
  if (res.status !== 200 || !res.body) throw new Error(`stream answered ${res.status}`)
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const arrival = Date.now()
      buffer += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!block.startsWith('event: values\n')) continue
        const data = block.split('\n').find((l) => l.startsWith('data: '))
        if (data) for (const d of (JSON.parse(data.slice(6)) as { devices: StreamDevice[] }).devices) onDevice(d, arrival)
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  }
}

/** Ingest's write counters, as `/api/v1/metrics` shows them (api/metrics.ts). */
async function ingestMetrics(apiUrl: string): Promise<Record<'batches' | 'writes' | 'batchPointsSum' | 'writeMsSum', number>> {
  const text = await (await fetch(`${apiUrl}/api/v1/metrics`)).text()
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    if (line === undefined) throw new Error(`/api/v1/metrics has no ${name}`)
    return Number(line.slice(name.length + 1))
  }
  return {
    batches: value('plantwatt_ingest_batches'),
    writes: value('plantwatt_ingest_writes'),
    batchPointsSum: value('plantwatt_ingest_batch_points_sum'),
    writeMsSum: value('plantwatt_ingest_write_ms_sum'),
  }
}

async function oneRun(push: boolean, flushIntervalMs: number, seconds: number, warmupSeconds: number): Promise<LiveLatencyRun> {
  const logger = silentLogger()
  const dir = mkdtempSync(join(tmpdir(), 'pw-live-latency-'))
  const base = loadPlantWattConfig(undefined)
  const cfg: ResolvedConfig = {
    ...base,
    storage: { backend: 'embedded', path: join(dir, 'plantwatt.db') },
    broker: { ...base.broker, port: 0 },
    api: { ...base.api, port: 0 },
    ingest: { ...base.ingest, flushIntervalMs },
  }
  const up = await startAll(cfg, logger, { scenario: loadScenario('hubei'), groundTruthFile: join(dir, 'faults.jsonl'), livePush: push })
  const abort = new AbortController()
  try {
    const latencies: number[] = []
    const devices = new Set<string>()
    let measureFrom = Number.POSITIVE_INFINITY
    let firstAt: number | undefined
    const reading = readStream(`${up.apiUrl}/api/v1/stream`, abort.signal, (d, arrival) => {
      firstAt ??= arrival
      if (measureFrom === Number.POSITIVE_INFINITY) measureFrom = firstAt + warmupSeconds * 1000
      if (arrival < measureFrom) return
      devices.add(`${d.enterprise}/${d.site}/${d.line}/${d.device}`)
      latencies.push(arrival - d.ts)
    })
    const ingestStats = () => ingestMetrics(up.apiUrl)
    const deadline = Date.now() + 60_000
    while (firstAt === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (firstAt === undefined) throw new Error('no live value within 60 s')
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000))
    const before = await ingestStats()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const after = await ingestStats()
    abort.abort()
    await reading
    const sorted = [...latencies].sort((a, b) => a - b)
    const batches = after.batches - before.batches
    const writes = after.writes - before.writes
    return {
      path: push ? 'push' : 'poll',
      pollMs: cfg.api.stream?.pollMs ?? 1000,
      flushIntervalMs,
      devices: devices.size,
      values: sorted.length,
      p50Ms: percentile(sorted, 50),
      p90Ms: percentile(sorted, 90),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? Number.NaN,
      meanBatchPoints: batches > 0 ? Math.round((after.batchPointsSum - before.batchPointsSum) / batches) : 0,
      meanWriteMs: writes > 0 ? Number(((after.writeMsSum - before.writeMsSum) / writes).toFixed(2)) : 0,
    }
  } finally {
    abort.abort()
    await closeAll(up.closables, logger)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The batch delay before 2026-12-06 (ingest.flushIntervalMs), to show the live path as it was. */
export const FORMER_FLUSH_INTERVAL_MS = 500

/**
 * The poll path and the push path on the demo, each at ingest's former batch delay (500 ms: the
 * path as it was) and at the default, then the push path at `flushIntervalsMs` (none by default).
 */
export async function runLiveLatencyBenchmark(opts: LiveLatencyOptions = {}): Promise<LiveLatencyResult> {
  const seconds = opts.seconds ?? 30
  const warmup = opts.warmupSeconds ?? 5
  const defaultFlush = loadPlantWattConfig(undefined).ingest.flushIntervalMs
  const flushes = [...new Set([FORMER_FLUSH_INTERVAL_MS, defaultFlush])]
  const runs: LiveLatencyRun[] = []
  for (const push of [false, true]) for (const flush of flushes) runs.push(await oneRun(push, flush, seconds, warmup))
  for (const flush of opts.flushIntervalsMs ?? []) if (!flushes.includes(flush)) runs.push(await oneRun(true, flush, seconds, warmup))
  return {
    what: `plantwatt up --scenario hubei in one process (Modbus meters and line PLCs polled every 1 s, no OPC UA), one SSE client on /api/v1/stream; per device value received: arrival − the sample's ts (meter read), ms; ${seconds} s per run after ${warmup} s warm-up; ingest's default batch delay ${defaultFlush} ms, ${FORMER_FLUSH_INTERVAL_MS} ms before`,
    runs,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.argv[2] ?? 30)
  const result = await runLiveLatencyBenchmark({ seconds, flushIntervalsMs: [50] })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  process.exit(0)
}
