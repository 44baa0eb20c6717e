import type { Payload } from '../core/payload.ts'
import { addressTags, type DeviceAddress } from '../core/topic.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'

/** Stored quality marker: field `q_<quantity>` is 1 for uncertain, 2 for bad; absent when good. */
export const QUALITY_CODES = { uncertain: 1, bad: 2 } as const

/**
 * One point per sample: tags = the device address, fields = the values whose quality is not bad,
 * plus `seq` (gaps and duplicates stay visible) and a `q_<quantity>` marker per non-good quality.
 */
export function payloadToPoints(address: DeviceAddress, payload: Payload): TelemetryPoint[] {
  const tags = addressTags(address)
  const points = new Array<TelemetryPoint>(payload.samples.length)
  for (let i = 0; i < payload.samples.length; i++) {
    const sample = payload.samples[i] as Payload['samples'][number]
    const fields: Record<string, number> = {}
    const quality = sample.quality
    for (const name in sample.values) {
      if (quality?.[name] !== 'bad') fields[name] = sample.values[name] as number
    }
    fields.seq = payload.seq
    if (quality) {
      for (const name in quality) {
        const q = quality[name]
        if (q !== undefined && q !== 'good') fields[`q_${name}`] = QUALITY_CODES[q]
      }
    }
    points[i] = { measurement: TELEMETRY_MEASUREMENT, tags, fields, ts: sample.ts }
  }
  return points
}

/** FNV-1a: a stable, well-spread hash so every ingest instance agrees on who owns a device. */
export function partitionOf(key: string, count: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % count
}
