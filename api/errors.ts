import Type from 'typebox'
import type { FastifySchemaValidationError } from 'fastify'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'

/** Every code the API answers with, and its HTTP status: the one place that maps the two. */
export const API_ERRORS = {
  /** A query or path parameter failed its schema or could not be parsed. */
  API_ERR_VALIDATION: 400,
  /** start is not before stop. */
  API_ERR_RANGE: 400,
  /** The range is longer than maxRangeDays, or would give more than maxPoints windows. */
  API_ERR_RANGE_TOO_LARGE: 400,
  /** A bare device id that names devices on several lines. */
  API_ERR_DEVICE_AMBIGUOUS: 400,
  API_ERR_QUANTITY_UNKNOWN: 400,
  API_ERR_DEVICE_UNKNOWN: 404,
  /** No or bad credentials. */
  API_ERR_UNAUTHORIZED: 401,
  /** Authenticated, but the role may not do this. */
  API_ERR_FORBIDDEN: 403,
  /** A state change that conflicts with the current state (e.g. acknowledging a resolved alert). */
  API_ERR_CONFLICT: 409,
  /** The answer cannot be given in the format asked for (e.g. CSV of an answer without rows). */
  API_ERR_NOT_ACCEPTABLE: 406,
  /** The request body is larger than the route accepts. */
  API_ERR_PAYLOAD_TOO_LARGE: 413,
  /** Too many requests from this client; retry after the time given. */
  API_ERR_RATE_LIMITED: 429,
  API_ERR_NOT_FOUND: 404,
  /** A request the server could not parse (bad JSON body, unsupported media type …). */
  API_ERR_BAD_REQUEST: 400,
  /** A feature whose backing service is not configured in this process. */
  API_ERR_UNAVAILABLE: 503,
  /** The telemetry store did not answer (any STORAGE_ERR_* code keeps its own code). */
  API_ERR_STORAGE: 503,
  API_ERR_INTERNAL: 500,
} as const

export type ApiErrorCode = keyof typeof API_ERRORS

/** Throws-ready coded error for the API's own failures. */
export function apiError(code: ApiErrorCode, message: string, details?: unknown): PlantWattError {
  return new PlantWattError(code, message, details === undefined ? {} : { details })
}

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code, e.g. API_ERR_RANGE' }),
      message: Type.String({ description: 'what was wrong, naming the parameter' }),
      details: Type.Optional(Type.Unknown({ description: 'structured detail, e.g. the failed schema checks' })),
    }),
  },
  { description: 'error: { code, message, details? }' },
)

export type ErrorBody = Type.Static<typeof ErrorBodySchema>

/** Error responses every route may give; merged into each route's response schema. */
export const ERROR_RESPONSES = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  406: ErrorBodySchema,
  413: ErrorBodySchema,
  409: ErrorBodySchema,
  422: ErrorBodySchema,
  429: ErrorBodySchema,
  500: ErrorBodySchema,
  503: ErrorBodySchema,
} as const

export interface ErrorReply {
  statusCode: number
  body: ErrorBody
}

interface FastifyLikeError {
  code?: unknown
  statusCode?: unknown
  message?: unknown
}

/**
 * Maps anything thrown by a handler, a hook or Fastify itself to a status and an error body.
 * Unknown errors become a bare 500: their message and stack may hold internals and never leave.
 */
export function toErrorReply(err: unknown): ErrorReply {
  if (isPlantWattError(err)) {
    const status = statusOf(err.code)
    if (status !== undefined) {
      const error: ErrorBody['error'] = { code: err.code, message: err.message }
      if (err.details !== undefined) error.details = err.details
      return { statusCode: status, body: { error } }
    }
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError
  // Fastify's own client errors (body parsing, media type, payload size) carry a 4xx status and a
  // message written for the client.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && typeof e.message === 'string') {
    const code = e.statusCode === 404 ? 'API_ERR_NOT_FOUND' : e.statusCode === 413 ? 'API_ERR_PAYLOAD_TOO_LARGE' : 'API_ERR_BAD_REQUEST'
    return { statusCode: e.statusCode, body: { error: { code, message: e.message } } }
  }
  return { statusCode: 500, body: { error: { code: 'API_ERR_INTERNAL', message: 'internal server error' } } }
}

/** Codes of the layers below the API (reports/, analytics/, alerts/) and their HTTP statuses. */
const LAYER_ERRORS: Readonly<Record<string, number>> = {
  REPORTS_ERR_SCOPE: 404,
  REPORTS_ERR_INPUT: 400,
  ANALYTICS_ERR_INPUT: 400,
  ANALYTICS_ERR_TARIFF: 400,
  ANALYTICS_ERR_FACTOR: 400,
  ANALYTICS_ERR_BENCHMARK: 400,
  ANALYTICS_ERR_SHIFTS: 400,
  ANALYTICS_ERR_REGRESSION: 422,
  ANALYTICS_ERR_PLANT: 400,
  CORE_ERR_CONFIG: 400,
}

/** records/ (entries, meter events): a bad field is 400; these have their own status. */
const RECORDS_ERRORS: Readonly<Record<string, number>> = {
  RECORDS_ERR_NOT_FOUND: 404,
  RECORDS_ERR_CONFLICT: 409,
  RECORDS_ERR_OVERLAP: 409,
  RECORDS_ERR_VOIDED: 409,
}

function statusOf(code: string): number | undefined {
  if (code.startsWith('STORAGE_ERR_')) return API_ERRORS.API_ERR_STORAGE
  if (code.startsWith('RECORDS_ERR_')) return RECORDS_ERRORS[code] ?? 400
  const layer = LAYER_ERRORS[code]
  if (layer !== undefined) return layer
  return Object.hasOwn(API_ERRORS, code) ? API_ERRORS[code as ApiErrorCode] : undefined
}

const PARTS: Record<string, string> = { querystring: 'query parameter', params: 'path parameter', body: 'body field', headers: 'header' }

interface ValidationIssue {
  parameter: string
  in: string
  message: string
}

/** One message naming every bad parameter, instead of Ajv's `querystring/fn must be equal to …`. */
export function formatValidationErrors(errors: readonly FastifySchemaValidationError[], dataVar: string): Error {
  const part = PARTS[dataVar] ?? dataVar
  const issues: ValidationIssue[] = errors.map((e) => {
    const params = e.params as Record<string, unknown>
    const fromPath = e.instancePath.split('/').filter(Boolean).join('.')
    if (e.keyword === 'required') {
      const name = String(params.missingProperty)
      return { parameter: name, in: dataVar, message: `missing ${part} "${name}"` }
    }
    if (e.keyword === 'additionalProperties') {
      const name = String(params.additionalProperty)
      return { parameter: name, in: dataVar, message: `unknown ${part} "${name}"` }
    }
    const name = fromPath || dataVar
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      return { parameter: name, in: dataVar, message: `${part} "${name}" must be one of ${params.allowedValues.join(', ')}` }
    }
    return { parameter: name, in: dataVar, message: `${part} "${name}" ${e.message ?? 'is invalid'}` }
  })
  return apiError('API_ERR_VALIDATION', issues.map((i) => i.message).join('; '), issues)
}
