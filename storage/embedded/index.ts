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
export function createEmbeddedStore(options: EmbeddedStoreOptions): TelemetryStore {
  const { path } = options
  const db = openTelemetryDb(options)
  const statements = prepareStatements(db)
  const index = new SeriesIndex()
  let closed = false
  const assertOpen = (): void => {
    if (closed) throw new PlantWattError('STORAGE_ERR_CLOSED', `embedded store ${path} is closed`)
  }
  const reader: EmbeddedReader = { path, statements, index, assertOpen }
  const writer = new EmbeddedWriter(db, statements, index, path)

  return {
    backend: 'embedded',

    async write(points: readonly TelemetryPoint[]): Promise<void> {
      assertOpen()
      writer.write(points, undefined)
    },

    async writeBlocks(blocks: readonly SampleBlock[]): Promise<void> {
      assertOpen()
      writer.write(blocks.flatMap(blockPoints), undefined)
    },

    async writeKeepFirst(points: readonly TelemetryPoint[]): Promise<WriteConflict[]> {
      assertOpen()
      const conflicts: WriteConflict[] = []
      writer.write(points, conflicts)
      return conflicts
    },

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
    },

    async close(): Promise<void> {
      if (closed) return
      closed = true
      db.close()
    },
  }
}
