import { readFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import type { Command } from 'commander'
import { isPlantWattError } from '../../core/errors.ts'
import type { PlantModel } from '../../core/plant.ts'
import type { Entry, EntryCsvRowError } from '../../records/index.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { recordFlagError, recordFlagTime } from '../record-flags.ts'
import { DAY_MS } from '../../core/duration.ts'

/** `plantwatt entries list|add|import`: entries for what no meter measures (records/), in the configured store's event log. */

interface WhoFlags extends CommonOptions {
  user?: string
  reason?: string
}

interface AddFlags extends WhoFlags {
  scope: string
  kind?: string
  carrier?: string
  direction?: string
  amount: string
  unit: string
  start: string
  end: string
  ncv?: string
  source?: string
}

interface ListFlags extends CommonOptions {
  scope?: string
  from?: string
  to?: string
  kind?: string
  carrier?: string
}

const timeOf = (text: string, flag: string, timezone: string): Promise<number> => recordFlagTime(text, flag, timezone, '2026-03-01, 2026-03-01T08:00')

/** The raw entry `add` submits (checked by the records rules like any other). */
export async function entryOfFlags(f: AddFlags, timezone: string): Promise<Record<string, unknown>> {
  const [enterprise, site, line, extra] = f.scope.split('/')
  if (!enterprise || extra !== undefined) throw recordFlagError(`--scope must be enterprise[/site[/line]], got ${JSON.stringify(f.scope)}`, 'scope')
  const kind = f.kind ?? (f.carrier === undefined ? 'production' : 'energy')
  const raw: Record<string, unknown> = {
    kind,
    enterprise,
    amount: Number(f.amount),
    unit: f.unit,
    start: await timeOf(f.start, 'start', timezone),
    end: await timeOf(f.end, 'end', timezone),
    source: f.source ?? 'cli',
  }
  if (site !== undefined) raw.site = site
  if (line !== undefined) raw.line = line
  if (f.carrier !== undefined) raw.carrier = f.carrier
  if (kind === 'energy') raw.direction = f.direction ?? 'import'
  if (f.ncv !== undefined) raw.ncvKjPerUnit = Number(f.ncv)
  return raw
}

/** One line per entry: id, revision, scope, what, period, who/when. */
export function formatEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return 'no entries'
  return entries
    .map((e) => {
      const scope = [e.enterprise, e.site, e.line].filter((x) => x !== undefined).join('/')
      const what =
        e.kind === 'energy'
          ? `${e.carrier} ${e.direction} ${e.amount} ${e.unit}${e.ncvKjPerUnit !== undefined ? ` NCV ${e.ncvKjPerUnit} kJ/${e.unit}` : ''}`
          : `production ${e.amount} ${e.unit}`
      const period = `${new Date(e.start).toISOString()} – ${new Date(e.end).toISOString()}`
      const who = `r${e.revision} by ${e.enteredBy} at ${new Date(e.enteredAt).toISOString()}${e.reason ? ` (${e.reason})` : ''}`
      return `${e.id}  ${scope}  ${what}  ${period}  ${e.source}  ${who}`
    })
    .join('\n')
}

/** The bad rows of a refused CSV, one per line. */
export function formatRowErrors(rows: readonly EntryCsvRowError[]): string {
  return rows.map((r) => `row ${r.row}${r.column ? ` column ${r.column}` : ''}: ${r.code}: ${r.message}`).join('\n')
}

const whoOf = (f: WhoFlags): { user: string; reason?: string } => ({ user: f.user ?? userInfo().username, ...(f.reason ? { reason: f.reason } : {}) })

/** Opens the event log of the config's storage, runs `fn` with an entry book on it, closes. */
async function withBook<T>(opts: CommonOptions, fn: (book: import('../../records/index.ts').EntryBook, plant: PlantModel) => Promise<T>): Promise<T> {
  const cfg = loadConfig(opts)
  const { openEventLog } = await import('../../storage/events.ts')
  const { EntryBook, createRecordStore } = await import('../../records/index.ts')
  const events = await openEventLog(cfg.storage)
  try {
    return await fn(new EntryBook(createRecordStore(events), cfg.plant), cfg.plant)
  } finally {
    await events.close()
  }
}

async function runList(f: ListFlags): Promise<void> {
  await withBook(f, async (book, plant) => {
    const now = Date.now()
    const start = f.from === undefined ? now - 31 * DAY_MS : await timeOf(f.from, 'from', plant.timezone)
    const end = f.to === undefined ? now : await timeOf(f.to, 'to', plant.timezone)
    const [enterprise, site, line] = f.scope?.split('/') ?? []
    if (f.kind !== undefined && f.kind !== 'energy' && f.kind !== 'production') throw recordFlagError('--kind must be energy or production', 'kind')
    const list = await book.list({
      start,
      end,
      ...(enterprise ? { enterprise } : {}),
      ...(site ? { site } : {}),
      ...(line ? { line } : {}),
      ...(f.kind ? { kind: f.kind } : {}),
      ...(f.carrier ? { carrier: f.carrier } : {}),
    })
    process.stdout.write(`${formatEntries(list)}\n`)
  })
}

async function runAdd(f: AddFlags): Promise<void> {
  await withBook(f, async (book, plant) => {
    const written = await book.submit([await entryOfFlags(f, plant.timezone)], whoOf(f))
    process.stdout.write(`${formatEntries(written)}\n`)
  })
}

async function runImport(file: string, f: WhoFlags): Promise<void> {
  await withBook(f, async (book, plant) => {
    const { importEntriesCsv } = await import('../../records/index.ts')
    try {
      const result = await importEntriesCsv(book, readFileSync(file, 'utf8'), { timezone: plant.timezone, model: plant, ...whoOf(f) })
      process.stdout.write(
        `${result.written.length} entr${result.written.length === 1 ? 'y' : 'ies'} written from ${result.rows} row(s)\n${formatEntries(result.written)}\n`,
      )
    } catch (err) {
      if (!isPlantWattError(err, 'RECORDS_ERR_CSV')) throw err
      process.stderr.write(`${file}: nothing written\n${formatRowErrors((err.details as { rows: EntryCsvRowError[] }).rows)}\n`)
      process.exitCode = 2
    }
  })
}

export function registerEntriesCommand(program: Command): void {
  const entries = program
    .command('entries')
    .description('entries for what no meter measures (coal weighbridge, fuel deliveries, ERP production); see records/README.md')
  const who = (c: Command): Command =>
    c.option('--user <name>', 'who enters it (default: the OS user)').option('--reason <text>', 'why (kept with the revision)')
  entries
    .command('list')
    .description('current entries (latest revision, voided left out) overlapping a period')
    .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
    .option('--scope <scope>', 'enterprise[/site[/line]]')
    .option('--from <time>', 'ISO 8601 or epoch ms (default: 31 days ago)')
    .option('--to <time>', 'ISO 8601 or epoch ms (default: now)')
    .option('--kind <kind>', 'energy | production')
    .option('--carrier <id>', 'only this carrier')
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runList)
  who(
    entries
      .command('add')
      .description(
        'enter one figure: e.g. --scope hb-cement/plant-a/kiln-1 --carrier raw-coal --amount 412.6 --unit t --start 2026-03-01 --end 2026-03-02 --ncv 21500000',
      )
      .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
      .requiredOption('--scope <scope>', 'enterprise[/site[/line]] (a production entry: a line with a product)')
      .option('--kind <kind>', 'energy | production (default: energy when --carrier is given)')
      .option('--carrier <id>', 'carrier id (analytics/carriers.ts): raw-coal, natural-gas, coke, diesel …')
      .option('--direction <dir>', 'import (default) | export')
      .requiredOption('--amount <n>', 'amount ≥ 0 in --unit')
      .requiredOption('--unit <unit>', "the carrier's entry unit (t for raw coal) or the product's (t | pcs)")
      .requiredOption('--start <time>', 'start of the period, inclusive (ISO 8601, plant time zone)')
      .requiredOption('--end <time>', 'end of the period, exclusive')
      .option('--ncv <kJ>', 'measured low calorific value, kJ per unit')
      .option('--source <text>', 'where the figure comes from (default: cli)'),
  )
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runAdd)
  who(
    entries
      .command('import')
      .description('enter the rows of a CSV file, all or none (columns: records/csv.ts, records/README.md)')
      .argument('<file>', 'CSV file (UTF-8, header line)')
      .option('-c, --config <file>', 'YAML config file (sections plant and storage)'),
  )
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runImport)
}
