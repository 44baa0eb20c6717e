import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { Point } from '@influxdata/influxdb-client'
import { silentLogger } from '../core/logger.ts'
import { buildTopic } from '../core/topic.ts'
import { encodePayload, type Sample } from '../core/payload.ts'
import { validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { startBroker } from '../broker/index.ts'
import { BrokerConfigSchema } from '../broker/config.ts'
import { startIngest } from '../ingest/index.ts'
import { IngestConfigSchema } from '../ingest/config.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'

export interface BenchOptions {
  /** Samples pushed through the pipeline (each sample = one InfluxDB point with 4 fields). */
  samples: number
}

const DEVICES = 100
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
async function rawInfluxRate(influx: RunningInfluxd, total: number): Promise<{ pointsPerS: number; seconds: number }> {
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

/** Samples through broker → ingest → InfluxDB, from one publisher per 10 devices, QoS 1. */
async function pipelineRate(influx: RunningInfluxd, total: number): Promise<{ samplesPerS: number; seconds: number; stored: number }> {
  const db = 'bench_pipeline'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 30_000 })
  const broker = await startBroker(validateConfig(BrokerConfigSchema, { port: 0 }), { logger: silentLogger() })
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, {}),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker.url, clientId: 'bench-ingest' }),
    store,
    logger: silentLogger(),
  })
  const perDevice = Math.ceil(total / DEVICES)
  const publishers = await Promise.all(Array.from({ length: 10 }, (_, k) => mqtt.connectAsync(broker.url, { clientId: `bench-pub-${k}` })))
  const started = performance.now()
  await Promise.all(
    publishers.map(async (client, k) => {
      let seq = 0
      for (let i = 0; i < perDevice; i += SAMPLES_PER_MESSAGE) {
        const sends: Promise<unknown>[] = []
        for (let d = k * (DEVICES / 10); d < (k + 1) * (DEVICES / 10); d++) {
          const samples: Sample[] = []
          for (let j = i; j < Math.min(i + SAMPLES_PER_MESSAGE, perDevice); j++) samples.push(sampleFor(d, j))
          const topic = buildTopic({ enterprise: 'bench', site: 's1', line: 'l1', device: `m${d}` }, 'data')
          sends.push(client.publishAsync(topic, encodePayload({ seq: seq, samples }), { qos: 1 }))
        }
        seq++
        await Promise.all(sends)
      }
    }),
  )
  const expected = perDevice * DEVICES
  await ingest.flush()
  let stored = 0
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    stored = await countPoints(influx, db)
    if (stored >= expected) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const seconds = (performance.now() - started) / 1000
  await Promise.all(publishers.map((c) => c.endAsync()))
  await ingest.close()
  await broker.close()
  await store.close()
  return { samplesPerS: expected / seconds, seconds, stored }
}

export async function runBenchmarks(opts: BenchOptions): Promise<void> {
  const influx = await startInfluxd()
  try {
    const raw = await rawInfluxRate(influx, opts.samples)
    const pipeline = await pipelineRate(influx, opts.samples)
    const expected = Math.ceil(opts.samples / DEVICES) * DEVICES
    const result = {
      benchmark: 'broker → ingest → influxdb',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      samples: expected,
      devices: DEVICES,
      samplesPerMessage: SAMPLES_PER_MESSAGE,
      pipelineSamplesPerS: Math.round(pipeline.samplesPerS),
      rawInfluxPointsPerS: Math.round(raw.pointsPerS),
      ratio: Number((pipeline.samplesPerS / raw.pointsPerS).toFixed(3)),
      stored: pipeline.stored,
      lost: expected - pipeline.stored,
    }
    const dir = join(import.meta.dirname, 'results')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `pipeline-${result.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2))
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  } finally {
    await influx.stop()
  }
}
