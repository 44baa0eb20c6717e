import { Command } from 'commander'
import { registerAlertsCommand } from './commands/alerts.ts'
import { registerApiCommand } from './commands/api.ts'
import { registerBackfillCommand } from './commands/backfill.ts'
import { registerBenchCommand } from './commands/bench.ts'
import { registerBrokerCommand } from './commands/broker.ts'
import { registerCheckCommand } from './commands/check.ts'
import { registerEdgeCommand } from './commands/edge.ts'
import { registerEntriesCommand } from './commands/entries.ts'
import { registerImportCommand } from './commands/import.ts'
import { registerIngestCommand } from './commands/ingest.ts'
import { registerMeterEventsCommand } from './commands/meter-events.ts'
import { registerProvinceCommand } from './commands/province.ts'
import { registerSimCommand } from './commands/sim.ts'
import { registerStorageCommand } from './commands/storage.ts'
import { registerUpCommand } from './commands/up.ts'
import { registerUploadCommand } from './commands/upload.ts'
import { PACKAGE_VERSION } from './options.ts'

/**
 * The `plantwatt` command with every subcommand registered, in the order `--help` lists them. Each
 * command loads its components only when it runs, so `--help` and `check` start fast.
 */
export function buildProgram(): Command {
  const program = new Command('plantwatt')
    .description('PlantWatt: industrial energy monitoring — edge agents, MQTT broker, ingest, storage and API')
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
  for (const register of [
    registerUpCommand,
    registerBrokerCommand,
    registerEdgeCommand,
    registerIngestCommand,
    registerApiCommand,
    registerSimCommand,
    registerBackfillCommand,
    registerAlertsCommand,
    registerImportCommand,
    registerEntriesCommand,
    registerMeterEventsCommand,
    registerStorageCommand,
    registerUploadCommand,
    registerProvinceCommand,
    registerCheckCommand,
    registerBenchCommand,
  ]) {
    register(program)
  }
  return program
}
