import { PlantWattError } from '../core/errors.ts'

/** Error codes of the report layer (the API maps them to HTTP statuses in api/errors.ts). */
export type ReportErrorCode =
  /** The scope names no enterprise, site, line or device of the plant model (404). */
  | 'REPORTS_ERR_SCOPE'
  /** The request cannot be answered for this scope, e.g. shifts asked over lines with different shifts (400). */
  | 'REPORTS_ERR_INPUT'

export function reportError(code: ReportErrorCode, message: string, details?: unknown): PlantWattError {
  return new PlantWattError(code, message, details === undefined ? {} : { details })
}
