import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, override, portOption, type CommonOptions } from '../options.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import { referenceOf } from '../reference.ts'

async function runApi(opts: CommonOptions & { port?: number }): Promise<void> {
  const logger = createLogger('api')
  const cfg = loadConfig(opts)
  const { createStore } = await import('../../storage/index.ts')
  const { startApi, openDeadLetterFile } = await import('../../api/index.ts')
  const store = await createStore(cfg.storage)
  // Entries, alerts and silences live in the store's event log: another process (or the next start) reads them.
  const { openEventLog } = await import('../../storage/events.ts')
  const events = await openEventLog(cfg.storage)
  // The dead letters an ingest process appends to ingest.deadLetterFile (same config file).
  const file = cfg.ingest.deadLetterFile
  const deadLetters = file === undefined ? undefined : openDeadLetterFile({ file, memory: cfg.ingest.deadLetterMemory, logger })
  const api = await startApi({
    store,
    plant: cfg.plant,
    config: override(cfg.api, { port: opts.port }),
    commission: cfg.commission,
    reference: referenceOf(cfg),
    // The rules the alert service runs: POST /alerts/replay backtests these.
    alertRules: cfg.alerts.rules,
    events,
    logger,
    ...(deadLetters ? { deadLetters } : {}),
  })
  process.stdout.write(`API on ${api.url}/ (docs ${api.url}/docs)\n`)
  runUntilSignal(
    [
      { name: 'store', close: () => store.close() },
      { name: 'api', close: () => api.close() },
      { name: 'event log', close: () => events.close() },
    ],
    logger,
  )
}

/** `plantwatt api`: the HTTP API and web UI over the configured store, alone. */
export function registerApiCommand(program: Command): void {
  program
    .command('api')
    .description('run the HTTP API and web UI')
    .option('-c, --config <file>', 'YAML config file (sections storage, api, plant; ingest.deadLetterFile for GET /dead-letters)')
    .addOption(portOption('port', 'HTTP port'))
    .addHelpText('after', configHelp(['storage', 'api', 'plant']))
    .action(runApi)
}
