import { randomUUID } from 'node:crypto'
import { invalidateForPoints } from '../reports/cache.ts'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import type { EventLog, StoredEvent } from '../storage/events.ts'
import type { TelemetryPoint, TelemetryStore } from '../storage/store.ts'
import { scanCsv, type CsvSource, type ImportAuthorizer, type ImportRowError } from './csv.ts'
import { resolveImportOptions, type ImportOptionsInput } from './options.ts'

export * from './csv.ts'
export * from './options.ts'

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
  /** Bad rows, each reported in `errors` (up to maxReportedErrors). */
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
  }
}

/**
 * Imports a CSV of historical data. Two passes over the source: the first validates every row and
 * collects the report; the second writes the good rows in batches with the store's idempotent
 * write. Nothing is written when the file as a whole is unusable (no header, unknown layout, bad
 * options); a failed write throws IMPORT_ERR_WRITE and a retry writes the same points again.
 */
export async function importCsv(source: CsvSource, options: ImportOptionsInput, deps: ImportDeps): Promise<ImportResult> {
  const opts = resolveImportOptions(options)
  const ctx = { plant: deps.plant, ...(deps.enterprise !== undefined ? { enterprise: deps.enterprise } : {}), ...(deps.authorize ? { authorize: deps.authorize } : {}) }
  const errors: ImportRowError[] = []
  const badLines = new Set<number>()
  let rejected = 0
  const first = await scanCsv(source, opts, ctx, {
    onError: (e) => {
      if (badLines.has(e.line)) return
      badLines.add(e.line)
      rejected++
      if (errors.length < opts.maxReportedErrors) errors.push(e)
    },
  })
  errors.sort((a, b) => a.line - b.line)
  const unexpected: ImportRowError[] = []
  const batcher = new PointBatcher(deps.store, opts.batchSize, opts.dryRun)
  const second = await scanCsv(source, opts, ctx, {
    skipLines: badLines,
    learned: first.learned,
    onError: (e) => unexpected.push(e),
    onPoints: (points) => batcher.add(points),
  })
  await batcher.flush()
  // Both passes apply the same rules to the same rows: a new bad row here is a bug, not bad input.
  const [odd] = unexpected
  if (odd) throw new PlantWattError('IMPORT_ERR_INTERNAL', `line ${odd.line} passed validation but failed when written (${odd.code}: ${odd.message})`)
  const devices = [...first.stats.devices].sort()
  const result: ImportResult = {
    importId: randomUUID(),
    layout: first.plan.layout,
    dryRun: opts.dryRun,
    rows: first.stats.rows,
    imported: second.stats.good,
    rejected,
    points: batcher.written,
    devices,
    first: second.stats.first ?? null,
    last: second.stats.last ?? null,
    gaps: second.stats.gaps,
    midnightShifted: second.stats.midnightShifted,
    errors,
    errorsTruncated: rejected > errors.length,
  }
  if (!opts.dryRun && deps.events) await deps.events.append(importEvents(result, deps))
  return result
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
