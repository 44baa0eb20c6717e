import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { apiError } from './errors.ts'

/** UTF-8 byte order mark: without it Excel reads the file as the local code page and garbles 中文. */
const BOM = '\uFEFF'
/** RFC 4180 §2.6: fields holding a comma, a quote or a line break are quoted. */
const NEEDS_QUOTES = /[",\r\n]/
/** Spreadsheets run a cell starting with these as a formula (CSV injection): such text gets a leading '. */
const FORMULA_START = /^[=+\-@\t\r]/

export type CsvValue = string | number | boolean | null | undefined

function cell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text: string
  if (typeof value === 'string') text = FORMULA_START.test(value) ? `'${value}` : value
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : ''
  else if (typeof value === 'boolean') text = value ? 'true' : 'false'
  else text = JSON.stringify(value) // not flat: kept readable rather than lost
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/**
 * RFC 4180 text of `rows`: a header line that is the union of the rows' keys in first-seen order,
 * then one line per row (CRLF line ends, a missing key is an empty field), with a UTF-8 BOM.
 */
export function toCsv(rows: readonly Readonly<Record<string, unknown>>[]): string {
  const columns: string[] = []
  const seen = new Set<string>()
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key)
        columns.push(key)
      }
    }
  }
  const lines = [columns.map(cell).join(',')]
  for (const row of rows) lines.push(columns.map((c) => cell(row[c])).join(','))
  return `${BOM}${lines.join('\r\n')}\r\n`
}

/** Media ranges of an Accept header with their q, e.g. `text/csv;q=0.9` → ['text/csv', 0.9]. */
function acceptRanges(accept: string): [string, number][] {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const value = q === undefined ? 1 : Number(q.slice(2))
    return [type.trim(), Number.isFinite(value) ? value : 0]
  })
}

/** True when the Accept header names text/csv and ranks it at least as high as JSON (listed or by wildcard). */
export function acceptsCsvFirst(accept: string | undefined): boolean {
  if (!accept) return false
  const ranges = acceptRanges(accept)
  const csv = Math.max(0, ...ranges.filter(([t]) => t === 'text/csv').map(([, q]) => q))
  if (csv === 0) return false
  const json = Math.max(0, ...ranges.filter(([t]) => t === 'application/json').map(([, q]) => q))
  return csv >= json
}

/** A file name safe in Content-Disposition: the route's csvName or its path after the prefix. */
function fileName(req: FastifyRequest, prefix: string): string {
  const configured = req.routeOptions.config?.csvName
  const path = (req.routeOptions.url ?? req.url.split('?')[0] ?? '').replace(prefix, '')
  const base = (configured ?? path)
    .replace(/[:{}]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return `plantwatt-${base || 'export'}.csv`
}

const wantsCsv = new WeakMap<FastifyRequest, true>()
const badFormat = new WeakSet<FastifyRequest>()

/** True when this request asked for CSV (routes that stream instead of answering use it to refuse). */
export function csvRequested(req: FastifyRequest): boolean {
  return wantsCsv.has(req)
}

/**
 * Generic CSV export. `?format=csv` (or `format=json` to force JSON), or an Accept header preferring
 * `text/csv`: a 2xx JSON answer with a top-level `rows` array of objects becomes text/csv; any other
 * answer asked for as CSV becomes 406 API_ERR_NOT_ACCEPTABLE. `format` is removed from the query
 * before validation, so every route takes it without declaring it. Error answers stay JSON.
 */
export function installCsv(app: FastifyInstance, prefix: string): void {
  app.addHook('onRequest', async (req) => {
    const query = req.query as Record<string, unknown> | undefined
    const format = query?.format
    if (query && format !== undefined) {
      delete query.format
      if (format === 'csv') wantsCsv.set(req, true)
      else if (format !== 'json') badFormat.add(req)
      return
    }
    if (acceptsCsvFirst(req.headers.accept)) wantsCsv.set(req, true)
  })

  // Reported with the other validation errors, after authentication (whose preValidation hook runs first).
  app.addHook('preValidation', async (req) => {
    if (badFormat.has(req)) {
      throw apiError('API_ERR_VALIDATION', 'query parameter "format" must be csv or json', [
        { parameter: 'format', in: 'querystring', message: 'must be csv or json' },
      ])
    }
  })

  app.addHook('onSend', async (req, reply: FastifyReply, payload) => {
    if (!wantsCsv.has(req) || reply.statusCode < 200 || reply.statusCode >= 300) return payload
    const type = String(reply.getHeader('content-type') ?? '')
    let rows: unknown
    if (type.startsWith('application/json') && typeof payload === 'string') {
      try {
        rows = (JSON.parse(payload) as { rows?: unknown }).rows
      } catch {
        rows = undefined
      }
    }
    if (!Array.isArray(rows) || !rows.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
      // Not through the error handler: onSend runs after it. Same body shape as every error.
      reply.code(406).type('application/json; charset=utf-8')
      return JSON.stringify({
        error: {
          code: 'API_ERR_NOT_ACCEPTABLE',
          message: `${req.method} ${req.url.split('?')[0] ?? ''} has no table to export as CSV (no top-level "rows"); ask for JSON`,
        },
      })
    }
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${fileName(req, prefix)}"`)
    return toCsv(rows as Record<string, unknown>[])
  })
}
