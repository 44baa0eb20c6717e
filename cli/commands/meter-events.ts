import { userInfo } from 'node:os'
import type { Command } from 'commander'
import type { PlantModel } from '../../core/plant.ts'
import type { MeterEvent, MeterEventBook } from '../../records/meter-events.ts'
import { loadConfig } from '../load-config.ts'
import { configHelp, type CommonOptions } from '../options.ts'
import { recordFlagError, recordFlagTime } from '../record-flags.ts'
import { DAY_MS } from '../../core/duration.ts'

/**
 * `plantwatt meter-events add|list`: meter replacements, CT/PT ratio changes and register resets
 * (records/meter-events.ts) in the configured store's event log, checked against the stored readings.
 */

interface AddFlags extends CommonOptions {
  device: string
  type: string
  at: string
  quantity?: string
  oldFinal?: string
  newStart?: string
  newModulus?: string
  oldRatio?: string
  newRatio?: string
  readingAtChange?: string
  valueAfter?: string
  valueBefore?: string
  user?: string
  reason: string
}

interface ListFlags extends CommonOptions {
  scope?: string
  from?: string
  to?: string
  quantity?: string
}

const timeOf = (text: string, flag: string, timezone: string): Promise<number> => recordFlagTime(text, flag, timezone, '2026-03-01T08:07')

/** The raw event `add` records (checked by records/meter-events.ts like any other). */
export async function eventOfFlags(f: AddFlags, timezone: string): Promise<Record<string, unknown>> {
  const [enterprise, site, line, device, extra] = f.device.split('/')
  if (!enterprise || !site || !line || !device || extra !== undefined)
    throw recordFlagError(`--device must be enterprise/site/line/device, got ${JSON.stringify(f.device)}`, 'device')
  const raw: Record<string, unknown> = { type: f.type, enterprise, site, line, device, ts: await timeOf(f.at, 'at', timezone) }
  if (f.quantity !== undefined) raw.quantity = f.quantity
  const numbers: Array<[keyof AddFlags, string, string]> = [
    ['oldFinal', 'oldFinalReading', 'old-final'],
    ['newStart', 'newStartReading', 'new-start'],
    ['newModulus', 'newModulus', 'new-modulus'],
    ['oldRatio', 'oldRatio', 'old-ratio'],
    ['newRatio', 'newRatio', 'new-ratio'],
    ['readingAtChange', 'readingAtChange', 'reading-at-change'],
    ['valueAfter', 'valueAfter', 'value-after'],
    ['valueBefore', 'valueBefore', 'value-before'],
  ]
  for (const [flag, field, name] of numbers) {
    const text = f[flag]
    if (text === undefined) continue
    const v = Number(text)
    if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(v))
      throw recordFlagError(`--${name}: ${JSON.stringify(text)} is not a number`, field)
    raw[field] = v
  }
  return raw
}

/** One line per event: id, revision, device, what, when, who. */
export function formatMeterEvents(events: readonly MeterEvent[]): string {
  if (events.length === 0) return 'no meter events'
  return events
    .map((e) => {
      const what =
        e.type === 'replacement'
          ? `replacement old final ${e.oldFinalReading} → new start ${e.newStartReading}${e.newModulus === undefined ? '' : ` (modulus ${e.newModulus})`}`
          : e.type === 'ratio_change'
            ? `ratio ${e.oldRatio} → ${e.newRatio}${e.readingAtChange === undefined ? '' : ` at ${e.readingAtChange}`}`
            : `reset to ${e.valueAfter ?? 0}${e.valueBefore === undefined ? '' : ` from ${e.valueBefore}`}`
      const who = `r${e.revision} by ${e.enteredBy} at ${new Date(e.enteredAt).toISOString()}${e.reason ? ` (${e.reason})` : ''}`
      return `${e.id}  ${e.enterprise}/${e.site}/${e.line}/${e.device}  ${e.quantity}  ${new Date(e.ts).toISOString()}  ${what}  ${who}`
    })
    .join('\n')
}

/** Opens the config's store and event log, runs `fn` with a meter event book on them, closes. */
async function withBook<T>(opts: CommonOptions, fn: (book: MeterEventBook, plant: PlantModel) => Promise<T>): Promise<T> {
  const cfg = loadConfig(opts)
  const { createStore } = await import('../../storage/index.ts')
  const { openEventLog } = await import('../../storage/events.ts')
  const { MeterEventBook } = await import('../../records/meter-events.ts')
  const { createRecordStore } = await import('../../records/store.ts')
  const { invalidateRollup } = await import('../../reports/counter-rollup.ts')
  const store = await createStore(cfg.storage)
  const events = await openEventLog(cfg.storage)
  try {
    const book = new MeterEventBook(createRecordStore(events), cfg.plant, store, {
      onChange: (c) => invalidateRollup(store, [c.device], c.fromTs, [c.quantity]),
    })
    return await fn(book, cfg.plant)
  } finally {
    await events.close()
    await store.close()
  }
}

async function runAdd(f: AddFlags): Promise<void> {
  await withBook(f, async (book, plant) => {
    const e = await book.record(await eventOfFlags(f, plant.timezone), { user: f.user ?? userInfo().username, reason: f.reason })
    process.stdout.write(`${formatMeterEvents([e])}\n`)
  })
}

async function runList(f: ListFlags): Promise<void> {
  await withBook(f, async (book, plant) => {
    const now = Date.now()
    const start = f.from === undefined ? now - 366 * DAY_MS : await timeOf(f.from, 'from', plant.timezone)
    const end = f.to === undefined ? now + 1 : await timeOf(f.to, 'to', plant.timezone)
    const [enterprise, site, line, device] = f.scope?.split('/') ?? []
    const list = await book.list({
      start,
      end,
      ...(enterprise ? { enterprise } : {}),
      ...(site ? { site } : {}),
      ...(line ? { line } : {}),
      ...(device ? { device } : {}),
      ...(f.quantity ? { quantity: f.quantity } : {}),
    })
    process.stdout.write(`${formatMeterEvents(list)}\n`)
  })
}

export function registerMeterEventsCommand(program: Command): void {
  const cmd = program
    .command('meter-events')
    .description('meter replacements, CT/PT ratio changes, register resets: counters are counted exactly across them; see records/README.md')
  cmd
    .command('add')
    .description(
      'record one event: e.g. --device acme/w1/l1/main --type replacement --at 2026-03-02T10:07 --old-final 100050 --new-start 60000 --reason "work order 3381"',
    )
    .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
    .requiredOption('--device <path>', 'enterprise/site/line/device of the plant model')
    .requiredOption('--type <type>', 'replacement | ratio_change | reset')
    .requiredOption('--at <time>', 'when (ISO 8601 in the plant time zone, or epoch ms): readings from then on are the new state')
    .option('--quantity <q>', 'the cumulative counter (default energy_import_kwh)')
    .option('--old-final <reading>', "replacement: the old meter's last reading")
    .option('--new-start <reading>', "replacement: the new meter's reading when it started")
    .option('--new-modulus <value>', "replacement: the new meter's register modulus, when it differs")
    .option('--old-ratio <n>', 'ratio_change: CT×PT ratio before')
    .option('--new-ratio <n>', 'ratio_change: ratio after')
    .option('--reading-at-change <reading>', 'ratio_change: the reading at the change')
    .option('--value-after <reading>', 'reset: the value after the reset (default 0)')
    .option('--value-before <reading>', 'reset: the reading just before it')
    .option('--user <name>', 'who records it (default: the OS user)')
    .requiredOption('--reason <text>', 'why (kept with the revision)')
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runAdd)
  cmd
    .command('list')
    .description('current meter events (latest revision, voided left out)')
    .option('-c, --config <file>', 'YAML config file (sections plant and storage)')
    .option('--scope <scope>', 'enterprise[/site[/line[/device]]]')
    .option('--from <time>', 'ISO 8601 or epoch ms (default: 366 days ago)')
    .option('--to <time>', 'ISO 8601 or epoch ms (default: now)')
    .option('--quantity <q>', 'only this counter')
    .addHelpText('after', configHelp(['plant', 'storage']))
    .action(runList)
}
