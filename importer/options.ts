import Type from 'typebox'
import { validateConfig } from '../core/config.ts'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'

export const IMPORT_LAYOUTS = ['auto', 'long', 'interval'] as const
export const TIMESTAMP_FORMATS = ['auto', 'iso', 'dmy', 'mdy', 'epoch-ms', 'epoch-s'] as const
export const TIMESTAMP_IS = ['start', 'end'] as const
export const MIDNIGHT_RULES = ['auto', 'literal'] as const

export const ColumnMappingSchema = Type.Object(
  {
    quantity: Type.String({ minLength: 1, description: 'canonical quantity the column feeds (core/quantities.ts)' }),
    scale: Type.Number({ default: 1, description: 'factor applied to the value first (e.g. 0.01 for a power factor in %)' }),
  },
  { additionalProperties: false },
)

/** Options of one import. Defaults are in the schema; `resolveImportOptions` fills them. */
export const ImportOptionsSchema = Type.Object(
  {
    layout: Type.Enum(IMPORT_LAYOUTS, {
      default: 'auto',
      description: 'long: timestamp,device,quantity,value; interval: timestamp[,device],<kWh per interval>[,extra columns]; auto: from the header',
    }),
    device: Type.Optional(
      Type.String({ minLength: 1, description: 'interval layout: the device of every row when the file has no device column (address or unique id)' }),
    ),
    timezone: Type.Optional(
      Type.String({ minLength: 1, description: "IANA zone of timestamps without an offset; default the device's site zone (else the plant's)" }),
    ),
    timestampFormat: Type.Enum(TIMESTAMP_FORMATS, {
      default: 'auto',
      description: 'auto: ISO 8601 (with offset, or local wall time) or dd/mm/yyyy HH:MM[:SS] (order from dateOrder); epoch-ms / epoch-s: numbers',
    }),
    dateOrder: Type.Enum(['dmy', 'mdy'], {
      default: 'dmy',
      description: 'order of a slash/dot/dash date without a leading year: day first (01/02 = 1 Feb) or month first',
    }),
    timestampIs: Type.Enum(TIMESTAMP_IS, { default: 'end', description: 'interval layout: the timestamp marks the start or the end of its interval' }),
    midnight: Type.Enum(MIDNIGHT_RULES, {
      default: 'auto',
      description:
        'interval layout, local-time stamps: auto = a D 00:00 row that follows a later row of the same date D is the end of day D (D+1 00:00); literal = as written',
    }),
    intervalMinutes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1440, description: 'interval layout: interval length; default the smallest step between a device’s rows' }),
    ),
    intervalPower: Type.Enum(['mean', 'off'], {
      default: 'mean',
      description:
        'interval layout: mean = also write active_power_kw = kWh / interval length (h) at the interval start, so power rules and the anomaly detector see imported history; off = the counter only. Not written when a column is mapped to active_power_kw',
    }),
    startKwh: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          "interval layout: energy_import_kwh counter at the start of the file's first interval, kWh; default: the device's counter continued from the store (its reading at that instant, else its latest reading of the 366 days before), else 0",
      }),
    ),
    timestampColumn: Type.Optional(Type.String({ minLength: 1, description: 'default: the first of timestamp, time, ts, datetime, date' })),
    deviceColumn: Type.String({ minLength: 1, default: 'device', description: 'column holding the device' }),
    quantityColumn: Type.String({ minLength: 1, default: 'quantity', description: 'long layout: column holding the canonical quantity' }),
    valueColumn: Type.String({ minLength: 1, default: 'value', description: 'long layout: column holding the value' }),
    qualityColumn: Type.String({
      minLength: 1,
      default: 'quality',
      description: 'long layout, optional column: good | uncertain | bad (stored like live telemetry: q_<quantity>)',
    }),
    energyColumn: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'interval layout: column of kWh per interval; default the first of Usage_kWh, kwh, energy_kwh, interval_kwh, consumption_kwh',
      }),
    ),
    columns: Type.Record(Type.String(), ColumnMappingSchema, {
      default: {},
      description:
        'interval layout: extra column → quantity; a cumulative quantity is summed into a counter like the kWh, any other is written at the interval start',
    }),
    delimiter: Type.String({ minLength: 1, maxLength: 1, default: ',', description: 'field separator' }),
    batchSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000, description: 'points per store write' }),
    maxReportedErrors: Type.Integer({ minimum: 1, default: 10_000, description: 'most bad-row entries in the report (all are counted)' }),
    dryRun: Type.Boolean({ default: false, description: 'validate and count, write nothing' }),
  },
  { additionalProperties: false },
)

/**
 * Options a caller passes as they are (a CLI flag, an API query key of the same name): every option
 * of the schema but `columns` (built from `map`) and `batchSize` (the caller's own).
 */
export const PLAIN_IMPORT_OPTION_KEYS = [
  'layout',
  'device',
  'timezone',
  'timestampFormat',
  'dateOrder',
  'timestampIs',
  'midnight',
  'intervalMinutes',
  'startKwh',
  'intervalPower',
  'timestampColumn',
  'deviceColumn',
  'quantityColumn',
  'valueColumn',
  'qualityColumn',
  'energyColumn',
  'delimiter',
  'dryRun',
] as const satisfies readonly (keyof typeof ImportOptionsSchema.properties)[]

export type ImportOptions = Type.Static<typeof ImportOptionsSchema>
/** What callers pass: every key with a default may be left out. */
export type ImportOptionsInput = Partial<ImportOptions>

/** Fills defaults and validates; throws IMPORT_ERR_OPTIONS naming every bad key. */
export function resolveImportOptions(input: ImportOptionsInput = {}): Readonly<ImportOptions> {
  try {
    return validateConfig(ImportOptionsSchema, input, 'import options')
  } catch (err) {
    if (isPlantWattError(err, 'CORE_ERR_CONFIG')) throw new PlantWattError('IMPORT_ERR_OPTIONS', err.message, { details: err.details, cause: err })
    throw err
  }
}

/**
 * Parses `Column:quantity` or `Column:quantity*scale` (the CLI's and the API's text form of one
 * `columns` entry). The column name is everything before the last colon.
 */
export function parseColumnMapping(text: string): [string, { quantity: string; scale: number }] {
  const at = text.lastIndexOf(':')
  const bad = () => new PlantWattError('IMPORT_ERR_OPTIONS', `column mapping ${JSON.stringify(text)} is not Column:quantity or Column:quantity*scale`)
  if (at <= 0 || at === text.length - 1) throw bad()
  const column = text.slice(0, at)
  const [quantity, scaleText] = text.slice(at + 1).split('*') as [string, string | undefined]
  const scale = scaleText === undefined ? 1 : Number(scaleText)
  if (quantity.length === 0 || !Number.isFinite(scale) || scale === 0) throw bad()
  return [column, { quantity, scale }]
}
