import { PlantWattError } from '../core/errors.ts'

// Flags of the audited-record commands (`plantwatt entries`, `plantwatt meter-events`): a bad flag is
// RECORDS_ERR_SCHEMA naming it, as the API names a bad field.

/** A bad flag of a record command, coded like a bad field of the record API. */
export function recordFlagError(message: string, field: string): PlantWattError {
  return new PlantWattError('RECORDS_ERR_SCHEMA', message, { details: { field } })
}

/** The time of a flag: ISO 8601 (plant time zone without an offset) or epoch ms; `examples` shown when it is neither. */
export async function recordFlagTime(text: string, flag: string, timezone: string, examples: string): Promise<number> {
  const { parseEntryTime } = await import('../records/csv.ts')
  const t = parseEntryTime(text, timezone)
  if (Number.isNaN(t)) throw recordFlagError(`--${flag}: ${JSON.stringify(text)} is not a time: ISO 8601 (${examples}) or epoch ms`, flag)
  return t
}
