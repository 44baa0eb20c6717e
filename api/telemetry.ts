import { deviceKey } from '../core/plant.ts'
import { isQuantity } from '../core/quantities.ts'
import type { DeviceAddress } from '../core/topic.ts'
import type { LatestRow } from '../storage/store.ts'

export type QualityName = 'uncertain' | 'bad'

/** Stored quality codes (`q_<quantity>` fields); good samples carry none. */
const QUALITY_CODES: Record<number, QualityName> = { 1: 'uncertain', 2: 'bad' }
const QUALITY_PREFIX = 'q_'

/** The newest state of one device, assembled from the per-field rows of `store.latest`. */
export interface DeviceSnapshot extends DeviceAddress {
  /** Newest timestamp over all its fields, epoch ms. */
  ts: number
  seq: number | null
  values: Record<string, number>
  quality: Record<string, QualityName>
}

/** Groups latest rows by device; rows lacking one of the four address tags are not telemetry and are skipped. */
export function snapshotsFromLatest(rows: readonly LatestRow[]): DeviceSnapshot[] {
  const byKey = new Map<string, { snap: DeviceSnapshot; valueTs: Map<string, number>; qualityRows: LatestRow[] }>()
  for (const row of rows) {
    const { enterprise, site, line, device } = row.tags
    if (enterprise === undefined || site === undefined || line === undefined || device === undefined) continue
    const address = { enterprise, site, line, device }
    const key = deviceKey(address)
    let entry = byKey.get(key)
    if (!entry) {
      entry = { snap: { ...address, ts: row.ts, seq: null, values: {}, quality: {} }, valueTs: new Map(), qualityRows: [] }
      byKey.set(key, entry)
    }
    entry.snap.ts = Math.max(entry.snap.ts, row.ts)
    if (row.field === 'seq') entry.snap.seq = row.value
    else if (isQuantity(row.field)) {
      entry.snap.values[row.field] = row.value
      entry.valueTs.set(row.field, row.ts)
    } else if (row.field.startsWith(QUALITY_PREFIX)) entry.qualityRows.push(row)
  }
  for (const { snap, valueTs, qualityRows } of byKey.values()) {
    for (const row of qualityRows) {
      const quantity = row.field.slice(QUALITY_PREFIX.length)
      const name = QUALITY_CODES[row.value]
      if (!isQuantity(quantity) || name === undefined) continue
      // A quality flag belongs to one sample: an older flag must not taint a newer, good value.
      const vts = valueTs.get(quantity)
      if (vts === undefined || row.ts >= vts) snap.quality[quantity] = name
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e.snap)
}
