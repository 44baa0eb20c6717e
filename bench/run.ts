import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { Point } from '@influxdata/influxdb-client'
import { silentLogger } from '../core/logger.ts'
import type { Sample } from '../core/payload.ts'
import { validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { startBroker } from '../broker/index.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { startIngest } from '../ingest/index.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { fanIn, type FanInResult } from './fan-in.ts'
import { qos0Flood, type FloodResult } from './flood.ts'
import { runUiBenchmark } from './ui.ts'
import { runEdgeBenchmark, type EdgeBenchmarkResult } from './edge.ts'
import { runReportsBenchmark, type ReportsBenchResult } from './reports.ts'
import { processCpuSeconds, runLoad } from './load.ts'
import { startScript } from '../test/child.ts'

export interface BenchOptions {
  /** Samples pushed through the pipeline (each sample = one InfluxDB point with 4 fields). */
  samples: number
  /** Fan-in: messages each of the 50 publishers sends. Default 1000. */
  fanInMessagesPerPublisher?: number
  /** QoS 0 flood length, s. Default 6. */
  floodSeconds?: number
  /** Enterprises of the commission-scope report benchmark. Default 100. */
  reportEnterprises?: number
}

export interface BenchResult {
  benchmark: string
  date: string
  machine: { cpus: number; model: string; node: string }
  /** The live web page: time to first values after load, and its transfer size. */
  ui: { firstValuesMs: number; pageBytes: number; bundleGzipBytes: number; bundleFiles: Record<string, number> }
  /** The edge agent: decoded Modbus values per second (and per CPU second) from simulated SDM630 meters. */
  edge: EdgeBenchmarkResult
  /** One-year monthly report of one line on each store, and the commission scope of many enterprises. */
  reports: ReportsBenchResult
  pipeline: {
    what: string
    samples: number
    devices: number
    samplesPerMessage: number
    settings: PipelineSettings
    pipelineSamplesPerS: number
    rawInfluxPointsPerS: number
    ratio: number
    brokerIngestCpuUsPerSample: number
    stored: number
    lost: number
  }
  pipelineBrokerInOwnProcess: { what: string; samplesPerS: number; ratio: number; brokerCpuUsPerSample: number; ingestCpuUsPerSample: number; lost: number }
  fanIn: { what: string; results: FanInResult[] }
  qos0Flood: FloodResult
}

/** Devices the pipeline benchmark's samples are spread over. */
export const DEVICES = 100
const SAMPLES_PER_MESSAGE = 10
const T0 = Date.UTC(2025, 0, 1)

function sampleFor(device: number, i: number): Sample {
  const kw = 100 + ((device * 7 + i) % 50)
  return { ts: T0 + i * 1000, values: { active_power_kw: kw, energy_import_kwh: 1000 + i * 0.03, frequency_hz: 50 + ((i % 10) - 5) / 100 } }
}

async function influxQuery(influx: RunningInfluxd, db: string, q: string): Promise<unknown> {
  const res = await fetch(`${influx.url}/query?db=${encodeURIComponent(db)}&q=${encodeURIComponent(q)}`)
  return res.json()
}

async function countPoints(influx: RunningInfluxd, db: string): Promise<number> {
  const body = (await influxQuery(influx, db, `SELECT count("seq") FROM "${TELEMETRY_MEASUREMENT}"`)) as {
    results: { series?: { values: [string, number][] }[] }[]
  }
  return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0
}

/** The ceiling: the same points written straight to InfluxDB's /write by one writer, 5k-line batches. */
export async function rawInfluxRate(influx: RunningInfluxd, total: number): Promise<{ pointsPerS: number; seconds: number }> {
  const db = 'bench_raw'
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`CREATE DATABASE ${db}`)}`, { method: 'POST' })
  const perDevice = Math.ceil(total / DEVICES)
  const lines: string[] = []
  for (let i = 0; i < perDevice; i++) {
    for (let d = 0; d < DEVICES; d++) {
      const s = sampleFor(d, i)
      const p = new Point(TELEMETRY_MEASUREMENT).tag('enterprise', 'bench').tag('site', 's1').tag('line', 'l1').tag('device', `m${d}`)
      for (const [k, v] of Object.entries(s.values)) p.floatField(k, v)
      p.floatField('seq', i).timestamp(`${s.ts}`)
      lines.push(p.toLineProtocol() as string)
    }
  }
  const started = performance.now()
  for (let i = 0; i < lines.length; i += 5000) {
    const res = await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.slice(i, i + 5000).join('\n') })
    if (res.status !== 204) throw new Error(`raw write failed: ${res.status} ${await res.text()}`)
  }
  const seconds = (performance.now() - started) / 1000
  const stored = await countPoints(influx, db)
  if (stored !== lines.length) throw new Error(`raw write stored ${stored} of ${lines.length} points`)
  return { pointsPerS: lines.length / seconds, seconds }
}

export interface PipelineSettings {
  publishers: number
  /** Unacknowledged messages each publisher keeps in flight. */
  window: number
  batchSize: number
  flushIntervalMs: number
  maxInFlightMessages: number
}

export const PIPELINE_DEFAULTS: PipelineSettings = { publishers: 10, window: 500, batchSize: 10_000, flushIntervalMs: 200, maxInFlightMessages: 10_000 }

/**
 * Samples through broker → ingest → InfluxDB, QoS 1. Publishers run in a child process, so the
 * broker and ingest (this process) have a core to themselves and influxd the other; the clock
 * stops when InfluxDB holds every point.
 */
export interface PipelineRun {
  samplesPerS: number
  seconds: number
  stored: number
  /** CPU of this process (broker + ingest, or ingest alone when the broker runs in a child). */
  cpuSecondsHere: number
  /** CPU of the broker child process, when there is one. */
  cpuSecondsBrokerChild: number | undefined
}

export async function pipelineRate(influx: RunningInfluxd, total: number, settings: PipelineSettings = PIPELINE_DEFAULTS, brokerIn: 'this-process' | 'child' = 'this-process'): Promise<PipelineRun> {
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

/**
 * `npm run bench`: the raw InfluxDB ceiling, the pipeline against it, three brokers on the same
 * fan-in load, and memory under a QoS 0 flood. Prints one JSON object and writes it to bench/results/.
 */
export async function runBenchmarks(opts: BenchOptions): Promise<BenchResult> {
  const influx = await startInfluxd()
  let raw: Awaited<ReturnType<typeof rawInfluxRate>>
  let pipeline: PipelineRun
  let split: PipelineRun
  let reports: ReportsBenchResult
  try {
    raw = await rawInfluxRate(influx, opts.samples)
    pipeline = await pipelineRate(influx, opts.samples)
    split = await pipelineRate(influx, opts.samples, PIPELINE_DEFAULTS, 'child')
    reports = await runReportsBenchmark({ influx, ...(opts.reportEnterprises !== undefined ? { enterprises: opts.reportEnterprises } : {}) })
  } finally {
    await influx.stop()
  }
  const fanInMessages = opts.fanInMessagesPerPublisher ?? 1000
  const fanInResults: FanInResult[] = []
  for (const broker of ['plantwatt', 'aedes', 'mosquitto'] as const) fanInResults.push(await fanIn(broker, fanInMessages))
  const flood = await qos0Flood(opts.floodSeconds ?? 6)
  const ui = await runUiBenchmark()
  const edge = await runEdgeBenchmark()
  const expected = Math.ceil(opts.samples / DEVICES) * DEVICES
  const result: BenchResult = {
    benchmark: 'plantwatt broker + ingest',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    pipeline: {
      what: 'broker → ingest → influxdb, QoS 1, publishers in a child process',
      samples: expected,
      devices: DEVICES,
      samplesPerMessage: SAMPLES_PER_MESSAGE,
      settings: PIPELINE_DEFAULTS,
      pipelineSamplesPerS: Math.round(pipeline.samplesPerS),
      rawInfluxPointsPerS: Math.round(raw.pointsPerS),
      ratio: Number((pipeline.samplesPerS / raw.pointsPerS).toFixed(3)),
      brokerIngestCpuUsPerSample: Number(((pipeline.cpuSecondsHere * 1e6) / expected).toFixed(1)),
      stored: pipeline.stored,
      lost: expected - pipeline.stored,
    },
    pipelineBrokerInOwnProcess: {
      what: 'the same, the broker in a child process: CPU of broker and ingest apart',
      samplesPerS: Math.round(split.samplesPerS),
      ratio: Number((split.samplesPerS / raw.pointsPerS).toFixed(3)),
      brokerCpuUsPerSample: Number((((split.cpuSecondsBrokerChild ?? 0) * 1e6) / expected).toFixed(1)),
      ingestCpuUsPerSample: Number(((split.cpuSecondsHere * 1e6) / expected).toFixed(1)),
      lost: expected - split.stored,
    },
    fanIn: { what: '50 publishers → 1 subscriber, QoS 1, 100 in flight per publisher', results: fanInResults },
    qos0Flood: flood,
    ui,
    edge,
    reports,
  }
  const dir = join(import.meta.dirname, 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `bench-${result.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  return result
}
