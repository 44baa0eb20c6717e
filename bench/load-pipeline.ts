/**
 * The pipeline part of `npm run bench` alone, for tuning and profiling: the raw InfluxDB ceiling
 * and broker → ingest → InfluxDB on the same influxd, as a ratio, in one run.
 *
 *   node --import tsx bench/load-pipeline.ts [samples=200000] [runs=1] [this-process|child]
 *
 * PW_BENCH_PROFILE=dir writes CPU profiles (node --cpu-prof) of this process (ingest, and the broker
 * unless it runs in a child) to dir; run the broker child with NODE_OPTIONS=--cpu-prof to profile it.
 */
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { pipelineRate } from './run.ts'

const DEVICES = 100
const T0 = Date.UTC(2025, 0, 1)

function line(d: number, i: number): string {
  const kw = 100 + ((d * 7 + i) % 50)
  return `${TELEMETRY_MEASUREMENT},device=m${d},enterprise=bench,line=l1,site=s1 active_power_kw=${kw},energy_import_kwh=${1000 + i * 0.03},frequency_hz=${50 + ((i % 10) - 5) / 100},seq=${i} ${T0 + i * 1000}`
}

/** The same ceiling as bench/run.ts: one writer, 5,000-line batches, sequential. */
async function raw(influx: RunningInfluxd, total: number): Promise<number> {
  const db = 'bench_raw'
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`CREATE DATABASE ${db}`)}`, { method: 'POST' })
  const lines: string[] = []
  for (let i = 0; i < Math.ceil(total / DEVICES); i++) for (let d = 0; d < DEVICES; d++) lines.push(line(d, i))
  const started = performance.now()
  for (let i = 0; i < lines.length; i += 5000) {
    const res = await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.slice(i, i + 5000).join('\n') })
    if (res.status !== 204) throw new Error(`raw write failed: ${res.status}`)
  }
  return lines.length / ((performance.now() - started) / 1000)
}

const total = Number(process.argv[2] ?? 200_000)
const runs = Number(process.argv[3] ?? 1)
const brokerIn = (process.argv[4] ?? 'this-process') as 'this-process' | 'child'
const profileDir = process.env.PW_BENCH_PROFILE
const influx = await startInfluxd()
const out: Record<string, unknown>[] = []
try {
  for (let r = 0; r < runs; r++) {
    const rawRate = await raw(influx, total)
    const session = profileDir ? new Session() : undefined
    if (session) {
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    }
    const p = await pipelineRate(influx, total, undefined, brokerIn)
    if (session && profileDir) {
      const { profile } = await session.post('Profiler.stop')
      mkdirSync(profileDir, { recursive: true })
      writeFileSync(join(profileDir, `pipeline-${brokerIn}-${r}.cpuprofile`), JSON.stringify(profile))
    }
    const expected = Math.ceil(total / DEVICES) * DEVICES
    out.push({
      rawPointsPerS: Math.round(rawRate),
      pipelineSamplesPerS: Math.round(p.samplesPerS),
      ratio: Number((p.samplesPerS / rawRate).toFixed(3)),
      cpuUsPerSampleHere: Number(((p.cpuSecondsHere * 1e6) / expected).toFixed(1)),
      cpuUsPerSampleBrokerChild: p.cpuSecondsBrokerChild === undefined ? undefined : Number(((p.cpuSecondsBrokerChild * 1e6) / expected).toFixed(1)),
      lost: expected - p.stored,
    })
    process.stderr.write(`${JSON.stringify(out.at(-1))}\n`)
  }
} finally {
  await influx.stop()
}
process.stdout.write(`${JSON.stringify({ brokerIn, samples: total, runs: out })}\n`)
process.exit(0)
