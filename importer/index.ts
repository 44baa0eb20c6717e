/**
 * CSV import of history (utility exports, SCADA dumps, the UCI steel file): streamed, validated row
 * by row in two passes, written in batches, with a report of every refused row. See importer/README.md.
 */
import { randomUUID } from 'node:crypto'
import { invalidateForPoints } from '../reports/counter-rollup.ts'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import type { TelemetryPoint, TelemetryStore } from '../storage/store.ts'
import { resolveCounterStarts, type CounterStart, type ImportWarning } from './counter-start.ts'
import { scanCsv, type CsvSource, type ImportAuthorizer, type ImportRowError } from './csv.ts'
import { resolveImportOptions, type ImportOptions, type ImportOptionsInput } from './options.ts'
import { LoopPacer } from './pace.ts'
import { Spool } from './spool.ts'

export * from './csv.ts'
export * from './options.ts'
export { COUNTER_LOOKBACK_MS, type CounterStart, type ImportWarning } from './counter-start.ts'
export { LoopPacer, DEFAULT_SLICE_MS } from './pace.ts'

/** What an import reads from and writes to. */
export interface ImportDeps {
  store: TelemetryStore
  plant: PlantModel
  /** Gets one `import` event per enterprise touched (not on a dry run). */
  events?: EventLog
  /** Clock for the event time, epoch ms; default Date.now. */
  now?: () => number
  /** Bare device ids resolve among this enterprise's devices only (an enterprise user's import). */
  enterprise?: string
  /** Per-device permission (the API's tenant check): a refused device makes its rows bad rows. */
  authorize?: ImportAuthorizer
  /** Who imports, for the event (key id, JWT subject, `cli`). */
  principal?: string
  /** Name of what was imported, for the event (file name). */
  sourceName?: string
  /** A `{ stream }` source is copied here for the second pass (deleted at the end); default the OS temp folder. */
  spoolDir?: string
  /** Longest run of import work between two turns of the event loop, ms; default 10. */
  sliceMs?: number
}

/** The answer of an import. */
export interface ImportResult {
  /** Id shared by the import's events. */
  importId: string
  layout: 'long' | 'interval'
  dryRun: boolean
  /** Data rows in the file. */
  rows: number
  /** Good rows: imported (or, on a dry run, importable). */
  imported: number
  /** Bad rows, all counted; the first maxReportedErrors of them (by line) are in `errors`. */
  rejected: number
  /** Telemetry points written (on a dry run: that would be written). */
  points: number
  /** Devices written, as enterprise/site/line/device. */
  devices: string[]
  /** Earliest and latest row timestamp among the good rows, epoch ms. */
  first: number | null
  last: number | null
  /** Interval layout: intervals after a hole in a device's series. */
  gaps: number
  /** Interval layout: D 00:00 rows read as the end of day D. */
  midnightShifted: number
  /**
   * Interval layout: where each device's counters start (at its first interval's start) and why —
   * `startKwh`, the store's reading continued, or zero. Empty for the long layout.
   */
  counterStarts: CounterStart[]
  /** What was written but needs the user's attention (IMPORT_WARN_*), e.g. a file imported after a later one. */
  warnings: ImportWarning[]
  errors: ImportRowError[]
  /** True when more bad rows were found than the report lists. */
  errorsTruncated: boolean
}

class PointBatcher {
  private pending = new Map<string, TelemetryPoint>()
  written = 0

  constructor(
    private readonly store: TelemetryStore,
    private readonly batchSize: number,
    private readonly dryRun: boolean,
    private readonly pacer: LoopPacer,
  ) {}

  /** Merges points of the same device and instant (long layout: one row per quantity) into one. */
  private lastKey: string | undefined

  async add(points: readonly TelemetryPoint[]): Promise<void> {
    for (const p of points) {
      const key = `${p.tags.enterprise}/${p.tags.site}/${p.tags.line}/${p.tags.device}|${p.ts}`
      const have = this.pending.get(key)
      if (have) this.pending.set(key, { ...have, fields: { ...have.fields, ...p.fields } })
      else this.pending.set(key, p)
      this.lastKey = key
    }
    if (this.pending.size > this.batchSize) await this.flush(false)
  }

  /**
   * Writes what is pending. Before the end (`final` false) the newest point stays pending: the next
   * row may add to it (an interval's end is the next one's start), and it is then written once.
   */
  async flush(final = true): Promise<void> {
    if (this.pending.size === 0) return
    const keep = final || this.lastKey === undefined ? undefined : this.pending.get(this.lastKey)
    if (keep) this.pending.delete(this.lastKey as string)
    const batch = [...this.pending.values()]
    this.pending = new Map()
    if (keep) this.pending.set(this.lastKey as string, keep)
    if (!this.dryRun) {
      try {
        await this.store.write(batch)
        // Reports read counters through a roll-up of closed quarter hours: history written now must reach them.
        await invalidateForPoints(this.store, batch)
      } catch (cause) {
        throw new PlantWattError(
          'IMPORT_ERR_WRITE',
          `the store refused a batch after ${this.written} points were written (${isPlantWattError(cause) ? `${cause.code}: ` : ''}${(cause as Error).message}); writes are idempotent: importing the file again is safe`,
          { cause, details: { written: this.written } },
        )
      }
    }
    this.written += batch.length
    // The embedded store writes synchronously: other requests get their turn after each batch.
    await this.pacer.yield()
  }
}

/**
 * Imports a CSV of historical data. Two passes over the source: the first validates every row and
 * collects the report; the second applies the same rules to the same rows and writes the good ones in
 * batches with the store's idempotent write. Nothing is written when the file as a whole is unusable
 * (no header, unknown layout, bad options); a failed write throws IMPORT_ERR_WRITE and a retry writes
 * the same points again. A `{ stream }` source is read once: the first pass reads it while a copy
 * goes to disk (spool.ts), the second reads the copy. Memory does not grow with the file: bad rows
 * are counted, only the first `maxReportedErrors` are kept.
 */
export async function importCsv(source: CsvSource, options: ImportOptionsInput, deps: ImportDeps): Promise<ImportResult> {
  const opts = resolveImportOptions(options)
  if (!('stream' in source)) return importTwice(source, source, opts, deps)
  const spool = Spool.open(deps.spoolDir)
  try {
    return await importTwice({ stream: spool.tee(source.stream) }, { path: spool.path }, opts, deps)
  } finally {
    await spool.remove()
  }
}

async function importTwice(firstSource: CsvSource, secondSource: CsvSource, opts: Readonly<ImportOptions>, deps: ImportDeps): Promise<ImportResult> {
  const ctx = {
    plant: deps.plant,
    ...(deps.enterprise !== undefined ? { enterprise: deps.enterprise } : {}),
    ...(deps.authorize ? { authorize: deps.authorize } : {}),
  }
  const pacer = new LoopPacer(deps.sliceMs)
  const report = new ErrorReport(opts.maxReportedErrors)
  const first = await scanCsv(firstSource, opts, ctx, { pacer, onError: (e) => report.add(e) })
  // Interval layout: the counters continue from the store unless startKwh is given (counter-start.ts).
  const counters = first.learned.spans ? await resolveCounterStarts(deps.store, first.learned.spans, opts.startKwh) : undefined
  if (counters) first.learned.counterStarts = counters.starts
  const batcher = new PointBatcher(deps.store, opts.batchSize, opts.dryRun, pacer)
  let secondRejected = 0
  const second = await scanCsv(secondSource, opts, ctx, {
    pacer,
    learned: first.learned,
    // The same rows fail again: counted (to check the verdicts), not reported twice.
    onError: () => void secondRejected++,
    onPoints: (points) => batcher.add(points),
  })
  await batcher.flush()
  // Both passes apply the same rules to the same rows: a different verdict is a bug, not bad input.
  // (The first pass also rejects lone interval rows after reading: the second passes over them.)
  const lone = report.rejected - secondRejected
  if (second.stats.rows !== first.stats.rows || second.stats.good !== first.stats.good || lone < 0) {
    throw new PlantWattError(
      'IMPORT_ERR_INTERNAL',
      `the writing pass found ${second.stats.good} good rows of ${second.stats.rows} and ${secondRejected} bad, the validating pass ${first.stats.good} of ${first.stats.rows} and ${report.rejected} bad`,
    )
  }
  const devices = [...first.stats.devices].sort()
  const errors = report.sorted()
  const result: ImportResult = {
    importId: randomUUID(),
    layout: first.plan.layout,
    dryRun: opts.dryRun,
    rows: first.stats.rows,
    imported: second.stats.good,
    rejected: report.rejected,
    points: batcher.written,
    devices,
    first: second.stats.first ?? null,
    last: second.stats.last ?? null,
    gaps: second.stats.gaps,
    midnightShifted: second.stats.midnightShifted,
    counterStarts: counters?.report ?? [],
    warnings: counters?.warnings ?? [],
    errors,
    errorsTruncated: report.rejected > errors.length,
  }
  if (!opts.dryRun && deps.events) await deps.events.append(importEvents(result, deps))
  return result
}

/** Bad rows of the validating pass: all counted, the first `max` (in file order) kept. */
class ErrorReport {
  private readonly kept: ImportRowError[] = []
  rejected = 0
  private lastLine = -1

  constructor(private readonly max: number) {}

  add(e: ImportRowError): void {
    // One entry per line (a row stops at its first fault; this guards the rest).
    if (e.line === this.lastLine) return
    this.lastLine = e.line
    this.rejected++
    if (this.kept.length < this.max) this.kept.push(e)
  }

  sorted(): ImportRowError[] {
    return [...this.kept].sort((a, b) => a.line - b.line)
  }
}

/** One `import` event per enterprise written (one without an enterprise tag when nothing was). */
function importEvents(r: ImportResult, deps: ImportDeps): StoredEvent[] {
  const ts = (deps.now ?? Date.now)()
  const byEnterprise = new Map<string, number>()
  for (const d of r.devices) {
    const e = d.split('/')[0] as string
    byEnterprise.set(e, (byEnterprise.get(e) ?? 0) + 1)
  }
  const fields = {
    layout: r.layout,
    rows: r.rows,
    imported: r.imported,
    rejected: r.rejected,
    points: r.points,
    ...(r.first !== null ? { first: r.first } : {}),
    ...(r.last !== null ? { last: r.last } : {}),
    principal: deps.principal ?? 'unknown',
    ...(deps.sourceName ? { source: deps.sourceName } : {}),
  }
  if (byEnterprise.size === 0) return [{ kind: 'import', ts, tags: { import_id: r.importId }, fields: { ...fields, devices: 0 } }]
  return [...byEnterprise].map(([enterprise, count]) => ({
    kind: 'import',
    ts,
    tags: { import_id: r.importId, enterprise },
    fields: { ...fields, devices: count, device_list: r.devices.filter((d) => d.startsWith(`${enterprise}/`)).join(' ') },
  }))
}
