/**
 * One error type for the whole project: every error that crosses a component boundary carries a
 * stable code `<COMPONENT>_ERR_<WHAT>`, a message naming what failed, and optional details
 * (e.g. the list of config problems). The API maps codes to HTTP statuses in one place.
 */
export class PlantWattError extends Error {
  readonly code: string
  readonly details: unknown

  constructor(code: string, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PlantWattError'
    this.code = code
    this.details = options.details
  }
}

/** True when `err` is a PlantWattError, optionally with the given code. */
export function isPlantWattError(err: unknown, code?: string): err is PlantWattError {
  return err instanceof PlantWattError && (code === undefined || err.code === code)
}

/** A readable one-line description of any thrown value (never a stack trace). */
export function describeError(err: unknown): string {
  if (err instanceof PlantWattError) return `${err.code}: ${err.message}`
  if (err instanceof Error) return err.message
  return String(err)
}
