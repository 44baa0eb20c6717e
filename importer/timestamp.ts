import { PlantWattError } from '../core/errors.ts'
import { MAX_TS, MIN_TS } from '../core/payload.ts'
import { assertTimeZone, wallToInstant } from '../analytics/time.ts'
import type { ImportOptions } from './options.ts'
import type { RowProblem } from './row-verdict.ts'

/** The options that say how a timestamp is written. */
export type TimestampOptions = Pick<ImportOptions, 'timestampFormat' | 'dateOrder'>

/** A timestamp as written: an instant, or a local wall time (naive ms) still to be placed in a zone. */
export type ParsedTime = { kind: 'instant'; ts: number } | { kind: 'wall'; naive: number }

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const DMY_RE = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/
const NUM_RE = /^-?\d+(?:\.\d+)?$/

function naiveOf(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 59) return undefined
  if (h === 24 && (mi !== 0 || s !== 0)) return undefined
  const naive = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  // Date.UTC rolls 31 Feb into March: reject instead.
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return undefined
  return naive
}

/** Parses one timestamp; undefined when it is not in the format. */
export function parseTimestamp(text: string, format: ImportOptions['timestampFormat'], dateOrder: ImportOptions['dateOrder']): ParsedTime | undefined {
  const t = text.trim()
  if (format === 'epoch-ms' || format === 'epoch-s') {
    if (!NUM_RE.test(t)) return undefined
    return { kind: 'instant', ts: Math.round(Number(t) * (format === 'epoch-s' ? 1000 : 1)) }
  }
  if (format === 'auto' || format === 'iso') {
    const m = ISO_RE.exec(t)
    if (m) {
      const naive = naiveOf(+m[1]!, +m[2]!, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), m[7] === undefined ? 0 : +m[7].padEnd(3, '0'))
      if (naive === undefined) return undefined
      const zone = m[8]
      if (zone === undefined) return { kind: 'wall', naive }
      if (zone.toUpperCase() === 'Z') return { kind: 'instant', ts: naive }
      const sign = zone[0] === '-' ? -1 : 1
      const digits = zone.slice(1).replace(':', '')
      const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')
      if (offsetMin > 18 * 60) return undefined
      return { kind: 'instant', ts: naive - sign * offsetMin * 60_000 }
    }
    if (format === 'iso') return undefined
  }
  const order = format === 'dmy' || format === 'mdy' ? format : dateOrder
  const m = DMY_RE.exec(t)
  if (!m) return undefined
  const a = +m[1]!
  const b = +m[2]!
  const naive = naiveOf(+m[3]!, order === 'dmy' ? b : a, order === 'dmy' ? a : b, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), 0)
  return naive === undefined ? undefined : { kind: 'wall', naive }
}

/** A row's timestamp: as written, and the instant it names in the device's zone (within MIN_TS…MAX_TS). */
export interface RowTime {
  parsed: ParsedTime
  ts: number
}

/** Reads a row's timestamp, wall times placed in `zone`; undefined when it is no timestamp or out of range. */
export function readRowTime(text: string, zone: string, options: TimestampOptions): RowTime | undefined {
  const parsed = parseTimestamp(text, options.timestampFormat, options.dateOrder)
  if (parsed === undefined) return undefined
  const ts = parsed.kind === 'instant' ? parsed.ts : wallToInstant(parsed.naive, zone)
  return ts >= MIN_TS && ts <= MAX_TS ? { parsed, ts } : undefined
}

/** The report entry of a timestamp `readRowTime` refused. */
export function badTimestamp(column: string, text: string, options: TimestampOptions): RowProblem {
  const format = options.timestampFormat === 'auto' ? `ISO 8601 or ${options.dateOrder === 'dmy' ? 'dd/mm/yyyy' : 'mm/dd/yyyy'} HH:MM` : options.timestampFormat
  return { column, code: 'IMPORT_ERR_TIMESTAMP', message: `${JSON.stringify(text)} is not a timestamp (${format}) between 2000 and 2100` }
}

/** Checks the `timezone` option; throws IMPORT_ERR_OPTIONS when it is not an IANA zone. */
export function checkImportTimeZone(timezone: string | undefined): void {
  if (timezone === undefined) return
  try {
    assertTimeZone(timezone)
  } catch {
    throw new PlantWattError('IMPORT_ERR_OPTIONS', `timezone ${JSON.stringify(timezone)} is not an IANA time zone`)
  }
}
