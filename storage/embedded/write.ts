import type Database from 'better-sqlite3'
import { canonicalTags, validatePoints } from '../query.ts'
import { MINUTE_MS } from '../retention.ts'
import type { TelemetryPoint, WriteConflict } from '../store.ts'
import { SeriesIndex, type SeriesRow } from './series-index.ts'
import { sqliteError } from './sqlite.ts'
import type { TelemetryStatements } from './statements.ts'

/** Writes points in one transaction each call: replacing (write) or keeping the first value (writeKeepFirst). */
export class EmbeddedWriter {
  private readonly transaction: Database.Transaction<
    (points: readonly TelemetryPoint[], created: Map<string, SeriesRow>, conflicts: WriteConflict[] | undefined) => void
  >

  constructor(
    db: Database.Database,
    private readonly statements: TelemetryStatements,
    private readonly index: SeriesIndex,
    private readonly path: string,
  ) {
    this.transaction = db.transaction((points, created, conflicts) => this.writeBatch(points, created, conflicts))
  }

  /** Writes the points; with `conflicts`, keeps what is stored and lists the values that differed. Throws for an invalid batch, storing none of it. */
  write(points: readonly TelemetryPoint[], conflicts: WriteConflict[] | undefined): void {
    if (points.length === 0) return
    validatePoints(points)
    const created = new Map<string, SeriesRow>()
    try {
      // IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a deadlock
      // error when another process writes at the same time.
      this.transaction.immediate(points, created, conflicts)
    } catch (cause) {
      throw sqliteError('STORAGE_ERR_WRITE', `write of ${points.length} point(s) to ${this.path}`, cause)
    }
    // Only after commit: a rolled-back series id must not be remembered.
    for (const [key, row] of created) this.index.add(row, key)
  }

  private writeBatch(points: readonly TelemetryPoint[], created: Map<string, SeriesRow>, conflicts: WriteConflict[] | undefined): void {
    const { upsertSeries, upsertPoint, insertPoint, valueAt, markDirty } = this.statements
    // Read inside the write lock: the roll-up cannot move past these points unseen.
    const rolledTo = this.statements.rolledTo.get()?.value ?? 0
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as TelemetryPoint
      const tagsKey = canonicalTags(p.tags)
      for (const [field, value] of Object.entries(p.fields)) {
        const key = SeriesIndex.key(p.measurement, tagsKey, field)
        let series = this.index.get(key) ?? created.get(key)
        if (!series) {
          const row = upsertSeries.get(p.measurement, tagsKey, field) as { id: number }
          series = { id: row.id, measurement: p.measurement, tags: { ...p.tags }, field }
          created.set(key, series)
        }
        if (p.ts < rolledTo) markDirty.run(p.ts - (((p.ts % MINUTE_MS) + MINUTE_MS) % MINUTE_MS), series.id)
        if (conflicts === undefined) upsertPoint.run(series.id, p.ts, value)
        else if (insertPoint.run(series.id, p.ts, value).changes === 0) {
          const stored = (valueAt.get(series.id, p.ts) as { value: number }).value
          if (stored !== value) conflicts.push({ point: i, field, ts: p.ts, stored, refused: value })
        }
      }
    }
  }
}
