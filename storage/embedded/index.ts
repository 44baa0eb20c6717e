import type {
  AggregateQuery,
  AggregateRow,
  LatestQuery,
  LatestRow,
  RawQuery,
  RawRow,
  SampleBlock,
  TelemetryPoint,
  TelemetryStore,
  WriteConflict,
} from '../store.ts'
import { PlantWattError } from '../../core/errors.ts'
import { blockPoints } from '../sample-block.ts'
import { aggregate, latest, raw, type EmbeddedReader } from './read.ts'
import { SeriesIndex } from './series-index.ts'
import { sqliteError } from './sqlite.ts'
import { openTelemetryDb, prepareStatements } from './statements.ts'
import { resolveRetention } from '../retention.ts'
import type { RetentionConfig } from '../config.ts'
import { EmbeddedMaintenance, MaintenanceScheduler, type MaintenanceStats } from './maintenance.ts'
import { prepareRollupStatements, readHorizons, type RollupHorizons } from './rollup-sql.ts'
import { FaultTracker, type StoreFault } from './faults.ts'

export type { StoreFault } from './faults.ts'
import { EmbeddedWriter } from './write.ts'

/** Options of the embedded (SQLite) store. */
export interface EmbeddedStoreOptions {
  /** Database file, created with its folder; ':memory:' for a private in-memory store. */
  path: string
  /**
   * 'normal' (default): a resolved write survives a crash of the process, not necessarily a
   * power loss or OS crash (the last commits may roll back; the file stays consistent).
   * 'full': fsync on every commit, survives power loss too, slower.
   */
  synchronous?: 'normal' | 'full'
  /** How long a writer waits for another process' write lock before failing. Default 5000. */
  busyTimeoutMs?: number
  /**
   * Retention (`storage.retention`, defaults in storage/retention.ts). When given, a store that writes
   * also keeps the continuous roll-ups and expires old data in the background (maintenance.ts);
   * without it nothing is rolled up or deleted (aggregates read raw points).
   */
  retention?: Partial<RetentionConfig> | undefined
  /** Clock of the roll-up and the retention, epoch ms. Default Date.now (tests and the bench simulate time). */
  clock?: () => number
  /** How often maintenance runs once the store has written, ms; 0: only when `maintain()` is called. Default 1000. */
  maintenanceIntervalMs?: number
  /** Time one maintenance run may take, ms (in steps of about 10 ms). Default 25. */
  maintenanceBudgetMs?: number
}

/** The embedded store: the contract plus what only a local file offers. */
export interface EmbeddedStore extends TelemetryStore {
  /** Runs roll-up and expiry steps for up to `budgetMs` (Infinity: until nothing is left); the steps that did work. */
  maintain(budgetMs?: number): number
  /** Counters of the maintenance, undefined without retention. */
  maintenanceStats(): MaintenanceStats | undefined
  /** Where the roll-ups answer exactly (over all series). */
  horizons(): RollupHorizons
  /** The last storage fault of a write (disk full, read-only, corrupt), cleared by the next successful write. */
  fault(): StoreFault | undefined
}

/**
 * The embedded store: one SQLite file in WAL mode, which several processes may share (ingest
 * writing while the API, alerts and CLI read). No I/O beyond opening the file.
 *
 * better-sqlite3 is synchronous: each call blocks the event loop while SQLite works. A write of
 * 5,000 points takes a few milliseconds and a day of 1-minute windows over a few devices well under
 * that; very large scans (years of raw points) would stall the process for their duration — bound
 * query ranges at the API, or move such queries to a worker thread.
 */
export function createEmbeddedStore(options: EmbeddedStoreOptions): EmbeddedStore {
  const { path } = options
  const db = openTelemetryDb(options)
  const statements = prepareStatements(db)
  const rollupStatements = prepareRollupStatements(db)
  const index = new SeriesIndex()
  let closed = false
  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `embedded store ${path} is closed`)
  }
  const horizons = (series?: string): RollupHorizons => readHorizons(rollupStatements, series)
  const reader: EmbeddedReader = { path, statements, index, assertOpen, horizons }
  const writer = new EmbeddedWriter(db, statements, index, path)
  const maintenance =
    options.retention === undefined ? undefined : new EmbeddedMaintenance(db, resolveRetention(options.retention), options.clock ?? Date.now, rollupStatements)
  const scheduler = new MaintenanceScheduler(maintenance, options.maintenanceIntervalMs ?? 1000, options.maintenanceBudgetMs ?? 25)
  const faults = new FaultTracker()
  const write = (points: readonly TelemetryPoint[], conflicts: WriteConflict[] | undefined): void => {
    assertOpen()
    faults.run(() => writer.write(points, conflicts))
    scheduler.wrote()
  }

  return {
    backend: 'embedded',

    async write(points: readonly TelemetryPoint[]): Promise<void> {
      write(points, undefined)
    },

    async writeBlocks(blocks: readonly SampleBlock[]): Promise<void> {
      write(blocks.flatMap(blockPoints), undefined)
    },

    async writeKeepFirst(points: readonly TelemetryPoint[]): Promise<WriteConflict[]> {
      const conflicts: WriteConflict[] = []
      write(points, conflicts)
      return conflicts
    },

    maintain: (budgetMs = Number.POSITIVE_INFINITY): number => {
      assertOpen()
      return maintenance ? maintenance.run(budgetMs) : 0
    },
    maintenanceStats: () => (maintenance ? { ...maintenance.stats } : undefined),
    horizons: () => horizons(),
    fault: () => faults.current(),

    aggregate: (q: AggregateQuery): Promise<AggregateRow[]> => aggregate(reader, q),
    raw: (q: RawQuery): Promise<RawRow[]> => raw(reader, q),
    latest: (q: LatestQuery): Promise<LatestRow[]> => latest(reader, q),

    async ping(): Promise<void> {
      assertOpen()
      try {
        db.prepare('SELECT 1').get()
      } catch (cause) {
        throw sqliteError('STORAGE_ERR_UNAVAILABLE', `embedded store ${path}`, cause)
      }
      // Reads may work while writes do not (disk full, read-only file): the store is not healthy then.
      const fault = faults.current()
      if (fault) throw new PlantWattError(fault.code, `embedded store ${path} cannot write since ${new Date(fault.since).toISOString()}: ${fault.message}`)
    },

    async close(): Promise<void> {
      if (closed) return
      closed = true
      scheduler.stop()
      db.close()
    },
  }
}
