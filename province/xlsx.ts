/**
 * XLSX (Office Open XML workbook, written by write-excel-file) of the commission's tables. Each sheet
 * opens with its basis lines (what the figures are, the period and zone, the upload format they come
 * from, when computed), then one empty row, then the same table as the CSV export (`csv.ts`: the same
 * columns in the same order), numbers as numeric cells, true/false as boolean cells.
 */
import writeXlsxFile, { type Cell, type Row, type Sheet } from 'write-excel-file/node'
import { columnsOf } from './csv.ts'

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** One sheet of an export. */
export interface XlsxTable {
  /** Sheet name: at most 31 characters, none of []:*?/\ (Excel's rule). */
  sheet: string
  /** The first line of the sheet. */
  title: string
  /** Basis lines, one per entry: name in column A, text in column B. */
  basis: Readonly<Record<string, string>>
  rows: readonly object[]
}

function cellOf(v: unknown): Cell {
  if (v === null || v === undefined) return null
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v)
  if (typeof v === 'boolean' || typeof v === 'string') return v
  return JSON.stringify(v)
}

/** The rows of one sheet: title, basis lines, an empty row, the header, the table. */
export function sheetRows(t: XlsxTable): Row[] {
  const cols = columnsOf(t.rows)
  return [
    [{ value: t.title, fontWeight: 'bold' }],
    ...Object.entries(t.basis).map(([name, text]): Row => [name, text]),
    [],
    cols.map((c): Cell => ({ value: c, fontWeight: 'bold' })),
    ...t.rows.map((r): Row => cols.map((c) => cellOf((r as Record<string, unknown>)[c]))),
  ]
}

/** The workbook of `tables`, one sheet each, as the bytes of an .xlsx file. */
export async function toXlsx(tables: readonly XlsxTable[]): Promise<Buffer> {
  const sheets: Sheet<never>[] = tables.map((t) => ({
    sheet: t.sheet,
    data: sheetRows(t),
    columns: columnsOf(t.rows).map((_, i) => ({ width: i === 0 ? 24 : 14 })),
  }))
  return writeXlsxFile(sheets).toBuffer()
}
