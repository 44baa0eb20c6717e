import type { Command } from 'commander'
import { loadPlantWattConfig } from '../config.ts'
import type { CommonOptions } from '../options.ts'

/** `plantwatt check -c <file>`: validates a config file, every problem at once (CORE_ERR_CONFIG). */
export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('validate a config file and report every problem at once')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action((opts: CommonOptions) => {
      loadPlantWattConfig(opts.config)
      process.stdout.write(`${opts.config}: ok\n`)
    })
}
