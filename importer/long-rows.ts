import { QUALITIES, type Quality } from '../core/payload.ts'
import { QUANTITIES, isQuantity } from '../core/quantities.ts'
import { QUALITY_CODES } from '../ingest/telemetry.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import type { Column, CsvPlan } from './csv-plan.ts'
import type { DeviceResolver } from './device-resolver.ts'
import { badRow, type Retraction, type RowReader, type RowVerdict } from './row-verdict.ts'
import { SeenTimes } from './seen-times.ts'
import { badTimestamp, readRowTime, type TimestampOptions } from './timestamp.ts'

/**
 * The long layout: one value per row (`timestamp, device, quantity, value[, quality]`). Remembers the
 * instants of every series (device × quantity) to refuse a second value at the same instant.
 */
export class LongRowReader implements RowReader {
  private readonly seen = new Map<string, SeenTimes>()
  private readonly device: Column
  private readonly quantity: Column
  private readonly value: Column

  constructor(
    private readonly plan: CsvPlan,
    private readonly options: TimestampOptions,
    private readonly resolver: DeviceResolver,
  ) {
    if (!plan.device || !plan.quantity || !plan.value) throw new TypeError('LongRowReader needs a long-layout plan (device, quantity and value columns)')
    this.device = plan.device
    this.quantity = plan.quantity
    this.value = plan.value
  }

  read(fields: readonly string[]): RowVerdict {
    const r = this.resolver.resolve(fields[this.device.index] ?? '')
    if (!r.ok) return badRow(this.device.name, r.code, r.message)
    const qText = (fields[this.quantity.index] ?? '').trim()
    if (!isQuantity(qText))
      return badRow(
        this.quantity.name,
        'IMPORT_ERR_QUANTITY_UNKNOWN',
        `${JSON.stringify(qText)} is not a canonical quantity (see core/quantities.ts or GET /api/v1/quantities)`,
      )
    const tsText = fields[this.plan.timestamp.index] ?? ''
    const time = readRowTime(tsText, r.device.timezone, this.options)
    if (time === undefined) return { kind: 'bad', problem: badTimestamp(this.plan.timestamp.name, tsText, this.options) }
    const { ts } = time
    const quality = this.qualityOf(fields)
    if (typeof quality !== 'string') return quality
    const vText = (fields[this.value.index] ?? '').trim()
    const value = vText === '' ? Number.NaN : Number(vText)
    const info = QUANTITIES[qText]
    if (!Number.isFinite(value)) return badRow(this.value.name, 'IMPORT_ERR_VALUE', `${JSON.stringify(vText)} is not a number`)
    if (value < info.min || value > info.max)
      return badRow(this.value.name, 'IMPORT_ERR_VALUE_RANGE', `${qText} = ${value} is outside ${info.min}…${info.max} ${info.unit}`)
    if (!this.firstAt(`${r.device.key}|${qText}`, ts))
      return badRow(this.plan.timestamp.name, 'IMPORT_ERR_DUPLICATE', `a second ${qText} value of ${r.device.key} at ${new Date(ts).toISOString()}`)
    // As live ingest stores it (ingest/telemetry.ts): a bad value is kept out, its marker kept.
    const out: Record<string, number> = {}
    if (quality !== 'bad') out[qText] = value
    if (quality !== 'good') out[`q_${qText}`] = QUALITY_CODES[quality]
    return { kind: 'good', device: r.device, ts, points: [{ measurement: TELEMETRY_MEASUREMENT, tags: r.device.tags, fields: out, ts }] }
  }

  /** The long layout learns nothing and takes nothing back. */
  finish(): Retraction[] {
    return []
  }

  /** The row's quality (good when the column is absent or empty), or the verdict on a bad one. */
  private qualityOf(fields: readonly string[]): Quality | RowVerdict {
    if (!this.plan.quality) return 'good'
    const text = (fields[this.plan.quality.index] ?? '').trim().toLowerCase()
    if (text === '') return 'good'
    if (!(QUALITIES as readonly string[]).includes(text))
      return badRow(this.plan.quality.name, 'IMPORT_ERR_QUALITY', `${JSON.stringify(text)} is not one of ${QUALITIES.join(', ')}`)
    return text as Quality
  }

  /** True when `ts` is the series' first value at that instant. */
  private firstAt(series: string, ts: number): boolean {
    let times = this.seen.get(series)
    if (!times) this.seen.set(series, (times = new SeenTimes()))
    return times.add(ts)
  }
}
