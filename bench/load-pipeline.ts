/**
 * The pipeline part of `npm run bench` alone, for tuning and profiling: the raw InfluxDB ceiling
 * and broker → ingest → InfluxDB on the same influxd, as a ratio, in one run.
 *
 *   node --import tsx bench/load-pipeline.ts [samples=200000] [runs=1] [this-process|child]
 *
 * PW_BENCH_PROFILE=dir writes CPU profiles (node --cpu-prof) of this process (ingest, and the broker
 * unless it runs in a child) to dir; run the broker child with NODE_OPTIONS=--cpu-prof to profile it.
 * PW_BENCH_SETTINGS='{"window":200,…}' overrides PIPELINE_DEFAULTS (for tuning).
 * PW_BENCH_BASELINE=1 (broker in this process) also runs the pipeline, in each round just before the
 * measured one, with aedes-persistence's own memory persistence (its array-scanned QoS 1 queues).
 *
 * The ratio is against the raw rate of the same lines written with the store's settings
 * (5,000-line requests, 2 in flight: `rawPointsPerS`); `ratioToSequentialRaw` is against one request
 * at a time (the bench's ceiling before 2026-11-29 10:00).
 */
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import aedesPersistence from 'aedes-persistence'
import { startInfluxd } from '../test/influxd.ts'
import { DEVICES, PIPELINE_DEFAULTS, pipelineRate, rawInfluxRate, type PipelineSettings } from './run.ts'

const total = Number(process.argv[2] ?? 200_000)
const runs = Number(process.argv[3] ?? 1)
const brokerIn = (process.argv[4] ?? 'this-process') as 'this-process' | 'child'
const profileDir = process.env.PW_BENCH_PROFILE
const settings: PipelineSettings = { ...PIPELINE_DEFAULTS, ...(JSON.parse(process.env.PW_BENCH_SETTINGS ?? '{}') as Partial<PipelineSettings>) }
const influx = await startInfluxd()
const out: Record<string, unknown>[] = []
try {
  for (let r = 0; r < runs; r++) {
    const raw = await rawInfluxRate(influx, total, undefined, settings.samplesPerMessage)
    const rawRate = raw.pointsPerS
    const rawSequential = (await rawInfluxRate(influx, total, 1, settings.samplesPerMessage)).pointsPerS
    const baseline =
      process.env.PW_BENCH_BASELINE && brokerIn === 'this-process'
        ? await pipelineRate(influx, total, settings, brokerIn, (aedesPersistence as unknown as () => unknown)())
        : undefined
    const session = profileDir ? new Session() : undefined
    if (session) {
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    }
    const p = await pipelineRate(influx, total, settings, brokerIn)
    if (session && profileDir) {
      const { profile } = await session.post('Profiler.stop')
      mkdirSync(profileDir, { recursive: true })
      writeFileSync(join(profileDir, `pipeline-${brokerIn}-${r}.cpuprofile`), JSON.stringify(profile))
    }
    const expected = Math.ceil(total / DEVICES) * DEVICES
    out.push({
      rawPointsPerS: Math.round(rawRate),
      pipelineSamplesPerS: Math.round(p.samplesPerS),
      rawSequentialPointsPerS: Math.round(rawSequential),
      ratio: Number((p.samplesPerS / rawRate).toFixed(3)),
      ratioToSequentialRaw: Number((p.samplesPerS / rawSequential).toFixed(3)),
      cpuUsPerSampleHere: Number(((p.cpuSecondsHere * 1e6) / expected).toFixed(1)),
      cpuUsPerSampleBrokerChild: p.cpuSecondsBrokerChild === undefined ? undefined : Number(((p.cpuSecondsBrokerChild * 1e6) / expected).toFixed(1)),
      cpuUsPerSampleLoad: p.cpuSecondsLoad === undefined ? undefined : Number(((p.cpuSecondsLoad * 1e6) / expected).toFixed(1)),
      cpuUsPerPointInfluxdRaw: raw.influxdCpuSeconds === undefined ? undefined : Number(((raw.influxdCpuSeconds * 1e6) / expected).toFixed(1)),
      cpuUsPerPointWriterRaw: Number(((raw.writerCpuSeconds * 1e6) / expected).toFixed(1)),
      cpuUsPerSampleInfluxd: p.cpuSecondsInfluxd === undefined ? undefined : Number(((p.cpuSecondsInfluxd * 1e6) / expected).toFixed(1)),
      rawSeconds: Number(raw.seconds.toFixed(2)),
      pipelineSeconds: Number(p.seconds.toFixed(2)),
      lost: expected - p.stored,
      ...(baseline
        ? {
            baselineAedesPersistence: {
              pipelineSamplesPerS: Math.round(baseline.samplesPerS),
              ratio: Number((baseline.samplesPerS / rawRate).toFixed(3)),
              ratioToSequentialRaw: Number((baseline.samplesPerS / rawSequential).toFixed(3)),
              cpuUsPerSampleHere: Number(((baseline.cpuSecondsHere * 1e6) / expected).toFixed(1)),
              lost: expected - baseline.stored,
            },
          }
        : {}),
    })
    process.stderr.write(`${JSON.stringify(out.at(-1))}\n`)
  }
} finally {
  await influx.stop()
}
process.stdout.write(`${JSON.stringify({ brokerIn, samples: total, settings, runs: out })}\n`)
process.exit(0)
