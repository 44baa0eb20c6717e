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
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'

import { silentLogger } from '../core/logger.ts'
import { validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import { startBroker } from '../broker/index.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { startIngest } from '../ingest/index.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { processCpuSeconds, runLoad } from './load.ts'
import { startScript } from '../test/child.ts'

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

async function countPoints(influx: RunningInfluxd, db: string): Promise<number> {
  const res = await fetch(`${influx.url}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(`SELECT count("seq") FROM "${TELEMETRY_MEASUREMENT}"`)}`)
  const body = (await res.json()) as { results: { series?: { values: [string, number][] }[] }[] }
  return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0
}

// --- pipelineRate: the same code as bench/run.ts (kept here so this tool runs without the rest of the bench) ---
const SAMPLES_PER_MESSAGE = 10
interface PipelineSettings {
  publishers: number
  /** Unacknowledged messages each publisher keeps in flight. */
  window: number
  batchSize: number
  flushIntervalMs: number
  maxInFlightMessages: number
}

const PIPELINE_DEFAULTS: PipelineSettings = { publishers: 10, window: 500, batchSize: 10_000, flushIntervalMs: 200, maxInFlightMessages: 10_000 }

/**
 * Samples through broker → ingest → InfluxDB, QoS 1. Publishers run in a child process, so the
 * broker and ingest (this process) have a core to themselves and influxd the other; the clock
 * stops when InfluxDB holds every point.
 */
interface PipelineRun {
  samplesPerS: number
  seconds: number
  stored: number
  /** CPU of this process (broker + ingest, or ingest alone when the broker runs in a child). */
  cpuSecondsHere: number
  /** CPU of the broker child process, when there is one. */
  cpuSecondsBrokerChild: number | undefined
}

async function pipelineRate(influx: RunningInfluxd, total: number, settings: PipelineSettings = PIPELINE_DEFAULTS, brokerIn: 'this-process' | 'child' = 'this-process'): Promise<PipelineRun> {
  const db = 'bench_pipeline'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 30_000 })
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`DROP SERIES FROM "${TELEMETRY_MEASUREMENT}"`)}&db=${db}`, { method: 'POST' })
  // Publishers here are anonymous (loopback) with the default publish policy (payloads validated);
  // the rate limit is lifted: 10 connections carry what 1,000 gateways would.
  const brokerConfig = { port: 0, publishRate: { messagesPerS: 0 } }
  const child = brokerIn === 'child' ? await startScript('broker-process.ts', { PW_BROKER_CONFIG: JSON.stringify(brokerConfig) }) : undefined
  const broker = child
    ? { url: child.ready.url as string, close: () => child.kill('SIGTERM') }
    : await startBroker(validateConfig(BrokerConfigSchema, brokerConfig), { logger: silentLogger() })
  const stat = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8')
  let childCpu = 0
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { batchSize: settings.batchSize, flushIntervalMs: settings.flushIntervalMs, maxInFlightMessages: settings.maxInFlightMessages }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker.url, clientId: 'bench-ingest' }),
    store,
    logger: silentLogger(),
  })
  const perDevice = Math.ceil(total / DEVICES)
  const expected = perDevice * DEVICES
  let started = performance.now()
  let cpu = process.cpuUsage()
  await runLoad(
    { mode: 'pipeline', url: broker.url, publishers: settings.publishers, devices: DEVICES, perDevice, samplesPerMessage: SAMPLES_PER_MESSAGE, window: settings.window, t0: T0 },
    () => {
      started = performance.now()
      cpu = process.cpuUsage()
      if (child) childCpu = processCpuSeconds(child.pid, stat)
    },
  )
  await ingest.flush()
  let stored = 0
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (ingest.stats().writtenPoints >= expected) stored = await countPoints(influx, db)
    if (stored >= expected) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const brokerChildCpu = child ? processCpuSeconds(child.pid, stat) - childCpu : undefined
  await ingest.close()
  await broker.close()
  await store.close()
  return { samplesPerS: expected / seconds, seconds, stored, cpuSecondsHere: (used.user + used.system) / 1e6, cpuSecondsBrokerChild: brokerChildCpu }
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
