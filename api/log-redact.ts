import type { FastifyRequest } from 'fastify'

/**
 * Query parameters whose values never reach a log: the EventSource token (`?access_token=`) and
 * anything named like a key, token, password or secret. Compared after URL-decoding and lower-casing,
 * so `access%5Ftoken` or `Access_Token` are caught as the query parser would read them.
 */
const SECRET_PARAM =
  /^(access_?token|token|id_?token|refresh_?token|jwt|auth|authorization|bearer|api[_-]?key|apikey|x-api-key|key|password|passwd|pass|pwd|secret|client_?secret|signature|sig)$/

const REDACTED = '[redacted]'

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}

/** The URL with the value of every secret query parameter replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const hash = url.indexOf('#', q)
  const query = url.slice(q + 1, hash < 0 ? undefined : hash)
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=')
    const name = eq < 0 ? part : part.slice(0, eq)
    return SECRET_PARAM.test(decode(name).trim().toLowerCase()) && eq >= 0 ? `${name}=${REDACTED}` : part
  })
  return `${url.slice(0, q)}?${parts.join('&')}${hash < 0 ? '' : url.slice(hash)}`
}

/** What a request log line says about the request: no headers, the URL with secrets redacted. */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

/**
 * pino `redact` paths for anything else that logs a request or a body: credential headers, and
 * password and token fields one or two levels down (the project logger's own paths included, since a
 * child's redact settings replace its parent's).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'password',
  '*.password',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'apiKey',
  '*.apiKey',
]
