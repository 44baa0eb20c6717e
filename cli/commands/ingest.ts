import type { Command } from 'commander'
import { createLogger } from '../../core/logger.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { addMetricsOptions, type MetricsCliOptions, withMetrics } from '../metrics-server.ts'
import { runUntilSignal } from '../run-until-signal.ts'

async function runIngest(opts: CommonOptions & MetricsCliOptions): Promise<void> {
  const logger = createLogger('ingest')
  const cfg = loadConfig(opts)
  const { createStore } = await import('../../storage/index.ts')
  const { startIngest } = await import('../../ingest/index.ts')
  const { clientId } = await import('../wiring.ts')
  const { resolveComponentClients } = await import('../credentials.ts')
  const mqtt = resolveComponentClients(cfg.mqtt).ingest
  const store = await createStore(cfg.storage)
  const ingest = await startIngest({ config: cfg.ingest, mqtt: { ...mqtt, clientId: mqtt.clientId ?? clientId('ingest') }, store, plant: cfg.plant, logger })
  process.stdout.write(`ingest subscribed at ${cfg.mqtt.url}, writing to ${cfg.storage.backend}\n`)
  const { storeSize } = await import('../wiring.ts')
  const closables = await withMetrics(opts, () => ({ ingest: ingest.stats(), ...storeSize(cfg.storage) }), logger, [
    { name: 'store', close: () => store.close() },
    { name: 'ingest', close: () => ingest.close() },
  ])
  runUntilSignal(closables, logger)
}

/** `plantwatt ingest`: broker → store, alone. */
export function registerIngestCommand(program: Command): void {
  const command = program
    .command('ingest')
    .description('run ingest: subscribe to telemetry, validate, batch and write to the store')
    .option('-c, --config <file>', 'YAML config file (sections mqtt, storage, ingest, plant)')
    .addHelpText('after', configHelp(['mqtt', 'storage', 'ingest', 'plant']))
    .action(runIngest)
  addMetricsOptions(command)
}
