import type { DeadLetter } from '../core/dead-letter.ts'
import type { TelemetryPoint, WriteConflict } from '../storage/store.ts'
import { CONFLICT, type FieldConflict, type RecentSamples } from './recent-samples.ts'
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

const SEQ_EQ = [0x73, 0x65, 0x71, 0x3d] // "seq="
const COMMA = 0x2c
const SPACE = 0x20
const NEWLINE = 0x0a

function seqAt(b: Uint8Array, i: number): boolean {
  return b[i] === SEQ_EQ[0] && b[i + 1] === SEQ_EQ[1] && b[i + 2] === SEQ_EQ[2] && b[i + 3] === SEQ_EQ[3]
}

function digitsValue(b: Uint8Array, from: number, to: number): number {
  let v = 0
  for (let i = from; i < to; i++) v = v * 10 + ((b[i] as number) - 0x30)
  return v
}

function valuesOf(text: string): Record<string, number> {
  const values: Record<string, number> = {}
  if (text === '') return values
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=')
    values[pair.slice(0, eq)] = Number(pair.slice(eq + 1))
  }
  return values
}

/** Filled by screenLines: the chunk's new end and line count. */
export interface ScreenedLines {
  end: number
  lines: number
}

/**
 * Checks the lines scanPayloadLines wrote to buf[from, end) — `<prefix> <fields>,seq=<seq> <ts>\n`,
 * prefix `prefixLength` bytes — against the window. A conflicting sample's line is replaced by one
 * with only the fields the first sample lacked (no seq), or removed; the lines after it move up.
 * Appends each conflict to `conflicts`; sets result. Common case: one pass, lines untouched.
 */
export function screenLines(window: RecentSamples, device: Map<number, number>, buf: Buffer, from: number, end: number, prefixLength: number, conflicts: SampleConflict[], result: ScreenedLines): void {
  let lines = 0
  let w = -1 // write cursor once a line has been changed
  for (let start = from; start < end; ) {
    const fieldsStart = start + prefixLength + 1
    let q = fieldsStart
    if (!seqAt(buf, q)) {
      for (;;) {
        while (buf[q] !== COMMA) q++
        q++
        if (seqAt(buf, q)) break
      }
    }
    const fieldsEnd = q === fieldsStart ? q : q - 1
    let s = q + 4
    while (buf[s] !== SPACE) s++
    let e = s + 1
    while (buf[e] !== NEWLINE) e++
    const ts = digitsValue(buf, s + 1, e)
    const lineEnd = e + 1
    if (window.check(device, ts, buf, fieldsStart, fieldsEnd) === CONFLICT) {
      const { fields, added } = window.conflict
      conflicts.push({ ts, seq: digitsValue(buf, q + 4, s), values: valuesOf(buf.toString('latin1', fieldsStart, fieldsEnd)), fields })
      if (w < 0) w = start
      if (added !== '') {
        // Shorter than the line it replaces (fewer fields, no seq): it fits where that line began.
        const prefix = buf.toString('latin1', start, start + prefixLength)
        w += buf.write(`${prefix} ${added} ${ts}\n`, w, 'latin1')
        lines++
      }
    } else {
      if (w >= 0) {
        if (w !== start) buf.copyWithin(w, start, lineEnd)
        w += lineEnd - start
      }
      lines++
    }
    start = lineEnd
  }
  result.end = w < 0 ? end : w
  result.lines = lines
}

/** The fields of a point as the window compares them: `name=value,…` in the point's order, without seq. */
function fieldsText(point: TelemetryPoint): string {
  let text = ''
  for (const name in point.fields) {
    if (name !== 'seq') text += `${text ? ',' : ''}${name}=${String(point.fields[name])}`
  }
  return text
}

/**
 * The decoded path's check against the window: returns the points to write (a conflicting point
 * reduced to the fields the first sample lacked, without seq, or left out) and appends the conflicts.
 */
export function screenPoints(window: RecentSamples, device: Map<number, number>, points: TelemetryPoint[], conflicts: SampleConflict[]): TelemetryPoint[] {
  let out: TelemetryPoint[] | undefined
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as TelemetryPoint
    const text = Buffer.from(fieldsText(p), 'latin1')
    if (window.check(device, p.ts, text, 0, text.length) !== CONFLICT) {
      out?.push(p)
      continue
    }
    out ??= points.slice(0, i)
    const { fields, added } = window.conflict
    const { seq = 0, ...values } = p.fields
    conflicts.push({ ts: p.ts, seq, values, fields })
    if (added !== '') out.push({ ...p, fields: valuesOf(added) })
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
