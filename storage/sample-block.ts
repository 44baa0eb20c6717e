import { SAMPLE_SLOTS } from '../core/payload-scan.ts'
import type { SampleBlock, TelemetryPoint } from './store.ts'

/** A block's samples as the points write() takes: the values object's members, then seq. */
export function blockPoints(block: SampleBlock): TelemetryPoint[] {
  const json = Buffer.from(block.json.buffer, block.json.byteOffset, block.json.byteLength)
  const points = new Array<TelemetryPoint>(block.samples)
  for (let k = 0, at = block.from; k < block.samples; k++, at += SAMPLE_SLOTS) {
    const fields = JSON.parse(json.toString('latin1', block.slots[at + 1], block.slots[at + 2])) as Record<string, number>
    fields.seq = block.seq
    points[k] = { measurement: block.measurement, tags: block.tags, fields, ts: block.slots[at] as number }
  }
  return points
}
