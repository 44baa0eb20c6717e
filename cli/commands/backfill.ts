import type { Command } from 'commander'
import { MINUTE_MS, DAY_MS } from '../../core/duration.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'

interface BackfillOptions extends CommonOptions {
  scenario: string
  days: string
  step: string
  fields: string
  storePath?: string
}

/** The validated numbers of a backfill: days of history, seconds between samples, which fields. */
export function backfillSettings(opts: Pick<BackfillOptions, 'days' | 'step' | 'fields'>): { days: number; stepS: number; fields: 'core' | 'all' } {
  const days = Number(opts.days)
  const stepS = Number(opts.step)
  if (!(days > 0 && days <= 3660)) throw new Error(`--days must be between 0 and 3660, got ${opts.days}`)
  if (!(stepS >= 1 && stepS <= 86_400)) throw new Error(`--step must be 1–86400 seconds, got ${opts.step}`)
  if (opts.fields !== 'core' && opts.fields !== 'all') throw new Error(`--fields must be core or all, got ${opts.fields}`)
  return { days, stepS, fields: opts.fields }
}

async function backfill(opts: BackfillOptions): Promise<void> {
  const { days, stepS, fields } = backfillSettings(opts)
  const cfg = loadConfig(opts)
  const storage = cfg.storage.backend === 'embedded' && opts.storePath ? { ...cfg.storage, path: opts.storePath } : cfg.storage
  const { createStore } = await import('../../storage/index.ts')
  const { loadScenario, backfillScenario } = await import('../../simulators/index.ts')
  const scenario = loadScenario(opts.scenario)
  const store = await createStore(storage)
  const stop = Date.now() - (Date.now() % MINUTE_MS)
  const started = performance.now()
  try {
    const result = await backfillScenario(scenario, store, { start: stop - days * DAY_MS, stop, stepMs: stepS * 1000, fields })
    const seconds = (performance.now() - started) / 1000
    process.stdout.write(
      `${JSON.stringify({ scenario: scenario.name, days, stepS, devices: result.devices, points: result.points, seconds: Number(seconds.toFixed(1)), pointsPerS: Math.round(result.points / seconds) })}\n`,
    )
  } finally {
    await store.close()
  }
}

/** `plantwatt backfill`: simulated history of a scenario written straight into the store. */
export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('write history of a plant scenario straight into the configured store (demos, benchmarks)')
    .option('-c, --config <file>', 'YAML config file (section storage)')
    .option('--scenario <name|file>', 'scenario to simulate', 'hubei')
    .option('--days <n>', 'days of history, ending now', '30')
    .option('--step <seconds>', 'seconds between samples', '60')
    .option('--fields <set>', "'core' (power, energy, PF, output) or 'all'", 'core')
    .option('--store-path <file>', 'embedded store file (overrides storage.path)')
    .addHelpText('after', configHelp(['storage']))
    .action(backfill)
}
