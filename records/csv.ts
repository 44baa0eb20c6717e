import { parse } from 'csv-parse/sync'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import { zoneOffsetMs } from '../core/windows.ts'
import type { PlantModel } from '../core/plant.ts'
import type { Entry } from './entries.ts'
import type { EntryBook } from './entry-book.ts'
import { checkEntryInputs, type EntryProblem } from './entry-rules.ts'

/**
 * Entries from CSV: a header line, then one entry per row. Columns (header names, any order):
 *
 *   kind          energy | production (default: energy when carrier is given, else production)
 *   enterprise    required
 *   site, line    the scope (a production entry needs both)
 *   carrier       energy: carrier id (raw-coal, natural-gas …)
 *   direction     energy: import (default) | export
 *   amount        required, ≥ 0, `.` as decimal separator
 *   unit          required: the carrier's entry unit (t for raw coal) or the product's (t | pcs)
 *   start, end    required: ISO 8601 (2026-03-01, 2026-03-01T08:00, …+08:00) or epoch ms; without an
 *                 offset, wall-clock time in the plant's time zone; [start, end)
 *   ncvKjPerUnit  energy, optional: measured low calorific value, kJ per unit
 *   source        optional (default: csv)
 *
 * All or nothing: every row is checked (schema, rules, overlap with current entries and with the
 * other rows) before anything is written; any bad row refuses the file with RECORDS_ERR_CSV and
 * `details.rows` = [{ row, column, code, message }] (row: line in the file, the header being 1).
 */

export const ENTRY_CSV_COLUMNS = [
  'kind',
  'enterprise',
  'site',
  'line',
  'carrier',
  'direction',
  'amount',
  'unit',
  'start',
  'end',
  'ncvKjPerUnit',
  'source',
] as const
const REQUIRED = ['enterprise', 'amount', 'unit', 'start', 'end'] as const
/** Most rows in one file: entries are daily or monthly figures, not time series. */
export const MAX_ENTRY_CSV_ROWS = 10_000

export interface EntryCsvRowError {
  /** Line in the file, 1-based; the header is line 1. */
  row: number
  /** The column at fault as named in the header; null for the row as a whole. */
  column: string | null
  code: string
  message: string
}

export interface EntryCsvResult {
  /** Data rows read. */
  rows: number
  /** The entries written, in row order by kind (energy first). */
  written: Entry[]
}

const EPOCH_MS = /^[0-9]{1,15}$/
const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/i

/** Epoch ms of a CSV time: epoch ms, or ISO 8601 (wall-clock time in `timezone` without an offset); NaN when not a time. */
export function parseEntryTime(text: string, timezone: string): number {
  if (EPOCH_MS.test(text)) return Number(text)
  const m = ISO.exec(text)
  if (!m) return Number.NaN
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0)) as [number, number, number, number, number, number]
  const wall = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(wall)
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return Number.NaN
  const zone = m[7]
  if (zone === undefined) {
    const first = wall - zoneOffsetMs(wall, timezone)
    return wall - zoneOffsetMs(first, timezone)
  }
  if (zone.toUpperCase() === 'Z') return wall
  const digits = zone.replace(':', '')
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))
  return wall - (digits.startsWith('-') ? -1 : 1) * minutes * 60_000
}

function csvError(rows: EntryCsvRowError[]): PlantWattError {
  const first = rows[0]
  const where = first ? `row ${first.row}${first.column ? `, column ${first.column}` : ''}: ${first.code}: ${first.message}` : 'no rows'
  return new PlantWattError('RECORDS_ERR_CSV', `${rows.length} bad row(s), nothing written; first: ${where}`, { details: { rows } })
}

/** The raw entries of a CSV text (one per data row, by line) and the problems found reading it. */
export function readEntriesCsv(text: string, timezone: string): { raws: Record<string, unknown>[]; lines: number[]; errors: EntryCsvRowError[] } {
  let records: string[][]
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][]
  } catch (cause) {
    throw new PlantWattError('RECORDS_ERR_CSV', `not readable as CSV: ${(cause as Error).message}`, { cause, details: { rows: [] } })
  }
  const header = records[0] ?? []
  const errors: EntryCsvRowError[] = []
  for (const h of header) {
    if (!(ENTRY_CSV_COLUMNS as readonly string[]).includes(h))
      errors.push({ row: 1, column: h, code: 'RECORDS_ERR_CSV', message: `unknown column (columns: ${ENTRY_CSV_COLUMNS.join(', ')})` })
  }
  for (const c of REQUIRED) if (!header.includes(c)) errors.push({ row: 1, column: c, code: 'RECORDS_ERR_CSV', message: 'missing column' })
  if (records.length - 1 > MAX_ENTRY_CSV_ROWS)
    errors.push({ row: 1, column: null, code: 'RECORDS_ERR_CSV', message: `more than ${MAX_ENTRY_CSV_ROWS} rows: split the file` })
  if (errors.length > 0) return { raws: [], lines: [], errors }
  const raws: Record<string, unknown>[] = []
  const lines: number[] = []
  records.slice(1).forEach((cells, i) => {
    const row = i + 2
    if (cells.length !== header.length) {
      errors.push({ row, column: null, code: 'RECORDS_ERR_CSV', message: `${cells.length} field(s), the header has ${header.length}` })
      return
    }
    const raw = rawOfRow(header, cells, timezone, (column, message) => errors.push({ row, column, code: 'RECORDS_ERR_SCHEMA', message }))
    raws.push(raw)
    lines.push(row)
  })
  return { raws, lines, errors }
}

function rawOfRow(
  header: readonly string[],
  cells: readonly string[],
  timezone: string,
  bad: (column: string, message: string) => void,
): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  header.forEach((h, i) => {
    const v = cells[i] ?? ''
    if (v === '') return
    if (h === 'amount' || h === 'ncvKjPerUnit') {
      const n = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(v) ? Number(v) : Number.NaN
      if (Number.isNaN(n)) bad(h, `${JSON.stringify(v)} is not a number`)
      raw[h] = n
    } else if (h === 'start' || h === 'end') {
      const t = parseEntryTime(v, timezone)
      if (Number.isNaN(t)) bad(h, `${JSON.stringify(v)} is not a time: ISO 8601 or epoch ms`)
      raw[h] = t
    } else raw[h] = v
  })
  raw.kind ??= raw.carrier === undefined ? 'production' : 'energy'
  raw.source ??= 'csv'
  return raw
}

function rowErrorOf(p: EntryProblem, lines: readonly number[], single: boolean): EntryCsvRowError {
  const row = lines[single ? 0 : (p.index ?? 0)] ?? 0
  const column = (ENTRY_CSV_COLUMNS as readonly string[]).includes(p.field) ? p.field : null
  return { row, column, code: p.code, message: column === null && p.field ? `${p.field}: ${p.message}` : p.message }
}

/** Checks and writes the entries of a CSV text, all or none (RECORDS_ERR_CSV with every bad row). */
export async function importEntriesCsv(
  book: EntryBook,
  text: string,
  opts: { timezone: string; user: string; reason?: string; model: PlantModel },
): Promise<EntryCsvResult> {
  const { raws, lines, errors } = readEntriesCsv(text, opts.timezone)
  if (errors.some((e) => e.row === 1)) throw csvError(errors)
  if (raws.length === 0 && errors.length === 0) throw csvError([{ row: 2, column: null, code: 'RECORDS_ERR_CSV', message: 'no data rows' }])
  const single = raws.length === 1
  const { problems } = checkEntryInputs(raws, opts.model)
  const all = [...errors, ...problems.map((p) => rowErrorOf(p, lines, single))]
  // one error per cell: a number that did not parse is not reported again by the schema
  const rows = all.filter((e, i) => all.findIndex((x) => x.row === e.row && x.column === e.column) === i).sort((a, b) => a.row - b.row)
  if (rows.length > 0) throw csvError(rows)
  try {
    const written = await book.submit(raws, { user: opts.user, ...(opts.reason ? { reason: opts.reason } : {}) })
    return { rows: raws.length, written }
  } catch (err) {
    const listed = isPlantWattError(err) ? (err.details as { problems?: EntryProblem[] } | undefined)?.problems : undefined
    if (listed) throw csvError(listed.map((p) => rowErrorOf(p, lines, single)))
    throw err
  }
}
