/** CSV (RFC 4180, UTF-8 with BOM so spreadsheet programs read Chinese names) of the commission's tables. */
import type { EnterpriseFigures } from './overview.ts'

function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** The columns of an export: the first row's keys, in order (the CSV and the XLSX share them). */
export function columnsOf(rows: readonly object[]): string[] {
  const first = rows[0]
  return first ? Object.keys(first) : []
}

export function toCsv(rows: readonly object[]): string {
  const cols = columnsOf(rows)
  if (cols.length === 0) return '\uFEFF\r\n'
  return `\uFEFF${[cols.join(','), ...rows.map((r) => cols.map((c) => cell((r as Record<string, unknown>)[c])).join(','))].join('\r\n')}\r\n`
}

/** One flat row per enterprise (the export of the enterprises table). */
export function enterpriseRows(list: readonly EnterpriseFigures[]): Record<string, unknown>[] {
  return list.map((e) => ({
    id: e.id,
    name: e.name,
    city: e.city,
    industry: e.industry,
    keyUnitLevel: e.keyUnitLevel,
    comprehensiveEnergyTce: e.comprehensiveEnergyTce,
    electricityKwh: e.energy.find((x) => x.carrier === 'electricity')?.value ?? null,
    keyProcesses: e.keyProcesses,
    ncProcesses: e.ncProcesses,
    ncRate: e.ncRate,
    keyDevices: e.keyDevices,
    networkingRate: e.networkingRate,
    recognitions: e.recognitions.length,
    selfAssessed: e.selfAssessed,
    completeness: e.quality.completeness,
    timeliness: e.quality.timeliness,
    late: e.quality.late,
    missingDays: e.quality.missingDays,
    behind: e.quality.behind.join('; '),
  }))
}
