import type Database from 'better-sqlite3'
import { canonicalTags } from '../query.ts'

/** A series row: (measurement, tag set, field) and its id. */
export interface SeriesRow {
  id: number
  measurement: string
  tags: Record<string, string>
  field: string
}

/**
 * Known series, loaded lazily and topped up from `id > maxId`: series are never deleted, and other
 * processes sharing the file (ingest) add new ones at any time.
 */
export class SeriesIndex {
  private readonly byKey = new Map<string, SeriesRow>()
  private readonly byMeasurement = new Map<string, SeriesRow[]>()
  private maxId = 0

  static key(measurement: string, tagsKey: string, field: string): string {
    return `${measurement}\u0000${tagsKey}\u0000${field}`
  }

  get(key: string): SeriesRow | undefined {
    return this.byKey.get(key)
  }

  add(row: SeriesRow, key = SeriesIndex.key(row.measurement, canonicalTags(row.tags), row.field)): void {
    if (this.byKey.has(key)) return
    this.byKey.set(key, row)
    const list = this.byMeasurement.get(row.measurement)
    if (list) list.push(row)
    else this.byMeasurement.set(row.measurement, [row])
  }

  refresh(select: Database.Statement<[number], { id: number; measurement: string; tags: string; field: string }>): void {
    for (const r of select.all(this.maxId)) {
      this.add({ id: r.id, measurement: r.measurement, tags: JSON.parse(r.tags) as Record<string, string>, field: r.field })
      if (r.id > this.maxId) this.maxId = r.id
    }
  }

  of(measurement: string): readonly SeriesRow[] {
    return this.byMeasurement.get(measurement) ?? []
  }
}
