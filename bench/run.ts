import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../core/logger.ts'
import type { Sample } from '../core/payload.ts'
import { validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { createInfluxStore, toLines, WRITE_BATCH_LINES, WRITE_CONCURRENCY } from '../storage/influxdb/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'
import { startBroker } from '../broker/index.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { startIngest } from '../ingest/index.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { fanIn, type FanInResult } from './fan-in.ts'
import { qos0Flood, type FloodResult } from './flood.ts'
import { runUiBenchmark } from './ui.ts'
import { runEdgeBenchmark, type EdgeBenchmarkResult } from './edge.ts'
import { runDlt645Benchmark, type Dlt645BenchmarkResult } from './dlt645.ts'
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
  /** Rounds of (raw, pipeline, pipeline with the broker apart), after one warm-up round; medians are reported. Default 3. */
  rounds?: number
}

/** One round of the pipeline benchmark: the raw ceiling, then the pipeline both ways, same influxd. */
interface PipelineRound {
  raw: Awaited<ReturnType<typeof rawInfluxRate>>
  pipeline: PipelineRun
  split: PipelineRun
}

async function pipelineRound(influx: RunningInfluxd, samples: number): Promise<PipelineRound> {
  const raw = await rawInfluxRate(influx, samples)
  const pipeline = await pipelineRate(influx, samples)
  const split = await pipelineRate(influx, samples, PIPELINE_DEFAULTS, 'child')
  return { raw, pipeline, split }
}

/** Ours against bare Aedes and Mosquitto, from one run's fan-in results. */
function fanInRatios(results: readonly FanInResult[]): BenchResult['fanIn']['ratios'] {
  const of = (broker: string): FanInResult => {
    const r = results.find((x) => x.broker === broker)
    if (!r) throw new Error(`fan-in result of ${broker} missing`)
    return r
  }
  const [ours, aedes, mosquitto] = [of('plantwatt'), of('aedes'), of('mosquitto')]
  const ratio = (a: number, b: number): number => Number((a / b).toFixed(2))
  return {
    cpuPerMessageToAedes: ratio(ours.cpuUsPerMessage, aedes.cpuUsPerMessage),
    cpuPerMessageToMosquitto: ratio(ours.cpuUsPerMessage, mosquitto.cpuUsPerMessage),
    messagesPerSToAedes: ratio(ours.messagesPerS, aedes.messagesPerS),
    messagesPerSToMosquitto: ratio(ours.messagesPerS, mosquitto.messagesPerS),
  }
}

/** The element with the median key (the lower middle one of an even count). */
function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b))
  return sorted[Math.floor((sorted.length - 1) / 2)] as T
}

const perSample = (cpuSeconds: number | undefined, samples: number): number | undefined =>
  cpuSeconds === undefined ? undefined : Number(((cpuSeconds * 1e6) / samples).toFixed(1))

export interface BenchResult {
  benchmark: string
  date: string
  machine: { cpus: number; model: string; node: string }
  /** The live web page: time to first values after load, and its transfer size. */
  ui: { firstValuesMs: number; pageBytes: number; bundleGzipBytes: number; bundleFiles: Record<string, number> }
  /** The edge agent: decoded Modbus values per second (and per CPU second) from simulated SDM630 meters. */
  edge: EdgeBenchmarkResult
  /** DL/T 645: values per CPU second polling 32 simulated meters on one bus, and the bus time per poll at 2400 baud. */
  dlt645: Dlt645BenchmarkResult
  /** One-year monthly report of one line on each store, and the commission scope of many enterprises. */
  reports: ReportsBenchResult
  pipeline: {
    what: string
    samples: number
    devices: number
    samplesPerMessage: number
    settings: PipelineSettings
    /** Rounds measured (after one warm-up round); the figures below are each one's median. */
    rounds: number
    pipelineSamplesPerS: number
    rawInfluxPointsPerS: number
    /** How the ceiling was written: the pipeline's lines, the store's request size and concurrency. */
    rawWrite: string
    ratio: number
    brokerIngestCpuUsPerSample: number | undefined
    /** influxd's CPU per point while the pipeline ran, and while the raw writer wrote. */
    influxdCpuUsPerSample: number | undefined
    influxdCpuUsPerPointRaw: number | undefined
    /** The raw writer's own CPU per point (it shares the machine with influxd as the pipeline does). */
    rawWriterCpuUsPerPoint: number | undefined
    /** The publishers' CPU (the load generator, not part of the pipeline). */
    loadCpuUsPerSample: number | undefined
    /** Points missing from the store, summed over every round (each round checks its own count). */
    lost: number
    /** Every measured round: raw points/s, pipeline and broker-apart samples/s. */
    perRound: { raw: number; pipeline: number; brokerInOwnProcess: number }[]
  }
  pipelineBrokerInOwnProcess: {
    what: string
    samplesPerS: number
    ratio: number
    brokerCpuUsPerSample: number | undefined
    ingestCpuUsPerSample: number | undefined
    influxdCpuUsPerSample: number | undefined
    lost: number
  }
  fanIn: {
    what: string
    results: FanInResult[]
    /** PlantWatt's broker against the others on the same load: CPU per message and messages/s, as ratios (ours / theirs). */
    ratios: { cpuPerMessageToAedes: number; cpuPerMessageToMosquitto: number; messagesPerSToAedes: number; messagesPerSToMosquitto: number }
  }
  qos0Flood: FloodResult
}

/** Devices the pipeline benchmark's samples are spread over. */
export const DEVICES = 100
const T0 = Date.UTC(2025, 0, 1)

function sampleFor(device: number, i: number): Sample {
  const kw = 100 + ((device * 7 + i) % 50)
  return { ts: T0 + i * 1000, values: { active_power_kw: kw, energy_import_kwh: 1000 + i * 0.03, frequency_hz: 50 + ((i % 10) - 5) / 100 } }
}

/** CPU seconds influxd has used so far (undefined when it is not running). */
export function influxdCpuSeconds(influx: RunningInfluxd): number | undefined {
  const pid = influx.pid()
  return pid === undefined ? undefined : processCpuSeconds(pid)
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

/**
 * The ceiling: the pipeline's very points (same tags, fields — `seq` is the message's — and
 * timestamps), as the same line protocol text (`toLines`, built before the clock starts), written
 * straight to InfluxDB's /write by one writer with the store's write settings: WRITE_BATCH_LINES
 * lines per request, uncompressed, the same content type, `concurrency` requests in flight
 * (default WRITE_CONCURRENCY, as `store.write` sends them; 1 = the sequential writer the bench
 * used before). The database's series are dropped first, as the pipeline's are.
 */
export async function rawInfluxRate(
  influx: RunningInfluxd,
  total: number,
  concurrency = WRITE_CONCURRENCY,
  samplesPerMessage = PIPELINE_DEFAULTS.samplesPerMessage,
): Promise<{ pointsPerS: number; seconds: number; concurrency: number; influxdCpuSeconds: number | undefined; writerCpuSeconds: number }> {
  const db = 'bench_raw'
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`CREATE DATABASE ${db}`)}`, { method: 'POST' })
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`DROP SERIES FROM "${TELEMETRY_MEASUREMENT}"`)}&db=${db}`, { method: 'POST' })
  const perDevice = Math.ceil(total / DEVICES)
  const points: TelemetryPoint[] = []
  for (let i = 0; i < perDevice; i++) {
    for (let d = 0; d < DEVICES; d++) {
      const s = sampleFor(d, i)
      points.push({
        measurement: TELEMETRY_MEASUREMENT,
        tags: { enterprise: 'bench', site: 's1', line: 'l1', device: `m${d}` },
        fields: { ...s.values, seq: Math.floor(i / samplesPerMessage) },
        ts: s.ts,
      })
    }
  }
  const lines = toLines(points)
  const bodies: string[] = []
  for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) bodies.push(lines.slice(i, i + WRITE_BATCH_LINES).join('\n'))
  let next = 0
  const writer = async (): Promise<void> => {
    for (let body = bodies[next++]; body !== undefined; body = bodies[next++]) {
      const res = await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' } })
      if (res.status !== 204) throw new Error(`raw write failed: ${res.status} ${await res.text()}`)
    }
  }
  const influxdCpu = influxdCpuSeconds(influx)
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, writer))
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const influxdUsed = influxdCpuSeconds(influx)
  const stored = await countPoints(influx, db)
  if (stored !== lines.length) throw new Error(`raw write stored ${stored} of ${lines.length} points`)
  return {
    pointsPerS: lines.length / seconds,
    seconds,
    concurrency,
    influxdCpuSeconds: influxdUsed !== undefined && influxdCpu !== undefined ? influxdUsed - influxdCpu : undefined,
    writerCpuSeconds: (used.user + used.system) / 1e6,
  }
}

export interface PipelineSettings {
  /** Samples in each MQTT message (an edge agent batches what it polled since its last publish). */
  samplesPerMessage: number
  publishers: number
  /** Unacknowledged messages each publisher keeps in flight. */
  window: number
  batchSize: number
  flushIntervalMs: number
  maxInFlightMessages: number
}

export const PIPELINE_DEFAULTS: PipelineSettings = {
  samplesPerMessage: 10,
  publishers: 10,
  window: 500,
  batchSize: 10_000,
  flushIntervalMs: 200,
  maxInFlightMessages: 10_000,
}

/**
 * Samples through broker → ingest → InfluxDB, QoS 1. Publishers run in a child process, so the
 * broker and ingest (this process) have a core to themselves and influxd the other; the clock
 * stops when InfluxDB has acknowledged every point (as the raw writer's), the count is checked after.
 */
export interface PipelineRun {
  samplesPerS: number
  seconds: number
  stored: number
  /** CPU of this process (broker + ingest, or ingest alone when the broker runs in a child). */
  cpuSecondsHere: number
  /** CPU of the broker child process, when there is one. */
  cpuSecondsBrokerChild: number | undefined
  /** CPU of the publishers' process (the load, not the pipeline) in its timed section. */
  cpuSecondsLoad: number | undefined
  /** CPU of influxd from the load's start until the last write was confirmed. */
  cpuSecondsInfluxd: number | undefined
}

export async function pipelineRate(
  influx: RunningInfluxd,
  total: number,
  settings: PipelineSettings = PIPELINE_DEFAULTS,
  brokerIn: 'this-process' | 'child' = 'this-process',
  /** An Aedes persistence for the in-process broker (a comparison: e.g. aedes-persistence's own). */
  persistence?: unknown,
): Promise<PipelineRun> {
  const db = 'bench_pipeline'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 30_000 })
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`DROP SERIES FROM "${TELEMETRY_MEASUREMENT}"`)}&db=${db}`, { method: 'POST' })
  // Publishers here are anonymous (loopback) with the default publish policy (payloads validated);
  // the rate limit is lifted: 10 connections carry what 1,000 gateways would.
  const brokerConfig = { port: 0, publishRate: { messagesPerS: 0 } }
  const child = brokerIn === 'child' ? await startScript('broker-process.ts', { PW_BROKER_CONFIG: JSON.stringify(brokerConfig) }) : undefined
  const broker = child
    ? { url: child.ready.url as string, close: () => child.kill('SIGTERM') }
    : await startBroker(validateConfig(BrokerConfigSchema, brokerConfig), { logger: silentLogger(), ...(persistence ? { persistence } : {}) })
  let childCpu = 0
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, {
      batchSize: settings.batchSize,
      flushIntervalMs: settings.flushIntervalMs,
      maxInFlightMessages: settings.maxInFlightMessages,
    }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker.url, clientId: 'bench-ingest' }),
    store,
    logger: silentLogger(),
  })
  const perDevice = Math.ceil(total / DEVICES)
  const expected = perDevice * DEVICES
  let started = performance.now()
  let cpu = process.cpuUsage()
  let influxdCpu = influxdCpuSeconds(influx)
  const load = await runLoad(
    {
      mode: 'pipeline',
      url: broker.url,
      publishers: settings.publishers,
      devices: DEVICES,
      perDevice,
      samplesPerMessage: settings.samplesPerMessage,
      window: settings.window,
      t0: T0,
    },
    () => {
      started = performance.now()
      cpu = process.cpuUsage()
      influxdCpu = influxdCpuSeconds(influx)
      if (child) childCpu = processCpuSeconds(child.pid)
    },
  )
  // The clock stops when InfluxDB has acknowledged (204) every point, as the raw writer's does;
  // the count that proves nothing was lost is queried after, untimed.
  const deadline = Date.now() + 120_000
  while (ingest.stats().writtenPoints < expected && Date.now() < deadline) {
    await ingest.flush()
    if (ingest.stats().writtenPoints < expected) await new Promise((r) => setTimeout(r, 5))
  }
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const influxdUsed = influxdCpuSeconds(influx)
  const brokerChildCpu = child ? processCpuSeconds(child.pid) - childCpu : undefined
  let stored = 0
  while (Date.now() < deadline) {
    stored = await countPoints(influx, db)
    if (stored >= expected) break
    await new Promise((r) => setTimeout(r, 50))
  }
  await ingest.close()
  await broker.close()
  await store.close()
  return {
    samplesPerS: expected / seconds,
    seconds,
    stored,
    cpuSecondsHere: (used.user + used.system) / 1e6,
    cpuSecondsBrokerChild: brokerChildCpu,
    cpuSecondsLoad: load.cpuSeconds,
    cpuSecondsInfluxd: influxdUsed !== undefined && influxdCpu !== undefined ? influxdUsed - influxdCpu : undefined,
  }
}

/**
 * `npm run bench`: the raw InfluxDB ceiling, the pipeline against it, three brokers on the same
 * fan-in load, and memory under a QoS 0 flood. Prints one JSON object and writes it to bench/results/.
 */
export async function runBenchmarks(opts: BenchOptions): Promise<BenchResult> {
  const influx = await startInfluxd()
  const rounds: PipelineRound[] = []
  let reports: ReportsBenchResult
  try {
    // influxd and both sides' JIT warm up on a first, unreported round: the first raw write to a
    // fresh influxd runs ~30 % slower than the next ones, which would flatter the ratio.
    await pipelineRound(influx, Math.min(opts.samples, 200_000))
    for (let r = 0; r < (opts.rounds ?? 3); r++) rounds.push(await pipelineRound(influx, opts.samples))
    reports = await runReportsBenchmark({ influx, ...(opts.reportEnterprises !== undefined ? { enterprises: opts.reportEnterprises } : {}) })
  } finally {
    await influx.stop()
  }
  const raw = medianBy(rounds, (r) => r.raw.pointsPerS).raw
  const pipeline = medianBy(rounds, (r) => r.pipeline.samplesPerS).pipeline
  const split = medianBy(rounds, (r) => r.split.samplesPerS).split
  const fanInMessages = opts.fanInMessagesPerPublisher ?? 1000
  const fanInResults: FanInResult[] = []
  for (const broker of ['plantwatt', 'aedes', 'mosquitto'] as const) fanInResults.push(await fanIn(broker, fanInMessages))
  const flood = await qos0Flood(opts.floodSeconds ?? 6)
  const ui = await runUiBenchmark()
  const edge = await runEdgeBenchmark()
  const dlt645 = await runDlt645Benchmark()
  const expected = Math.ceil(opts.samples / DEVICES) * DEVICES
  const result: BenchResult = {
    benchmark: 'plantwatt broker + ingest',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    pipeline: {
      what: 'broker → ingest → influxdb in one process, QoS 1, publishers in a child process, the same influxd',
      samples: expected,
      devices: DEVICES,
      samplesPerMessage: PIPELINE_DEFAULTS.samplesPerMessage,
      settings: PIPELINE_DEFAULTS,
      rounds: rounds.length,
      pipelineSamplesPerS: Math.round(pipeline.samplesPerS),
      rawInfluxPointsPerS: Math.round(raw.pointsPerS),
      rawWrite: `the pipeline's points as the same line protocol, one writer, ${WRITE_BATCH_LINES}-line requests uncompressed, ${raw.concurrency} in flight (as store.write)`,
      ratio: Number((pipeline.samplesPerS / raw.pointsPerS).toFixed(3)),
      brokerIngestCpuUsPerSample: perSample(pipeline.cpuSecondsHere, expected),
      influxdCpuUsPerSample: perSample(pipeline.cpuSecondsInfluxd, expected),
      influxdCpuUsPerPointRaw: perSample(raw.influxdCpuSeconds, expected),
      rawWriterCpuUsPerPoint: perSample(raw.writerCpuSeconds, expected),
      loadCpuUsPerSample: perSample(pipeline.cpuSecondsLoad, expected),
      lost: rounds.reduce((sum, r) => sum + (expected - r.pipeline.stored) + (expected - r.split.stored), 0),
      perRound: rounds.map((r) => ({
        raw: Math.round(r.raw.pointsPerS),
        pipeline: Math.round(r.pipeline.samplesPerS),
        brokerInOwnProcess: Math.round(r.split.samplesPerS),
      })),
    },
    pipelineBrokerInOwnProcess: {
      what: 'the same with the broker in its own process (as `plantwatt broker` + `plantwatt ingest`): CPU of broker and ingest apart',
      samplesPerS: Math.round(split.samplesPerS),
      ratio: Number((split.samplesPerS / raw.pointsPerS).toFixed(3)),
      brokerCpuUsPerSample: perSample(split.cpuSecondsBrokerChild, expected),
      ingestCpuUsPerSample: perSample(split.cpuSecondsHere, expected),
      influxdCpuUsPerSample: perSample(split.cpuSecondsInfluxd, expected),
      lost: rounds.reduce((sum, r) => sum + (expected - r.split.stored), 0),
    },
    fanIn: { what: '50 publishers → 1 subscriber, QoS 1, 100 in flight per publisher', results: fanInResults, ratios: fanInRatios(fanInResults) },
    qos0Flood: flood,
    ui,
    edge,
    dlt645,
    reports,
  }
  const dir = join(import.meta.dirname, 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `bench-${result.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  return result
}
