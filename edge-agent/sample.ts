import { MAX_TS, MIN_TS, type Quality, type Sample } from '../core/payload.ts'
import { isQuantity, QUANTITIES } from '../core/quantities.ts'
import type { PointError, ReadResult } from './driver.ts'

export interface SampleConversion {
  /** Undefined when nothing is left to publish. */
  sample: Sample | undefined
  /** Values the agent refused to publish, with why. */
  rejected: PointError[]
}

/**
 * Turns a driver's ReadResult into a payload sample that ingest will accept. Ingest rejects a
 * whole message for one unknown quantity or one implausible value (core/payload.ts), so such a
 * value is caught here: a non-finite or out-of-range value becomes quality 'bad' (EDGE_ERR_RANGE),
 * an unknown name is dropped (EDGE_ERR_QUANTITY_UNKNOWN), and a bad value is never sent as a number.
 */
export function toSample(result: ReadResult): SampleConversion {
  const rejected: PointError[] = []
  const ts = Math.round(result.ts)
  if (!(ts >= MIN_TS && ts <= MAX_TS)) {
    return { sample: undefined, rejected: [{ point: '*', code: 'EDGE_ERR_CLOCK', message: `timestamp ${result.ts} is outside 2000…2100: check the clock` }] }
  }
  // for…in and counters rather than Object.entries/keys: this runs once per poll of every device.
  const values: Record<string, number> = {}
  const quality: Record<string, Quality> = {}
  let nValues = 0
  let nQuality = 0
  for (const name in result.quality) {
    const q = result.quality[name] as Quality
    if (isQuantity(name)) {
      quality[name] = q
      nQuality++
    } else rejected.push({ point: name, code: 'EDGE_ERR_QUANTITY_UNKNOWN', message: `quality for unknown quantity ${JSON.stringify(name)} dropped` })
  }
  for (const name in result.values) {
    const value = result.values[name] as number
    if (!isQuantity(name)) {
      rejected.push({ point: name, code: 'EDGE_ERR_QUANTITY_UNKNOWN', message: `unknown quantity ${JSON.stringify(name)} dropped` })
      continue
    }
    if (nQuality > 0 && quality[name] === 'bad') continue
    const info = QUANTITIES[name]
    if (!(value >= info.min && value <= info.max)) {
      // also NaN (every comparison false); ±Infinity is outside every range
      if (quality[name] === undefined) nQuality++
      quality[name] = 'bad'
      rejected.push({ point: name, code: 'EDGE_ERR_RANGE', message: `${name} = ${value} is outside ${info.min}…${info.max} ${info.unit}` })
      continue
    }
    values[name] = value
    nValues++
  }
  if (nValues === 0 && nQuality === 0) return { sample: undefined, rejected }
  return { sample: nQuality > 0 ? { ts, values, quality } : { ts, values }, rejected }
}
