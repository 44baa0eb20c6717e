import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { PACKAGE_ROOT } from '../options.ts'

interface BenchOptions {
  samples: string
  rounds: string
  enterprises: string
}

/** The benchmark script `npm run bench` runs; the CLI starts it as a child process and imports nothing of bench/. */
export const BENCH_SCRIPT = join(PACKAGE_ROOT, 'bench', 'cli.ts')

/** Node arguments that run the benchmark script with the command's flags. */
export function benchArgs(opts: BenchOptions, script = BENCH_SCRIPT): string[] {
  return ['--import', 'tsx', script, '--samples', opts.samples, '--rounds', opts.rounds, '--enterprises', opts.enterprises]
}

async function runBench(opts: BenchOptions): Promise<void> {
  if (!existsSync(BENCH_SCRIPT)) throw new Error(`${BENCH_SCRIPT} not found: the benchmarks ship with the source checkout (npm run bench)`)
  // The package root as working directory: tsx resolves from there, as under `npm run bench`.
  const child = spawn(process.execPath, benchArgs(opts), { cwd: PACKAGE_ROOT, stdio: 'inherit' })
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)))
  })
  if (code !== 0) process.exitCode = code
}

/** `plantwatt bench`: `npm run bench` with the same flags (bench/cli.ts in a child process). */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks and print their results as JSON (also written to bench/results/); same as npm run bench')
    .option('--samples <n>', 'samples to push through broker → ingest → store in each round', '500000')
    .option('--rounds <n>', 'rounds of raw write and pipeline after a warm-up round (medians are reported)', '3')
    .option('--enterprises <n>', 'enterprises of the commission-scope report benchmark (a year of data each)', '100')
    .action(runBench)
}
