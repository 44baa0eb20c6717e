/**
 * `npm run bench [-- --samples N --rounds N --enterprises N]`: runs every benchmark (bench/run.ts)
 * and prints the result as JSON (also written to bench/results/). Run directly, not through the
 * `plantwatt` CLI: the product does not depend on its benchmarks.
 */
import { parseArgs } from 'node:util'
import { runBenchmarks } from './run.ts'
import { runStorageRetentionBenchmark } from './storage-retention.ts'
import { runBillBenchmark } from './bill.ts'
import { provinceOptions, runProvinceBenchmark } from './province.ts'
import { runLiveLatencyBenchmark } from './live-latency.ts'

const USAGE = `usage: npm run bench -- [options]
  --samples <n>      samples to push through broker → ingest → store in each round (default 500000)
  --rounds <n>       rounds of raw write and pipeline after a warm-up round (medians are reported) (default 3)
  --enterprises <n>  enterprises of the commission-scope report benchmark (a year of data each) (default 100)
  --only live-latency  only the live stream's meter read → SSE client latency on the demo (hubei, 38 devices at 1 s), poll path and push path (bench/live-latency.ts)
  --only bill        only the bill check: a month of 1-minute data of 10 incomers on one supply account (bench/bill.ts)
  --only province    only the province tier (bench/province.ts; its options: --enterprises 1000 --days 30 --processes 2
                     --live-quarters 96 --outage-s 5 --big 10000 --concurrency 32); the full run runs it with its defaults
  --only storage-retention  only the embedded store over years: bytes per value, a year projected, a backfill with retention, the yearly report before and after expiry (bench/storage-retention.ts)
`

function count(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, got ${text}`)
  return n
}

try {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '500000' },
      rounds: { type: 'string', default: '3' },
      enterprises: { type: 'string', default: '100' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(USAGE)
  } else if (values.only === 'storage-retention') {
    process.stdout.write(`${JSON.stringify(await runStorageRetentionBenchmark(), null, 2)}\n`)
  } else if (values.only === 'live-latency') {
    process.stdout.write(`${JSON.stringify(await runLiveLatencyBenchmark(), null, 2)}\n`)
  } else if (values.only === 'province') {
    process.stdout.write(`${JSON.stringify(await runProvinceBenchmark(provinceOptions(process.argv.slice(2))), null, 2)}\n`)
  } else if (values.only !== undefined) {
    if (values.only !== 'bill') throw new Error(`--only must be bill, live-latency, province or storage-retention, got ${values.only}`)
    process.stdout.write(`${JSON.stringify(await runBillBenchmark(), null, 2)}\n`)
  } else {
    await runBenchmarks({
      samples: count('samples', values.samples),
      rounds: count('rounds', values.rounds),
      reportEnterprises: count('enterprises', values.enterprises),
    })
    process.stdout.write(`${JSON.stringify(await runProvinceBenchmark(provinceOptions([])), null, 2)}\n`)
    process.stdout.write(`${JSON.stringify({ storageRetention: await runStorageRetentionBenchmark() }, null, 2)}\n`)
    process.stdout.write(`${JSON.stringify({ liveLatency: await runLiveLatencyBenchmark() }, null, 2)}\n`)
  }
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`)
  process.exitCode = 1
}
