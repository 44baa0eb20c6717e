import { $, el } from './dom.ts'
import { t } from './i18n.ts'
import { state } from './state.ts'

/** Base path of the API the page talks to (same origin). */
export const API = '/api/v1'

/** A refused request: the HTTP status and the API's error code (`{ error: { code, message } }`). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(`${code}: ${message}`)
    this.status = status
    this.code = code
  }
}

let onUnauthorized = (): void => {}
/** What a 401 of a signed-in user does (the shell signs out: token expired or user removed). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn
}

interface ErrorBody {
  error?: { code?: string; message?: string }
}

/** A JSON request to the API with the user's token. `T` is the route's answer (answers.ts): the API validates its answers against the same schemas. */
export async function api<T>(path: string, opts: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(opts.body ? { 'content-type': 'application/json' } : {}),
    ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
  }
  const res = await fetch(`${API}/${path}`, { method: opts.method || 'GET', headers, body: opts.body ? JSON.stringify(opts.body) : null })
  const body: unknown = await res.json().catch(() => null)
  if (res.status === 401 && state.me && path !== 'auth/login') onUnauthorized()
  if (!res.ok) {
    const error = (body as ErrorBody | null)?.error
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText)
  }
  return body as T
}

/** Saves what a route answers as CSV (`Accept: text/csv`) under `filename`. */
export async function downloadCsv(path: string, filename: string): Promise<void> {
  const res = await fetch(`${API}/${path}`, { headers: { accept: 'text/csv', ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) } })
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  const url = URL.createObjectURL(await res.blob())
  const a = el('a', { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** Shows a failure in the header (null clears it). */
export function showError(err: unknown): void {
  $('error').textContent = err ? `${t('connection')}: ${messageOf(err)}` : ''
}

/** The text of a failed request in a view: refused and unknown in words, else the API's message. */
export function failText(err: unknown): string {
  if (err instanceof ApiError && err.status === 403) return t('forbidden')
  if (err instanceof ApiError && err.status === 404) return `${t('notFound')} (${err.message})`
  return err instanceof Error ? err.message : t('none')
}

export const failBox = (err: unknown): HTMLParagraphElement => el('p', { class: 'empty' }, failText(err))
