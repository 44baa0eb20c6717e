/**
 * `npm run bench [-- --samples N --rounds N --enterprises N]`: runs every benchmark (bench/run.ts)
 * and prints the result as JSON (also written to bench/results/). `npm run bench -- --only <name>
 * [its options]` runs one, passing the other arguments to it. Run directly, not through the
 * `plantwatt` CLI: the product does not depend on its benchmarks.
 */
import { parseArgs } from 'node:util'
import { runBenchmarks } from './run.ts'
import { runStorageRetentionBenchmark, storageRetentionOptions } from './storage-retention.ts'
import { runBillBenchmark } from './bill.ts'
import { provinceOptions, runProvinceBenchmark } from './province.ts'
import { runLiveLatencyBenchmark } from './live-latency.ts'
import { runReportsBenchmark } from './reports.ts'

const USAGE = `usage: npm run bench -- [options]          every benchmark
       npm run bench -- --only <name> [its options]
  --samples <n>      samples to push through broker → ingest → store in each round (default 500000)
  --rounds <n>       rounds of raw write and pipeline after a warm-up round (medians are reported) (default 3)
  --enterprises <n>  enterprises of the commission-scope report benchmark (a year of data each) (default 100)
  --only reports     only the reports on both stores (bench/reports.ts; --enterprises 1: the one-line year, 100 the commission scope)
  --only live-latency  only the live stream's meter read → SSE client latency on the demo (hubei, 38 devices at 1 s), poll path and push path (bench/live-latency.ts)
  --only bill        only the bill check: a month of 1-minute data of 10 incomers on one supply account (bench/bill.ts)
  --only province    only the province tier (bench/province.ts; its options: --enterprises 1000 --days 30 --processes 2
                     --live-quarters 96 --speed 60 --live-outage-min 60 --outage-s 5 --big 10000 --concurrency 32); the full run runs it with its defaults
  --only storage-retention  only the embedded store over years (bench/storage-retention.ts; its options: --days 6 --raw-days 2,
                     e.g. --days 30 --raw-days 7 for the month at full rate)
`

function count(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, got ${text}`)
  return n
}

/** One benchmark alone, given the arguments that are not `--only <name>`. */
const ONLY: Record<string, (args: string[]) => Promise<unknown>> = {
  reports: (args) => {
    const { values } = parseArgs({ args, options: { enterprises: { type: 'string', default: '1' } }, strict: true })
    return runReportsBenchmark({ enterprises: count('enterprises', values.enterprises) })
  },
  'live-latency': () => runLiveLatencyBenchmark(),
  bill: () => runBillBenchmark(),
  province: (args) => runProvinceBenchmark(provinceOptions(args)),
  'storage-retention': (args) => runStorageRetentionBenchmark(storageRetentionOptions(args)),
}

/** The value of `--only` (as `--only x` or `--only=x`) and the other arguments. */
function splitOnly(argv: readonly string[]): { only: string | undefined; rest: string[] } {
  const rest = [...argv]
  const i = rest.findIndex((a) => a === '--only' || a.startsWith('--only='))
  if (i < 0) return { only: undefined, rest }
  const arg = rest[i] ?? ''
  const only = arg === '--only' ? rest[i + 1] : arg.slice('--only='.length)
  rest.splice(i, arg === '--only' ? 2 : 1)
  return { only, rest }
}

try {
  const { only, rest } = splitOnly(process.argv.slice(2))
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE)
  } else if (only !== undefined) {
    const run = ONLY[only]
    if (!run) throw new Error(`--only must be one of ${Object.keys(ONLY).join(', ')}, got ${only}`)
    process.stdout.write(`${JSON.stringify(await run(rest), null, 2)}\n`)
  } else {
    const { values } = parseArgs({
      args: rest,
      options: {
        samples: { type: 'string', default: '500000' },
        rounds: { type: 'string', default: '3' },
        enterprises: { type: 'string', default: '100' },
      },
      strict: true,
    })
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
