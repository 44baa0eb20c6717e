import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'

async function runImport(file: string, opts: CommonOptions & Record<string, unknown>): Promise<void> {
  const logger = createLogger('import')
  const cfg = loadConfig(opts)
  const { runImportCommand, importOptionsFromFlags, formatImportReport } = await import('../../importer/cli.ts')
  const result = await runImportCommand(file, { plant: cfg.plant, storage: cfg.storage }, importOptionsFromFlags(opts), logger)
  process.stdout.write(`${formatImportReport(result)}\n`)
  if (result.rejected > 0) process.exitCode = 2
}

/** `plantwatt import <file>`: historical CSV into the store (importer/). */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('import historical data from a CSV file into the configured store (long layout, or interval kWh per row); see importer/README.md')
    .argument('<file>', 'CSV file (UTF-8, with a header line)')
    .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
    .option('--layout <layout>', 'long | interval (default: detected from the header)')
    .option('--device <address>', 'enterprise/site/line/device (or a unique device id) for files without a device column')
    .option('--timezone <zone>', "IANA zone of timestamps without an offset (default: the device's site zone)")
    .option('--timestamp-format <format>', 'iso | epoch-ms | epoch-s | "DD/MM/YYYY HH:mm" style (default: detected)')
    .option('--date-order <order>', 'dmy | mdy for slashed dates')
    .option('--timestamp-is <end>', 'interval layout: the timestamp marks the interval start | end (default end)')
    .option('--midnight <mode>', "auto | literal: read 'D 00:00' after D's rows as the end of day D (auto, default)")
    .option('--interval-minutes <n>', 'interval layout: interval length (default: learned per device)')
    .option(
      '--start-kwh <n>',
      'interval layout: counter value at the first interval start (default: continued from the store — its reading there, else its latest in the 366 days before, else 0)',
    )
    .option('--interval-power <mode>', "interval layout: mean (default) also writes each interval's mean active_power_kw; off = the counter only")
    .option('--timestamp-column <name>', 'timestamp column name')
    .option('--device-column <name>', 'device column name')
    .option('--quantity-column <name>', 'long layout: quantity column name')
    .option('--value-column <name>', 'long layout: value column name')
    .option('--quality-column <name>', 'long layout: quality column name')
    .option('--energy-column <name>', 'interval layout: kWh column name (e.g. Usage_kWh)')
    .option('--map <column:quantity*scale>', 'interval layout: map another column to a quantity (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--delimiter <char>', "field separator (default ','; '\\t' for tab)")
    .option('--dry-run', 'validate and report only; write nothing')
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runImport)
}
