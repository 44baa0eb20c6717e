import Type, { type Static } from 'typebox'
import { ID_PATTERN } from '../core/topic.ts'
import type { RecordBody, StoredRecord } from './store.ts'

/**
 * Periodic entries for what no meter measures: an energy amount of a carrier over a period (the day's
 * coal from the weighbridge with its measured calorific value, a fuel delivery, steam bought) and a
 * production figure (from ERP). Kept in the record store as kinds `energy_entry` and
 * `production_entry`: every change is a revision with who, when and why.
 */

export const ENERGY_KIND = 'energy_entry'
export const PRODUCTION_KIND = 'production_entry'
export const ENTRY_KINDS = { energy: ENERGY_KIND, production: PRODUCTION_KIND } as const
export type EntryKind = keyof typeof ENTRY_KINDS

/** An energy amount entered for a scope (enterprise, site or line) and period. */
export interface EnergyEntry {
  id: string
  revision: number
  enterprise: string
  site?: string
  line?: string
  /** A carrier id of `analytics/carriers.ts` (raw-coal, natural-gas, electricity …). */
  carrier: string
  direction: 'import' | 'export'
  amount: number
  /** One of the carrier's entry units (`CarrierInfo.entryUnits`): its own unit, or t for a kg carrier … */
  unit: string
  /** Epoch ms, inclusive. */
  start: number
  /** Epoch ms, exclusive. */
  end: number
  /** Measured low calorific value (实测低位发热量), kJ per `unit` of amount. */
  ncvKjPerUnit?: number
  /** Where the figure comes from: weighbridge, delivery note, ERP … */
  source: string
  enteredBy: string
  enteredAt: number
  reason?: string
}

/** A production figure of a line (its product's unit) for a period. */
export interface ProductionEntry {
  id: string
  revision: number
  enterprise: string
  site: string
  line: string
  amount: number
  unit: 't' | 'pcs'
  start: number
  end: number
  source: string
  enteredBy: string
  enteredAt: number
  reason?: string
}

/** What the comprehensive-energy computation reads: current entries (latest revision, void left out) overlapping [start, end). */
export interface RecordReader {
  energyEntries(q: { enterprise: string; site?: string; line?: string; start: number; end: number }): Promise<EnergyEntry[]>
  productionEntries(q: { enterprise: string; site?: string; line?: string; start: number; end: number }): Promise<ProductionEntry[]>
}

const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description })
const Instant = (description: string) => Type.Integer({ description: `${description}, epoch ms` })
const Source = Type.String({
  minLength: 1,
  maxLength: 200,
  default: 'manual',
  description: 'where the figure comes from: weighbridge, delivery note, ERP …; default manual',
})

/**
 * An energy entry as submitted. Carrier, unit, amount and calorific value are checked by rules
 * (coded per field: RECORDS_ERR_CARRIER, _UNIT, _AMOUNT, _NCV), not by this schema.
 */
export const EnergyEntryInputSchema = Type.Object(
  {
    kind: Type.Literal('energy'),
    enterprise: Id('enterprise'),
    site: Type.Optional(Id('site (absent: the enterprise as a whole)')),
    line: Type.Optional(Id('line (needs site; absent: the site as a whole)')),
    carrier: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'carrier id (analytics/carriers.ts): raw-coal, natural-gas, coke, diesel, steam-low-pressure …',
    }),
    direction: Type.Union([Type.Literal('import'), Type.Literal('export')], {
      default: 'import',
      description: 'import (bought, received) or export (sold, given off)',
    }),
    amount: Type.Number({ description: 'amount in unit, ≥ 0' }),
    unit: Type.String({ minLength: 1, maxLength: 16, description: "one of the carrier's entry units: its own, or t for a kg carrier (raw coal in t)" }),
    start: Instant('start of the period, inclusive'),
    end: Instant('end of the period, exclusive'),
    ncvKjPerUnit: Type.Optional(
      Type.Number({
        description: 'measured low calorific value (实测低位发热量), kJ per unit of amount; fuels only, within the physical range of the carrier',
      }),
    ),
    source: Source,
  },
  { additionalProperties: false },
)

export const ProductionEntryInputSchema = Type.Object(
  {
    kind: Type.Literal('production'),
    enterprise: Id('enterprise'),
    site: Id('site'),
    line: Id('line: it must have a product in the plant model'),
    amount: Type.Number({ description: 'amount in unit, ≥ 0' }),
    unit: Type.String({ minLength: 1, maxLength: 16, description: "the line product's unit: t or pcs" }),
    start: Instant('start of the period, inclusive'),
    end: Instant('end of the period, exclusive'),
    source: Source,
  },
  { additionalProperties: false },
)

export const EntryInputSchema = Type.Union([EnergyEntryInputSchema, ProductionEntryInputSchema])
export type EnergyEntryInput = Static<typeof EnergyEntryInputSchema>
export type ProductionEntryInput = Static<typeof ProductionEntryInputSchema>
export type EntryInput = EnergyEntryInput | ProductionEntryInput

/** An entry as read: its fields and kind. */
export type Entry = (EnergyEntry & { kind: 'energy' }) | (ProductionEntry & { kind: 'production' })

/** The scope tags of an entry (what overlap and filters compare). */
export function scopeTags(e: { enterprise: string; site?: string | undefined; line?: string | undefined }): Record<string, string> {
  const tags: Record<string, string> = { enterprise: e.enterprise }
  if (e.site !== undefined) tags.site = e.site
  if (e.line !== undefined) tags.line = e.line
  return tags
}

/** The record body of an entry input. */
export function bodyOfEntry(e: EntryInput): RecordBody {
  if (e.kind === 'production') {
    return { tags: scopeTags(e), start: e.start, end: e.end, data: { amount: e.amount, unit: e.unit, source: e.source } }
  }
  const data: Record<string, string | number> = { amount: e.amount, unit: e.unit, source: e.source }
  if (e.ncvKjPerUnit !== undefined) data.ncvKjPerUnit = e.ncvKjPerUnit
  return { tags: { ...scopeTags(e), carrier: e.carrier, direction: e.direction }, start: e.start, end: e.end, data }
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '')
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN)

/** The entry a stored revision holds (the revision's author and time as enteredBy / enteredAt). */
export function entryOfRecord(r: StoredRecord): Entry | undefined {
  const { tags, data, start, end } = r.body
  const enterprise = tags.enterprise
  if (enterprise === undefined) return undefined
  const common = {
    id: r.id,
    revision: r.revision,
    enterprise,
    amount: num(data.amount),
    start,
    end,
    source: text(data.source),
    enteredBy: r.user,
    enteredAt: r.at,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  }
  if (r.kind === PRODUCTION_KIND) {
    const { site, line } = tags
    const unit = data.unit
    if (site === undefined || line === undefined || (unit !== 't' && unit !== 'pcs')) return undefined
    return { kind: 'production', ...common, site, line, unit }
  }
  if (r.kind !== ENERGY_KIND || tags.carrier === undefined) return undefined
  const e: EnergyEntry & { kind: 'energy' } = {
    kind: 'energy',
    ...common,
    carrier: tags.carrier,
    direction: tags.direction === 'export' ? 'export' : 'import',
    unit: text(data.unit),
  }
  if (tags.site !== undefined) e.site = tags.site
  if (tags.line !== undefined) e.line = tags.line
  if (typeof data.ncvKjPerUnit === 'number') e.ncvKjPerUnit = data.ncvKjPerUnit
  return e
}

/** The input that would write this entry again (for a revision that changes one field). */
export function inputOfEntry(e: Entry): EntryInput {
  if (e.kind === 'production') {
    return {
      kind: 'production',
      enterprise: e.enterprise,
      site: e.site,
      line: e.line,
      amount: e.amount,
      unit: e.unit,
      start: e.start,
      end: e.end,
      source: e.source,
    }
  }
  const input: EnergyEntryInput = {
    kind: 'energy',
    enterprise: e.enterprise,
    carrier: e.carrier,
    direction: e.direction,
    amount: e.amount,
    unit: e.unit,
    start: e.start,
    end: e.end,
    source: e.source,
  }
  if (e.site !== undefined) input.site = e.site
  if (e.line !== undefined) input.line = e.line
  if (e.ncvKjPerUnit !== undefined) input.ncvKjPerUnit = e.ncvKjPerUnit
  return input
}
