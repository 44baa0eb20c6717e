import type { UploadsBook } from '../../upload/status.ts'
import { generateKeyPairSync } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Command } from 'commander'
import Type from 'typebox'
import { loadConfigFile } from '../../core/config.ts'
import { createLogger, type Logger } from '../../core/logger.ts'
import type { PlantModel } from '../../core/plant.ts'
import type { EventLog } from '../../storage/events.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import type { ReferenceData } from '../../analytics/index.ts'
import { ProvinceConfigSchema } from '../../province/config.ts'
import type { Scenario } from '../../simulators/scenario/schema.ts'
import type { ResolvedConfig } from '../config.ts'
import { portOption } from '../options.ts'
import { referenceOf } from '../reference.ts'
import { runUntilSignal } from '../run-until-signal.ts'
import type { Closable } from '../wiring.ts'

const ProvinceFileSchema = Type.Object({ province: ProvinceConfigSchema }, { additionalProperties: false })

async function runProvince(opts: { config?: string; port?: number }): Promise<void> {
  const logger = createLogger('province')
  const { resolveProvinceConfig } = await import('../../province/config.ts')
  const { startProvince } = await import('../../province/server.ts')
  const file = opts.config === undefined ? { province: {} } : loadConfigFile(ProvinceFileSchema, opts.config)
  const config = resolveProvinceConfig({ ...file.province, ...(opts.port === undefined ? {} : { port: opts.port }) }, `${opts.config ?? 'config'}: province`)
  const service = await startProvince(config)
  process.stdout.write(`Province service ${config.name}: ${service.registry.size} enterprises, on ${service.url}/ (OpenAPI ${service.url}/docs/json)\n`)
  runUntilSignal([{ name: 'province', close: () => service.close() }], logger)
}

/** `plantwatt province -c province.yaml`: the provincial platform (its own store, API and page). */
export function registerProvinceCommand(program: Command): void {
  program
    .command('province')
    .description('run the province service: enterprise registry, signed uploads, the commission view from uploads')
    .option('-c, --config <file>', 'YAML file with a `province:` section (enterprises with their Ed25519 public keys, tls, dataDir, targets)')
    .addOption(portOption('port', 'HTTPS port'))
    .action(runProvince)
}

export interface DemoProvince {
  url: string
  enterprises: string[]
  closables: Closable[]
}

/**
 * `npm start`: a province service inside the demo process (plain HTTP on 127.0.0.1 — one process,
 * no network between the tiers) and one uploader per enterprise of the plant, each with its own
 * key pair made here, computing from the plant's store with the plant's own reports.
 */
export async function startDemoProvince(
  plant: PlantModel,
  store: TelemetryStore,
  events: EventLog,
  opts: {
    dataDir: string
    backfillDays: number
    cities: ReadonlyMap<string, string>
    reference?: ReferenceData
    logger: Logger
    /** Where each uploader is registered for the plant API's GET /uploads. */
    uploads?: UploadsBook
  },
): Promise<DemoProvince> {
  const { resolveProvinceConfig } = await import('../../province/config.ts')
  const { startProvince } = await import('../../province/server.ts')
  const { PlantReportsProvider } = await import('../../upload/indicators.ts')
  const { startUploader } = await import('../../upload/uploader.ts')
  const { UploadConfigSchema } = await import('../../upload/config.ts')
  const { validateConfig } = await import('../../core/config.ts')
  const { reportReadersOf } = await import('../../records/index.ts')
  // The plant's own reports, with its entries (weighbridge coal, ERP production) and meter events.
  const readers = reportReadersOf(events)
  const keys = new Map(plant.enterprises.map((e) => [e.id, generateKeyPairSync('ed25519')]))
  const config = resolveProvinceConfig({
    name: 'Hubei (demo)',
    port: 0,
    dataDir: join(opts.dataDir, 'province'),
    enterprises: plant.enterprises.map((e) => ({
      id: e.id,
      name: e.name ?? e.id,
      city: opts.cities.get(e.id) ?? e.region,
      industry: e.industry ?? 'unspecified',
      publicKey: keys.get(e.id)?.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    })),
  })
  const province = await startProvince(config)
  const closables: Closable[] = [{ name: 'province', close: () => province.close() }]
  for (const e of plant.enterprises) {
    const cfg = validateConfig(UploadConfigSchema, {
      url: province.url,
      dataDir: join(opts.dataDir, 'upload', e.id),
      backfillDays: Math.max(1, opts.backfillDays),
      intervalS: 60,
    })
    const provider = new PlantReportsProvider(
      { store, model: plant, now: Date.now, ...(opts.reference ? { reference: opts.reference } : {}), ...readers },
      e.id,
    )
    const uploader = startUploader(cfg, e.id, {
      provider,
      timezone: plant.timezone,
      logger: opts.logger.child({ component: `upload/${e.id}` }),
      keyPem: keys.get(e.id)?.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() ?? '',
    })
    opts.uploads?.register(e.id, uploader.outbox)
    // closed in reverse: the uploaders before the province and the store
    closables.push({ name: `upload ${e.id}`, close: () => uploader.close() })
  }
  return { url: province.url, enterprises: plant.enterprises.map((e) => e.id), closables }
}

/**
 * What `plantwatt up` adds to the one process: with a scenario, the demo province and an uploader per
 * enterprise; otherwise the config's uploader when `upload.enabled`. Returns banner lines and closables.
 */
export async function startUploadTier(
  cfg: ResolvedConfig,
  running: { store: TelemetryStore; events: EventLog; plant: PlantModel; uploads?: UploadsBook },
  opts: { scenario?: Scenario; historyDays: number; logger: Logger },
): Promise<{ lines: string[]; closables: Closable[] }> {
  if (opts.scenario) {
    const cities = new Map(opts.scenario.enterprises.map((e) => [e.id, e.sites.find((s) => s.city !== undefined)?.city ?? e.region ?? 'unknown']))
    const dataDir = cfg.storage.backend === 'embedded' ? dirname(cfg.storage.path) : 'data'
    const demo = await startDemoProvince(running.plant, running.store, running.events, {
      dataDir,
      backfillDays: Math.max(1, opts.historyDays),
      cities,
      reference: referenceOf(cfg),
      logger: opts.logger,
      ...(running.uploads ? { uploads: running.uploads } : {}),
    })
    return { lines: [`  Province      ${demo.url}/ (uploads of ${demo.enterprises.join(', ')}; OpenAPI ${demo.url}/docs/json)`], closables: demo.closables }
  }
  if (!cfg.upload.enabled) return { lines: [], closables: [] }
  const { startConfiguredUploader } = await import('./upload.ts')
  const uploader = await startConfiguredUploader(cfg, running.store, running.events, running.plant, opts.logger.child({ component: 'upload' }))
  running.uploads?.register(uploader.stats().enterprise, uploader.outbox)
  return { lines: [`  Upload        ${uploader.stats().enterprise} → ${cfg.upload.url}`], closables: [{ name: 'uploader', close: () => uploader.close() }] }
}
