import type { Command } from 'commander'
import { formatReferenceSummary, referenceSummary } from '../../analytics/index.ts'
import { loadPlantWattConfig } from '../config.ts'
import type { CommonOptions } from '../options.ts'
import { referenceOf } from '../reference.ts'

/**
 * `plantwatt check -c <file>`: validates a config file, every problem at once (CORE_ERR_CONFIG) —
 * the reference files it names included — then prints the reference data in force today per table
 * and what the configuration overrides.
 */
export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('validate a config file and report every problem at once; list the reference data in force')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action((opts: CommonOptions) => {
      const cfg = loadPlantWattConfig(opts.config)
      const lines = formatReferenceSummary(referenceSummary(referenceOf(cfg), Date.now()))
      process.stdout.write(`${opts.config}: ok\n`)
      process.stdout.write(`reference data in force now:\n${lines.map((l) => `  ${l}`).join('\n')}\n`)
    })
}
