import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { PlantWattError } from '../../core/errors.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import type { ResolvedConfig } from '../config.ts'

/** Default of edge.bufferDir (edge-agent/config.ts); `plantwatt up` then puts the buffer beside an embedded store. */
const DEFAULT_BUFFER_DIR = './data/edge-buffer'

const MB = 1024 * 1024
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`
const day = (ts: number | undefined): string => (ts === undefined ? '—' : new Date(ts).toISOString().replace('.000Z', 'Z'))

function embeddedPath(cfg: ResolvedConfig, what: string): string {
  if (cfg.storage.backend !== 'embedded') {
    throw new PlantWattError(
      'CLI_ERR_STORAGE_BACKEND',
      `storage ${what} works on the embedded store; for InfluxDB use its own tools (README "Running for years": SHOW RETENTION POLICIES, influxd backup -portable)`,
    )
  }
  if (cfg.storage.path === ':memory:') throw new PlantWattError('CLI_ERR_STORAGE_BACKEND', `storage ${what}: the store is in memory (storage.path ':memory:')`)
  return resolve(cfg.storage.path)
}

/** Where the edge agents' disk buffers are, as `plantwatt up` and `plantwatt edge` place them. */
function bufferDirs(cfg: ResolvedConfig, storePath: string): string[] {
  const dirs = new Set<string>([resolve(cfg.edge.bufferDir)])
  if (cfg.edge.bufferDir === DEFAULT_BUFFER_DIR) dirs.add(join(dirname(storePath), 'edge-buffer'))
  return [...dirs]
}

async function status(opts: CommonOptions): Promise<void> {
  const cfg = loadConfig(opts)
  const path = embeddedPath(cfg, 'status')
  const { embeddedStatus } = await import('../../storage/embedded/status.ts')
  const { resolveRetention } = await import('../../storage/retention.ts')
  const retention = resolveRetention(cfg.storage.backend === 'embedded' ? cfg.storage.retention : undefined)
  const s = embeddedStatus(path, retention)
  const lines = [
    `${s.path}: ${mb(s.fileBytes)} on disk (file + WAL), schema version ${s.schemaVersion}, rolled up to ${day(s.rolledTo || undefined)}`,
    'resolution  size        rows          bytes/row  oldest                newest                kept   at a year',
  ]
  for (const r of s.resolutions) {
    lines.push(
      [
        r.resolution.padEnd(10),
        mb(r.bytes).padStart(10),
        String(r.rows).padStart(13),
        r.bytesPerRow.toFixed(1).padStart(10),
        day(r.oldest).padEnd(20),
        day(r.newest).padEnd(20),
        `${r.keptDays} d`.padStart(6),
        r.projectedYearBytes === undefined ? '—' : mb(r.projectedYearBytes),
      ].join('  '),
    )
  }
  lines.push(`other (series, event log, state): ${mb(s.otherBytes)}`)
  lines.push(`projected at a year: ${mb(s.projectedYearBytes)} (each resolution's bytes per day of the span it holds × the days it is kept, at most 365)`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

async function backup(opts: CommonOptions & { to: string }): Promise<void> {
  const cfg = loadConfig(opts)
  const path = embeddedPath(cfg, 'backup')
  const { backupEmbedded, edgeBufferExtras } = await import('../../storage/embedded/backup.ts')
  const extras = bufferDirs(cfg, path).flatMap(edgeBufferExtras)
  const r = await backupEmbedded(path, resolve(opts.to), extras)
  const lines = [
    `backed up ${path} (schema ${r.schemaVersion}; telemetry, roll-ups and event log) to ${r.file}: ${mb(r.bytes)} in ${(r.tookMs / 1000).toFixed(1)} s`,
  ]
  for (const name of r.included) lines.push(`  with ${name}`)
  for (const s of r.skipped) lines.push(`  without ${s.name}: ${s.reason}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

async function restore(opts: { from: string; to: string }): Promise<void> {
  const { restoreEmbedded } = await import('../../storage/embedded/backup.ts')
  const r = restoreEmbedded(resolve(opts.from), resolve(opts.to))
  const lines = [`restored ${opts.from} (taken ${r.created}, schema ${r.schemaVersion}) to ${r.store}`, ...r.files.map((f) => `  and ${f}`)]
  lines.push(
    `point storage.path at ${r.store}${r.files.length > 0 ? ` and edge.bufferDir at ${join(dirname(r.store), 'edge-buffer')}` : ''}, then start PlantWatt`,
  )
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** `plantwatt storage status|backup|restore`: the embedded store's size and projection, online backup, restore into a new folder. */
export function registerStorageCommand(program: Command): void {
  const storage = program.command('storage').description('the embedded store: size per resolution and at a year, online backup, restore')
  storage
    .command('status')
    .description('size, rows, oldest and newest per resolution (raw, 1-minute, 15-minute) and the projected size at a year')
    .requiredOption('-c, --config <file>', 'YAML config file (section storage)')
    .addHelpText('after', configHelp(['storage']))
    .action(status)
  storage
    .command('backup')
    .description('copy the running store (telemetry, roll-ups, event log) and the edge disk buffers into one file')
    .requiredOption('-c, --config <file>', 'YAML config file (sections storage, edge)')
    .requiredOption('--to <file>', 'backup file to create (never overwritten)')
    .action(backup)
  storage
    .command('restore')
    .description('restore a backup into a new folder: <dir>/plantwatt.db and <dir>/edge-buffer/')
    .requiredOption('--from <file>', 'backup file')
    .requiredOption('--to <dir>', 'folder to restore into (must not hold a store)')
    .action(restore)
}
