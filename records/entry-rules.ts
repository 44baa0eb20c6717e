import type { TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { carrierInputProblems, type CarrierInputProblem } from '../analytics/carriers.ts'
import { PlantWattError } from '../core/errors.ts'
import type { PlantModel } from '../core/plant.ts'
import { EnergyEntryInputSchema, ProductionEntryInputSchema, type EntryInput } from './entries.ts'
import { MAX_RECORD_SPAN_MS } from './store.ts'

/**
 * The rules an entry must pass before anything is written; each broken rule is a problem with its
 * code and the field it names. A submission with any problem writes nothing.
 */

export const ENTRY_ERROR_CODES = [
  'RECORDS_ERR_SCHEMA',
  'RECORDS_ERR_SCOPE',
  'RECORDS_ERR_CARRIER',
  'RECORDS_ERR_UNIT',
  'RECORDS_ERR_AMOUNT',
  'RECORDS_ERR_NCV',
  'RECORDS_ERR_PERIOD',
  'RECORDS_ERR_PRODUCT',
  'RECORDS_ERR_OVERLAP',
] as const
export type EntryErrorCode = (typeof ENTRY_ERROR_CODES)[number]

export interface EntryProblem {
  /** Position in a bulk submission (0-based); absent for a single entry. */
  index?: number
  /** The field at fault (`amount`, `ncvKjPerUnit`, `line` …). */
  field: string
  code: EntryErrorCode
  message: string
  /** RECORDS_ERR_OVERLAP: the id of the current entry it overlaps. */
  otherId?: string
}

const CARRIER_CODES: Record<CarrierInputProblem['code'], EntryErrorCode> = {
  UNKNOWN_CARRIER: 'RECORDS_ERR_CARRIER',
  BAD_AMOUNT: 'RECORDS_ERR_AMOUNT',
  BAD_UNIT: 'RECORDS_ERR_UNIT',
  NCV_NOT_ACCEPTED: 'RECORDS_ERR_NCV',
  NCV_OUT_OF_RANGE: 'RECORDS_ERR_NCV',
}

/** The error of a refused submission: the first problem's code and field, every problem in `details.problems`. */
export function entriesError(problems: readonly EntryProblem[]): PlantWattError {
  const first = problems[0] ?? { field: '', code: 'RECORDS_ERR_SCHEMA', message: 'no problem given' }
  const where = first.index === undefined ? '' : `entry ${first.index}: `
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s); nothing was written)` : ' (nothing was written)'
  const text = first.message.startsWith(`${first.field} `) ? first.message : `${first.field}: ${first.message}`
  return new PlantWattError(first.code, `${where}${text}${more}`, {
    details: {
      field: first.field,
      ...(first.index === undefined ? {} : { index: first.index }),
      ...(first.otherId === undefined ? {} : { otherId: first.otherId }),
      problems,
    },
  })
}

/** Each field a typebox schema refuses in `value`: the field's path (`amount`, `entries.0.unit`) and what is wrong. */
export function schemaFieldProblems(schema: TSchema, value: unknown): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = []
  const add = (field: string, message: string): void => {
    if (!out.some((p) => p.field === field)) out.push({ field, message })
  }
  const path = (instancePath: string, key?: string): string => [...instancePath.split('/').filter(Boolean), ...(key === undefined ? [] : [key])].join('.')
  for (const e of Value.Errors(schema, value)) {
    const params = e.params as { requiredProperties?: unknown; additionalProperties?: unknown }
    if (e.keyword === 'required' && Array.isArray(params.requiredProperties)) {
      for (const k of params.requiredProperties) add(path(e.instancePath, String(k)), 'is required')
    } else if (e.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
      for (const k of params.additionalProperties) add(path(e.instancePath, String(k)), 'is not a known field')
    } else if (e.keyword !== 'boolean') add(path(e.instancePath) || 'body', e.message)
  }
  return out
}

/** The schema problems of a raw input, as RECORDS_ERR_SCHEMA naming the field; the typed input (defaults filled) when none. */
export function parseEntryInput(raw: unknown): { input?: EntryInput; problems: EntryProblem[] } {
  const kind = (raw as { kind?: unknown } | null)?.kind
  if (kind !== 'energy' && kind !== 'production') {
    return { problems: [{ field: 'kind', code: 'RECORDS_ERR_SCHEMA', message: `kind must be energy or production, got ${JSON.stringify(kind)}` }] }
  }
  const schema = kind === 'energy' ? EnergyEntryInputSchema : ProductionEntryInputSchema
  const value = Value.Default(schema, Value.Clone(raw))
  const problems: EntryProblem[] = schemaFieldProblems(schema, value).map((p) => ({ ...p, code: 'RECORDS_ERR_SCHEMA' }))
  return problems.length > 0 ? { problems } : { input: value as EntryInput, problems }
}

/** Problems of the scope: it must exist in the plant model; a production entry's line must have a product in that unit. */
function scopeProblems(e: EntryInput, model: PlantModel): EntryProblem[] {
  const enterprise = model.enterprises.find((x) => x.id === e.enterprise)
  if (!enterprise) return [{ field: 'enterprise', code: 'RECORDS_ERR_SCOPE', message: `no enterprise ${JSON.stringify(e.enterprise)} in the plant model` }]
  if (e.site === undefined) {
    return e.line === undefined ? [] : [{ field: 'site', code: 'RECORDS_ERR_SCOPE', message: 'a line needs its site' }]
  }
  const site = enterprise.sites.find((s) => s.id === e.site)
  if (!site) return [{ field: 'site', code: 'RECORDS_ERR_SCOPE', message: `no site ${JSON.stringify(e.site)} in enterprise ${e.enterprise}` }]
  if (e.line === undefined) return []
  const line = site.lines.find((l) => l.id === e.line)
  if (!line) return [{ field: 'line', code: 'RECORDS_ERR_SCOPE', message: `no line ${JSON.stringify(e.line)} in ${e.enterprise}/${e.site}` }]
  if (e.kind !== 'production') return []
  if (!line.product)
    return [{ field: 'line', code: 'RECORDS_ERR_PRODUCT', message: `line ${e.enterprise}/${e.site}/${e.line} has no product in the plant model` }]
  if (e.unit !== line.product.unit)
    return [
      {
        field: 'unit',
        code: 'RECORDS_ERR_UNIT',
        message: `the product of ${e.line} (${line.product.id}) is counted in ${line.product.unit}, not ${JSON.stringify(e.unit)}`,
      },
    ]
  return []
}

function periodProblems(e: EntryInput): EntryProblem[] {
  if (!(e.start < e.end)) return [{ field: 'end', code: 'RECORDS_ERR_PERIOD', message: `end (${e.end}) must be after start (${e.start})` }]
  if (e.end - e.start > MAX_RECORD_SPAN_MS)
    return [{ field: 'end', code: 'RECORDS_ERR_PERIOD', message: `a period lasts at most ${MAX_RECORD_SPAN_MS / 86_400_000} days` }]
  return []
}

/** Every rule problem of one typed entry (schema already passed); the overlap check is the book's. */
export function entryRuleProblems(e: EntryInput, model: PlantModel): EntryProblem[] {
  const problems: EntryProblem[] = []
  if (e.kind === 'energy') {
    const input = { carrier: e.carrier, amount: e.amount, unit: e.unit, ...(e.ncvKjPerUnit !== undefined ? { ncvKjPerUnit: e.ncvKjPerUnit } : {}) }
    for (const p of carrierInputProblems(input)) problems.push({ field: p.field, code: CARRIER_CODES[p.code], message: p.message })
  } else if (!Number.isFinite(e.amount) || e.amount < 0) {
    problems.push({ field: 'amount', code: 'RECORDS_ERR_AMOUNT', message: `amount must be a finite number ≥ 0, got ${e.amount}` })
  }
  problems.push(...periodProblems(e), ...scopeProblems(e, model))
  return problems
}

/** Parses and checks a list of raw inputs; problems carry their index when there is more than one. */
export function checkEntryInputs(raws: readonly unknown[], model: PlantModel): { inputs: EntryInput[]; problems: EntryProblem[] } {
  const inputs: EntryInput[] = []
  const problems: EntryProblem[] = []
  raws.forEach((raw, i) => {
    const { input, problems: schema } = parseEntryInput(raw)
    const found = input ? entryRuleProblems(input, model) : schema
    for (const p of found) problems.push(raws.length > 1 ? { index: i, ...p } : p)
    if (input) inputs.push(input)
  })
  return { inputs, problems }
}
