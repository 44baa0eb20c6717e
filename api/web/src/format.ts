import { locale } from './i18n.ts'

/** A number with `digits` decimals (none from 1000 up) in the page's locale; '—' when there is none. */
export function fmt(v: number | string | null | undefined, digits = 1): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—'
  if (typeof v !== 'number') return String(v)
  const d = Math.abs(v) >= 1000 ? 0 : digits
  return v.toLocaleString(locale(), { minimumFractionDigits: d, maximumFractionDigits: d })
}

/** A share 0..1 as a percentage with one decimal. */
export const pct = (v: unknown): string => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—')

/** Date and time of an epoch-ms instant in the page's locale. */
export const dateTime = (ms: unknown): string => (typeof ms === 'number' ? new Date(ms).toLocaleString(locale()) : '—')

/** The age of a value, ms, in the unit that reads best. */
export function formatAge(ms: number | null | undefined): string {
  if (ms == null) return '—'
  if (ms < 1000) return `${ms} ms`
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`
  return `${Math.round(ms / 3600000)} h`
}

export const DAY_MS = 86_400_000

/** YYYY-MM-DD of an instant in a zone (the API reads a bare date as local midnight there). */
export function localDate(ts: number, tz: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ts))
}

/** The day after a local date, as a local date (the API's stop is exclusive). */
export const nextDay = (date: string): string => new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10)
