import type { TelemetryPoint } from '../storage/store.ts'
import type { ResolvedDevice } from './device-resolver.ts'

/** Codes of a bad row (report entries) and of a file that cannot be imported at all. */
export const IMPORT_ROW_CODES = [
  'IMPORT_ERR_CSV',
  'IMPORT_ERR_COLUMNS',
  'IMPORT_ERR_TIMESTAMP',
  'IMPORT_ERR_DEVICE_UNKNOWN',
  'IMPORT_ERR_DEVICE_AMBIGUOUS',
  'IMPORT_ERR_QUANTITY_UNKNOWN',
  'IMPORT_ERR_VALUE',
  'IMPORT_ERR_VALUE_RANGE',
  'IMPORT_ERR_QUALITY',
  'IMPORT_ERR_DUPLICATE',
  'IMPORT_ERR_ORDER',
  'IMPORT_ERR_INTERVAL',
] as const
export type ImportRowCode = (typeof IMPORT_ROW_CODES)[number]

/** One bad row of the file. */
export interface ImportRowError {
  /** 1-based line in the file as a text editor shows it (the header is line 1). */
  line: number
  /** The column at fault, as named in the header; null when the row as a whole is at fault. */
  column: string | null
  code: ImportRowCode
  message: string
}

/** What is wrong with a row, before its line is attached. */
export type RowProblem = Omit<ImportRowError, 'line'>

/**
 * A row reader's answer for one data row: good (its points, possibly none in the validating pass),
 * bad (its problem), or passed over (the writing pass's lone interval row, already rejected).
 */
export type RowVerdict =
  | {
      kind: 'good'
      device: ResolvedDevice
      /** The row's instant (after the midnight rule), epoch ms. */
      ts: number
      points: TelemetryPoint[]
      /** The interval did not start where the device's previous one ended. */
      gap?: boolean
      /** A D 00:00 row read as the end of day D. */
      midnightShifted?: boolean
    }
  | { kind: 'bad'; problem: RowProblem }
  | { kind: 'passed' }

/** Interval layout: what a device's rows of the file cover, learned by the validating pass. */
export interface DeviceSpan {
  /** The device's tags (enterprise, site, line, device). */
  tags: Readonly<Record<string, string>>
  /** Start of the device's first interval in the file, epoch ms. */
  firstStart: number
  /** End of its last interval, epoch ms. */
  lastEnd: number
  /** What each counter (energy_import_kwh, the cumulative extra columns) grows by over the file. */
  increase: Readonly<Record<string, number>>
}

/** What the validating pass learns and the writing pass needs. */
export interface ScanLearned {
  /** Interval length per device key, ms. */
  intervalMs: Map<string, number>
  /** Interval layout: each device's span (devices whose interval length is known), by device key. */
  spans?: Map<string, DeviceSpan>
  /**
   * Interval layout, set between the passes: each device's counters at the start of its first
   * interval (quantity → value). Absent: energy_import_kwh starts at startKwh (else 0), the others at 0.
   */
  counterStarts?: Map<string, Readonly<Record<string, number>>>
}

/** A row counted good during the pass and rejected at its end (a device's lone interval row). */
export interface Retraction {
  deviceKey: string
  line: number
  problem: RowProblem
}

/** Reads the data rows of one layout; keeps whatever per-device state the layout needs. */
export interface RowReader {
  /** `fields` has as many entries as the header. */
  read(fields: readonly string[], line: number): RowVerdict
  /** End of the file: learns what the writing pass needs and names the good rows to take back. */
  finish(): Retraction[]
}

export function badRow(column: string | null, code: ImportRowCode, message: string): RowVerdict {
  return { kind: 'bad', problem: { column, code, message } }
}

/** A row with more or fewer fields than the header. */
export function wrongFieldCount(fields: number, headerFields: number): RowVerdict {
  return badRow(null, 'IMPORT_ERR_COLUMNS', `${fields} fields where the header has ${headerFields}`)
}
