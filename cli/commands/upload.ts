import type { Command } from 'commander'
import { join } from 'node:path'
import { PlantWattError } from '../../core/errors.ts'
import { createLogger, type Logger } from '../../core/logger.ts'
import type { PlantModel } from '../../core/plant.ts'
import type { EventLog } from '../../storage/events.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import type { Uploader } from '../../upload/uploader.ts'
import type { ResolvedConfig } from '../config.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { referenceOf } from '../reference.ts'
import { runUntilSignal } from '../run-until-signal.ts'

/** The enterprise this plant uploads as: `upload.enterprise`, else the plant's only enterprise. */
function enterpriseOf(cfg: ResolvedConfig, plant: PlantModel): string {
  if (cfg.upload.enterprise !== undefined) return cfg.upload.enterprise
  const only = plant.enterprises.length === 1 ? plant.enterprises[0] : undefined
  if (!only)
    throw new PlantWattError('UPLOAD_ERR_CONFIG', `upload.enterprise: the plant has ${plant.enterprises.length} enterprises; name the one that uploads`)
  return only.id
}

/** The uploader of the config's `upload:` section over this store and plant (used by `plantwatt up` and `upload`). */
export async function startConfiguredUploader(
  cfg: ResolvedConfig,
  store: TelemetryStore,
  events: EventLog,
  plant: PlantModel,
  logger: Logger,
): Promise<Uploader> {
  const { PlantReportsProvider } = await import('../../upload/indicators.ts')
  const { startUploader } = await import('../../upload/uploader.ts')
  const { reportReadersOf } = await import('../../records/index.ts')
  const enterprise = enterpriseOf(cfg, plant)
  // The plant's own reports, with its entries (weighbridge coal, ERP production) and meter events.
  const provider = new PlantReportsProvider({ store, model: plant, now: Date.now, reference: referenceOf(cfg), ...reportReadersOf(events) }, enterprise)
  return startUploader(cfg.upload, enterprise, { provider, timezone: plant.timezone, logger })
}

/** What was uploaded, what is pending and what the province rejected and why, from the outbox file. */
async function printStatus(cfg: ResolvedConfig, limit: number): Promise<void> {
  const { Outbox } = await import('../../upload/outbox.ts')
  const { outboxStatus } = await import('../../upload/status.ts')
  const outbox = new Outbox(join(cfg.upload.dataDir, 'outbox.sqlite'))
  const status = outboxStatus(enterpriseOf(cfg, cfg.plant), outbox, limit)
  outbox.close()
  process.stdout.write(`${JSON.stringify(status, null, 2)}\n`)
}

async function runUpload(opts: CommonOptions & { once?: boolean; status?: boolean }): Promise<void> {
  const logger = createLogger('upload')
  const cfg = loadConfig(opts)
  if (opts.status) return printStatus(cfg, 20)
  const { createStore } = await import('../../storage/index.ts')
  const { openEventLog } = await import('../../storage/events.ts')
  const store = await createStore(cfg.storage)
  const events = await openEventLog(cfg.storage)
  const uploader = await startConfiguredUploader(cfg, store, events, cfg.plant, logger)
  if (opts.once) {
    await uploader.tick()
    process.stdout.write(`${JSON.stringify(uploader.stats())}\n`)
    await uploader.close()
    await events.close()
    await store.close()
    return
  }
  process.stdout.write(`Uploading ${uploader.stats().enterprise} to ${cfg.upload.url} (outbox ${join(cfg.upload.dataDir, 'outbox.sqlite')})\n`)
  runUntilSignal(
    [
      { name: 'uploader', close: () => uploader.close() },
      { name: 'event log', close: () => events.close() },
      { name: 'store', close: () => store.close() },
    ],
    logger,
  )
}

/** `plantwatt upload -c plant.yaml`: the enterprise's uploader to the province, alone. */
export function registerUploadCommand(program: Command): void {
  program
    .command('upload')
    .description('upload this enterprise’s indicators to the province service (durable outbox, signed, retried until acknowledged)')
    .option('-c, --config <file>', 'YAML config file (sections upload, storage, plant, reference)')
    .option('--once', 'compute, send what is due, print the stats and exit')
    .option('--status', 'print what was uploaded, what is pending and what the province rejected and why (newest 20 of each), and exit')
    .addHelpText('after', configHelp(['upload', 'storage', 'plant']))
    .action(runUpload)
}
