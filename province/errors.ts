/** Every code the province service answers with, and its HTTP status: the one place that maps the two. */
import { isPlantWattError } from '../core/errors.ts'

export const PROVINCE_ERRORS: Readonly<Record<string, number>> = {
  /** Missing or bad signature headers, unknown enterprise, wrong key, stale timestamp. */
  PROVINCE_ERR_AUTH: 401,
  /** A nonce seen before: a replayed request. */
  PROVINCE_ERR_REPLAY: 409,
  /** The signer uploads another enterprise's data. */
  PROVINCE_ERR_FORBIDDEN: 403,
  /** The body is not JSON. */
  PROVINCE_ERR_MALFORMED: 400,
  /** The body is JSON but not a valid upload (details name the fields). */
  PROVINCE_ERR_INVALID: 400,
  /** Same revision of a record held with other content: send a new revision. */
  PROVINCE_ERR_REVISION_CONFLICT: 409,
  PROVINCE_ERR_BODY_TOO_LARGE: 413,
  PROVINCE_ERR_MEDIA_TYPE: 415,
  /** A query or path parameter is bad. */
  PROVINCE_ERR_QUERY: 400,
  PROVINCE_ERR_NOT_FOUND: 404,
  PROVINCE_ERR_INTERNAL: 500,
}

export interface ErrorReply {
  statusCode: number
  body: { error: { code: string; message: string; details?: unknown } }
}

/** Anything thrown → status and `{ error: { code, message, details? } }`; unknown errors become a bare 500. */
export function toErrorReply(err: unknown): ErrorReply {
  if (isPlantWattError(err)) {
    const status = PROVINCE_ERRORS[err.code]
    if (status !== undefined) {
      return { statusCode: status, body: { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } } }
    }
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as { statusCode?: unknown; code?: unknown; message?: unknown; validation?: unknown }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && typeof e.message === 'string') {
    const code =
      e.statusCode === 413
        ? 'PROVINCE_ERR_BODY_TOO_LARGE'
        : e.statusCode === 415
          ? 'PROVINCE_ERR_MEDIA_TYPE'
          : e.statusCode === 404
            ? 'PROVINCE_ERR_NOT_FOUND'
            : e.validation !== undefined
              ? 'PROVINCE_ERR_QUERY'
              : 'PROVINCE_ERR_MALFORMED'
    return { statusCode: e.statusCode, body: { error: { code, message: e.message } } }
  }
  return { statusCode: 500, body: { error: { code: 'PROVINCE_ERR_INTERNAL', message: 'internal server error' } } }
}
