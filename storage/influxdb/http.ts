import { PlantWattError } from '../../core/errors.ts'

/** A series of an InfluxQL answer. */
export interface InfluxSeries {
  name?: string
  tags?: Record<string, string>
  columns: string[]
  values?: unknown[][]
}

/** One statement's result. */
export interface InfluxResult {
  statement_id?: number
  series?: InfluxSeries[]
  error?: string
}

/** Where and how to reach InfluxDB's v1-compatible HTTP API (the store's options). */
export interface InfluxHttpOptions {
  url: string
  database: string
  token?: string | undefined
  username?: string | undefined
  password?: string | undefined
  timeoutMs?: number | undefined
}

/** The text of an error answer: InfluxDB's `error` (or `message`) field, else the body cut short. */
export function errorText(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown }
    if (typeof json.error === 'string') return json.error
    if (typeof json.message === 'string') return json.message
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().slice(0, 500) || '(empty body)'
}

export interface InfluxHttp {
  /** Base URL without trailing slash. */
  base: string
  /** One HTTP request with the credentials and the timeout; STORAGE_ERR_UNAVAILABLE when there is no answer. */
  send(path: string, init: RequestInit, what: string): Promise<{ status: number; body: string }>
  /** Runs statements in one request; one result per statement; STORAGE_ERR_QUERY on any error. */
  query(statements: readonly string[], what: string): Promise<InfluxResult[]>
}

/** The HTTP client the telemetry store and the event log share: credentials, timeouts, coded errors. */
export function influxHttp(options: InfluxHttpOptions): InfluxHttp {
  const base = options.url.replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? 10_000
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Token ${options.token}`
  else if (options.username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
  }

  async function send(path: string, init: RequestInit, what: string): Promise<{ status: number; body: string }> {
    let res: Response
    try {
      res = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (cause) {
      const name = (cause as Error).name
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `${what}: influxdb at ${base} did not answer within ${timeoutMs} ms`, { cause })
      }
      const code = ((cause as { cause?: { code?: unknown } }).cause?.code as string | undefined) ?? 'network error'
      throw new PlantWattError('STORAGE_ERR_UNAVAILABLE', `${what}: influxdb at ${base} is unreachable (${code})`, { cause })
    }
    return { status: res.status, body: await res.text() }
  }

  async function query(statements: readonly string[], what: string): Promise<InfluxResult[]> {
    const form = new URLSearchParams({ db: options.database, epoch: 'ms', q: statements.join(';\n') })
    const { status, body } = await send(
      '/query',
      { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      what,
    )
    if (status < 200 || status >= 300) {
      const text = errorText(body)
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: influxdb answered ${status}: ${text}`, {
        cause: new Error(text),
        details: { status, influxError: text },
      })
    }
    let parsed: { results?: InfluxResult[]; error?: string }
    try {
      parsed = JSON.parse(body) as typeof parsed
    } catch (cause) {
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: influxdb answered with invalid JSON`, { cause })
    }
    if (parsed.error) throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: ${parsed.error}`, { details: { influxError: parsed.error } })
    const results = parsed.results ?? []
    const failed = results.find((r) => r.error)
    if (failed) throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: ${failed.error as string}`, { details: { influxError: failed.error } })
    if (results.length !== statements.length)
      throw new PlantWattError('STORAGE_ERR_QUERY', `${what}: expected ${statements.length} result(s), got ${results.length}`)
    return results
  }

  return { base, send, query }
}
