import { basename } from 'node:path'
import { PlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { PlantModel } from '../core/plant.ts'
import type { StoreConfig } from '../storage/config.ts'
import { openEventLog } from '../storage/events.ts'
import { createStore } from '../storage/index.ts'
import { importCsv, type CounterStart, type ImportResult } from './index.ts'
import { PLAIN_IMPORT_OPTION_KEYS, parseColumnMapping, type ImportOptionsInput } from './options.ts'

/** The config sections `plantwatt import` reads. */
export interface ImportCommandConfig {
  plant: PlantModel
  storage: StoreConfig
}

/**
 * `plantwatt import file.csv -c config.yaml [options]`: imports one file into the configured store
 * (and its event log), as the API does, with the CLI user as principal (no tenant limit: whoever
 * holds the config file holds the store). Opens and closes the store itself.
 * Exit code suggestion: 0 all rows imported, 2 some rows rejected (the rest imported), 1 on a thrown
 * PlantWattError (nothing imported).
 */
export async function runImportCommand(file: string, config: ImportCommandConfig, options: ImportOptionsInput = {}, logger?: Logger): Promise<ImportResult> {
  const store = await createStore(config.storage)
  try {
    const events = await openEventLog(config.storage)
    try {
      const result = await importCsv({ path: file }, options, {
        store,
        plant: config.plant,
        events,
        principal: `cli:${process.env.USER ?? 'unknown'}`,
        sourceName: basename(file),
      })
      logger?.info({ file, imported: result.imported, rejected: result.rejected, points: result.points }, 'import done')
      return result
    } finally {
      await events.close()
    }
  } finally {
    await store.close()
  }
}

/** Command-line flags as commander gives them (strings, booleans, repeated --map). */
export interface ImportFlags {
  layout?: string
  device?: string
  timezone?: string
  timestampFormat?: string
  dateOrder?: string
  timestampIs?: string
  midnight?: string
  intervalMinutes?: string
  startKwh?: string
  intervalPower?: string
  timestampColumn?: string
  deviceColumn?: string
  quantityColumn?: string
  valueColumn?: string
  qualityColumn?: string
  energyColumn?: string
  map?: string[]
  delimiter?: string
  dryRun?: boolean
}

/**
 * Flags → import options; numbers parsed here, everything else checked by the options schema
 * (IMPORT_ERR_OPTIONS). Other keys of `flags` (commander's `config`, …) are ignored.
 */
export function importOptionsFromFlags(flags: ImportFlags & Record<string, unknown>): ImportOptionsInput {
  const out: Record<string, unknown> = {}
  for (const key of PLAIN_IMPORT_OPTION_KEYS) {
    const value = flags[key]
    if (value === undefined) continue
    if (key === 'intervalMinutes' || key === 'startKwh') {
      const n = Number(value)
      if (!Number.isFinite(n))
        throw new PlantWattError(
          'IMPORT_ERR_OPTIONS',
          `--${key === 'intervalMinutes' ? 'interval-minutes' : 'start-kwh'} must be a number, got ${JSON.stringify(value)}`,
        )
      out[key] = n
    } else out[key] = key === 'delimiter' && value === '\\t' ? '\t' : value
  }
  if (flags.map && flags.map.length > 0) out.columns = Object.fromEntries(flags.map.map(parseColumnMapping))
  return out as ImportOptionsInput
}

/** Why an interval file's counter starts where it does, in words. */
function counterBasis(c: CounterStart): string {
  if (c.basis === 'given') return 'given (startKwh)'
  if (c.basis === 'zero') return 'zero (no earlier reading in the store)'
  return c.storedAt === c.at
    ? 'stored at that instant (continued)'
    : `stored at ${new Date(c.storedAt ?? c.at).toISOString()} (latest earlier reading, continued)`
}

/**
 * A short human report: counts; interval layout: where each device's counter starts and why; the
 * warnings; then up to `maxLines` bad rows as `line N [column] CODE: message`.
 */
export function formatImportReport(r: ImportResult, maxLines = 50): string {
  const lines = [
    `${r.dryRun ? 'dry run: would import' : 'imported'} ${r.imported} of ${r.rows} rows (${r.points} points, ${r.devices.length} device(s)); rejected ${r.rejected}` +
      (r.layout === 'interval' ? `; gaps ${r.gaps}, D 00:00 rows read as end of day ${r.midnightShifted}` : ''),
  ]
  for (const c of r.counterStarts) lines.push(`  counter ${c.device} ${c.quantity} starts at ${c.value} on ${new Date(c.at).toISOString()}: ${counterBasis(c)}`)
  for (const w of r.warnings) lines.push(`  ${w.code}: ${w.message}`)
  for (const e of r.errors.slice(0, maxLines)) lines.push(`  line ${e.line}${e.column ? ` [${e.column}]` : ''} ${e.code}: ${e.message}`)
  if (r.rejected > Math.min(maxLines, r.errors.length)) lines.push(`  … ${r.rejected - Math.min(maxLines, r.errors.length)} more`)
  return lines.join('\n')
}
