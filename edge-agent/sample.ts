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
  const values: Record<string, number> = {}
  const quality: Record<string, Quality> = {}
  for (const [name, q] of Object.entries(result.quality)) {
    if (isQuantity(name)) quality[name] = q
    else rejected.push({ point: name, code: 'EDGE_ERR_QUANTITY_UNKNOWN', message: `quality for unknown quantity ${JSON.stringify(name)} dropped` })
  }
  for (const [name, value] of Object.entries(result.values)) {
    if (!isQuantity(name)) {
      rejected.push({ point: name, code: 'EDGE_ERR_QUANTITY_UNKNOWN', message: `unknown quantity ${JSON.stringify(name)} dropped` })
      continue
    }
    if (quality[name] === 'bad') continue
    const info = QUANTITIES[name]
    if (!Number.isFinite(value) || value < info.min || value > info.max) {
      quality[name] = 'bad'
      rejected.push({ point: name, code: 'EDGE_ERR_RANGE', message: `${name} = ${value} is outside ${info.min}…${info.max} ${info.unit}` })
      continue
    }
    values[name] = value
  }
  if (Object.keys(values).length === 0 && Object.keys(quality).length === 0) return { sample: undefined, rejected }
  return { sample: Object.keys(quality).length > 0 ? { ts, values, quality } : { ts, values }, rejected }
}
