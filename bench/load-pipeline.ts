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
import { startInfluxd } from '../test/influxd.ts'
import { DEVICES, pipelineRate, rawInfluxRate } from './run.ts'

const total = Number(process.argv[2] ?? 200_000)
const runs = Number(process.argv[3] ?? 1)
const brokerIn = (process.argv[4] ?? 'this-process') as 'this-process' | 'child'
const profileDir = process.env.PW_BENCH_PROFILE
const influx = await startInfluxd()
const out: Record<string, unknown>[] = []
try {
  for (let r = 0; r < runs; r++) {
    const rawRate = (await rawInfluxRate(influx, total)).pointsPerS
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
