import type { DeadLetter } from '../core/dead-letter.ts'
import { SAMPLE_SLOTS } from '../core/payload-scan.ts'
import type { SampleBlock, TelemetryPoint, WriteConflict } from '../storage/store.ts'
import { CONFLICT, fieldsHash, type FieldConflict, type RecentSamples } from './recent-samples.ts'
import { QUALITY_CODES } from './telemetry.ts'

/** The dead-letter reason of a sample refused because another value was stored first for its (device, ts, field). */
export const SAMPLE_CONFLICT = 'INGEST_ERR_SAMPLE_CONFLICT'

/** A sample set aside as a conflict: what is needed to report it. */
export interface SampleConflict {
  ts: number
  seq: number
  /** The sample as stored would have it: quantity (and q_ marker) → value. */
  values: Record<string, number>
  fields: FieldConflict[]
}

/**
 * Checks a block's samples against the window. A conflicting sample is taken out of the block (the
 * slots after it move up); the fields it brought that the first sample lacked go to `reduced` as a
 * point without seq. Appends each conflict to `conflicts`. Common case: one pass, slots untouched.
 */
export function screenBlock(window: RecentSamples, device: number, block: SampleBlock, conflicts: SampleConflict[], reduced: TelemetryPoint[]): void {
  const slots = block.slots
  const end = block.from + block.samples * SAMPLE_SLOTS
  let w = block.from
  for (let r = block.from; r < end; r += SAMPLE_SLOTS) {
    const ts = slots[r] as number
    if (window.check(device, ts, slots[r + 3] as number, block.json, slots[r + 1] as number, slots[r + 2] as number) === CONFLICT) {
      const { values, fields, added, addedCount } = window.conflict
      conflicts.push({ ts, seq: block.seq, values, fields })
      if (addedCount > 0) reduced.push({ measurement: block.measurement, tags: block.tags, fields: added, ts })
      continue
    }
    if (w !== r) slots.copyWithin(w, r, r + SAMPLE_SLOTS)
    w += SAMPLE_SLOTS
  }
  block.samples = (w - block.from) / SAMPLE_SLOTS
}

/** The fields of a point as the window compares them: a JSON object in the point's order, without seq. */
function fieldsJson(point: TelemetryPoint): Buffer {
  const { seq: _seq, ...values } = point.fields
  return Buffer.from(JSON.stringify(values), 'latin1')
}

/**
 * The decoded path's check against the window: returns the points to write (a conflicting point
 * reduced to the fields the first sample lacked, without seq, or left out) and appends the conflicts.
 */
export function screenPoints(window: RecentSamples, device: number, points: TelemetryPoint[], conflicts: SampleConflict[]): TelemetryPoint[] {
  let out: TelemetryPoint[] | undefined
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TelemetryPoint
    const text = fieldsJson(p)
    if (window.check(device, p.ts, fieldsHash(text, 0, text.length), text, 0, text.length) !== CONFLICT) {
      out?.push(p)
      continue
    }
    out ??= points.slice(0, i)
    const { fields, added, addedCount } = window.conflict
    const { seq = 0, ...values } = p.fields
    conflicts.push({ ts: p.ts, seq, values, fields })
    if (addedCount > 0) out.push({ ...p, fields: added })
  }
  return out ?? points
}

/**
 * Conflicts reported by writeKeepFirst, one per point (seq is bookkeeping: a sample sent again in
 * another message is not a conflict for that).
 */
export function conflictsOfWrite(points: readonly TelemetryPoint[], reported: readonly WriteConflict[]): Map<number, SampleConflict> {
  const byPoint = new Map<number, SampleConflict>()
  for (const c of reported) {
    if (c.field === 'seq') continue
    let entry = byPoint.get(c.point)
    if (entry === undefined) {
      const { seq = 0, ...values } = (points[c.point] as TelemetryPoint).fields
      entry = { ts: c.ts, seq, values, fields: [] }
      byPoint.set(c.point, entry)
    }
    entry.fields.push({ field: c.field, stored: c.stored, refused: c.refused })
  }
  return byPoint
}

const QUALITY_NAMES = new Map<number, string>(Object.entries(QUALITY_CODES).map(([name, code]) => [code, name]))

/**
 * The dead letter of a conflicting sample: both values in the message, and as payload the sample
 * alone in the payload format (quality markers turned back into quality), ready to be replayed.
 */
export function conflictDeadLetter(topic: string, device: string, c: SampleConflict, now = Date.now()): DeadLetter {
  const values: Record<string, number> = {}
  const quality: Record<string, string> = {}
  for (const [name, value] of Object.entries(c.values)) {
    if (name.startsWith('q_')) quality[name.slice(2)] = QUALITY_NAMES.get(value) ?? String(value)
    else values[name] = value
  }
  const sample = Object.keys(quality).length > 0 ? { ts: c.ts, values, quality } : { ts: c.ts, values }
  const payload = JSON.stringify({ seq: c.seq, samples: [sample] })
  const what = c.fields.map((f) => `${f.field} stored ${f.stored}, refused ${f.refused}`).join('; ')
  return {
    ts: now,
    reason: SAMPLE_CONFLICT,
    message: `device ${device} at ts ${c.ts} (${new Date(c.ts).toISOString()}) already has another value: ${what} (seq ${c.seq}; the first value is kept)`,
    topic,
    payload,
    payloadBytes: Buffer.byteLength(payload),
    source: 'ingest',
  }
}
