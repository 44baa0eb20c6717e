import type { Quantity } from '../core/quantities.ts'
import { analyticsError } from './errors.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'
import type { CoalTable } from './reference/schemas.ts'

/**
 * Energy carriers of comprehensive energy consumption (GB/T 2589-2020): the ids are the carrier
 * keys of the coal-coefficient table. For each carrier: the unit its coefficient applies to, the
 * units an entry may be given in (with the factor to the carrier unit), the canonical counters that
 * meter it (import / export), and — for fuels — the physical range of a measured low calorific
 * value (实测低位发热量), which then replaces the default coefficient.
 */

/** 1 kgce = 7000 kcal(IT) × 4.1868 kJ/kcal = 29 307.6 kJ (GB/T 2589-2020, 3.x: 29 307 kJ rounded). */
export const KJ_PER_KGCE = 29_307.6

export type CarrierKind = 'electricity' | 'fuel' | 'heat' | 'working-medium' | 'recovered-gas'

export interface CarrierMeter {
  quantity: Quantity
  direction: 'import' | 'export'
  /** carrier-unit amount per unit of the counter (coal_t counts t, raw-coal is per kg: 1000) */
  toCarrierUnit: number
}

export interface CarrierInfo {
  id: string
  name: string
  nameZh: string
  kind: CarrierKind
  /** the unit the coal-table coefficient applies to */
  unit: string
  /** accepted entry units → factor to the carrier unit */
  entryUnits: Readonly<Record<string, number>>
  meters: readonly CarrierMeter[]
  /** physical range of a measured NCV in kJ per carrier unit; absent: an NCV is not accepted */
  ncvKjPerUnit?: { min: number; max: number }
}

const MASS = { kg: 1, t: 1000 } as const

/** The carriers PlantWatt knows; every id has a coefficient in the shipped GB/T 2589 table. */
export const CARRIERS: readonly CarrierInfo[] = [
  {
    id: 'electricity',
    name: 'electricity',
    nameZh: '电力',
    kind: 'electricity',
    unit: 'kWh',
    entryUnits: { kWh: 1, MWh: 1000 },
    meters: [
      { quantity: 'energy_import_kwh', direction: 'import', toCarrierUnit: 1 },
      { quantity: 'energy_export_kwh', direction: 'export', toCarrierUnit: 1 },
    ],
  },
  {
    id: 'natural-gas',
    name: 'natural gas',
    nameZh: '天然气',
    kind: 'fuel',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [{ quantity: 'gas_m3', direction: 'import', toCarrierUnit: 1 }],
    ncvKjPerUnit: { min: 28_000, max: 45_000 },
  },
  {
    id: 'raw-coal',
    name: 'raw coal',
    nameZh: '原煤',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [{ quantity: 'coal_t', direction: 'import', toCarrierUnit: 1000 }],
    // lignite ≈ 8–15 MJ/kg … anthracite ≈ 25–32 MJ/kg; below 5 MJ/kg it is not a fuel coal
    ncvKjPerUnit: { min: 5_000, max: 33_000 },
  },
  {
    id: 'coke',
    name: 'coke',
    nameZh: '焦炭',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [{ quantity: 'coke_t', direction: 'import', toCarrierUnit: 1000 }],
    ncvKjPerUnit: { min: 24_000, max: 32_000 },
  },
  {
    id: 'fuel-oil',
    name: 'fuel oil',
    nameZh: '燃料油',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [{ quantity: 'fuel_oil_t', direction: 'import', toCarrierUnit: 1000 }],
    ncvKjPerUnit: { min: 38_000, max: 44_000 },
  },
  {
    id: 'diesel',
    name: 'diesel',
    nameZh: '柴油',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [{ quantity: 'diesel_t', direction: 'import', toCarrierUnit: 1000 }],
    ncvKjPerUnit: { min: 41_000, max: 44_000 },
  },
  {
    id: 'gasoline',
    name: 'gasoline',
    nameZh: '汽油',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [],
    ncvKjPerUnit: { min: 42_000, max: 45_000 },
  },
  {
    id: 'lpg',
    name: 'liquefied petroleum gas',
    nameZh: '液化石油气',
    kind: 'fuel',
    unit: 'kg',
    entryUnits: MASS,
    meters: [],
    ncvKjPerUnit: { min: 45_000, max: 51_000 },
  },
  {
    id: 'heat',
    name: 'heat',
    nameZh: '热力',
    kind: 'heat',
    unit: 'MJ',
    entryUnits: { MJ: 1, GJ: 1000, kWh: 3.6 },
    meters: [
      { quantity: 'heat_gj', direction: 'import', toCarrierUnit: 1000 },
      { quantity: 'heat_kwh', direction: 'import', toCarrierUnit: 3.6 },
    ],
  },
  {
    id: 'steam-low-pressure',
    name: 'low-pressure steam',
    nameZh: '低压蒸汽',
    kind: 'heat',
    unit: 'kg',
    entryUnits: MASS,
    meters: [{ quantity: 'steam_t', direction: 'import', toCarrierUnit: 1000 }],
  },
  {
    id: 'oxygen',
    name: 'oxygen',
    nameZh: '氧气',
    kind: 'working-medium',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [{ quantity: 'oxygen_m3', direction: 'import', toCarrierUnit: 1 }],
  },
  {
    id: 'compressed-air',
    name: 'compressed air',
    nameZh: '压缩空气',
    kind: 'working-medium',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [{ quantity: 'compressed_air_m3', direction: 'import', toCarrierUnit: 1 }],
  },
  {
    id: 'fresh-water',
    name: 'fresh water',
    nameZh: '新水',
    kind: 'working-medium',
    unit: 't',
    entryUnits: { t: 1, m3: 1 },
    meters: [{ quantity: 'water_m3', direction: 'import', toCarrierUnit: 1 }],
  },
  {
    id: 'blast-furnace-gas',
    name: 'blast furnace gas',
    nameZh: '高炉煤气',
    kind: 'recovered-gas',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [],
    ncvKjPerUnit: { min: 2_800, max: 4_600 },
  },
  {
    id: 'converter-gas',
    name: 'converter gas (LDG)',
    nameZh: '转炉煤气',
    kind: 'recovered-gas',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [],
    ncvKjPerUnit: { min: 5_500, max: 10_500 },
  },
  {
    id: 'coke-oven-gas',
    name: 'coke oven gas',
    nameZh: '焦炉煤气',
    kind: 'recovered-gas',
    unit: 'm3',
    entryUnits: { m3: 1, '10^4m3': 10_000 },
    meters: [],
    ncvKjPerUnit: { min: 15_000, max: 20_000 },
  },
]

const BY_ID = new Map(CARRIERS.map((c) => [c.id, c]))

/** The carrier with this id, or undefined. */
export function carrierInfo(id: string): CarrierInfo | undefined {
  return BY_ID.get(id)
}

/** The carrier metered by a canonical counter, with its direction and scale (undefined: none). */
export function carrierOfQuantity(quantity: string): { carrier: CarrierInfo; meter: CarrierMeter } | undefined {
  for (const carrier of CARRIERS) {
    const meter = carrier.meters.find((m) => m.quantity === quantity)
    if (meter) return { carrier, meter }
  }
  return undefined
}

/** Every counter quantity that meters some carrier. */
export const CARRIER_QUANTITIES: readonly Quantity[] = CARRIERS.flatMap((c) => c.meters.map((m) => m.quantity))

/** An energy amount as an entry gives it (records/ EnergyEntry carries these fields). */
export interface CarrierAmountInput {
  carrier: string
  amount: number
  unit: string
  ncvKjPerUnit?: number
}

export interface CarrierInputProblem {
  field: 'carrier' | 'amount' | 'unit' | 'ncvKjPerUnit'
  code: 'UNKNOWN_CARRIER' | 'BAD_AMOUNT' | 'BAD_UNIT' | 'NCV_NOT_ACCEPTED' | 'NCV_OUT_OF_RANGE'
  message: string
}

/** Every problem of an entry's carrier, amount, unit and NCV (empty when it is valid). */
export function carrierInputProblems(e: CarrierAmountInput): CarrierInputProblem[] {
  const c = BY_ID.get(e.carrier)
  const problems: CarrierInputProblem[] = []
  if (!Number.isFinite(e.amount) || e.amount < 0) {
    problems.push({ field: 'amount', code: 'BAD_AMOUNT', message: `amount must be a finite number ≥ 0, got ${e.amount}` })
  }
  if (!c) {
    problems.push({
      field: 'carrier',
      code: 'UNKNOWN_CARRIER',
      message: `unknown carrier ${JSON.stringify(e.carrier)} (known: ${CARRIERS.map((x) => x.id).join(', ')})`,
    })
    return problems
  }
  const factor = c.entryUnits[e.unit]
  if (factor === undefined) {
    problems.push({
      field: 'unit',
      code: 'BAD_UNIT',
      message: `unit ${JSON.stringify(e.unit)} is not accepted for ${c.id} (accepted: ${Object.keys(c.entryUnits).join(', ')})`,
    })
  }
  if (e.ncvKjPerUnit !== undefined) {
    if (!c.ncvKjPerUnit) {
      problems.push({ field: 'ncvKjPerUnit', code: 'NCV_NOT_ACCEPTED', message: `${c.id} has no calorific value: convert it with its coefficient` })
    } else if (factor !== undefined) {
      const perCarrierUnit = e.ncvKjPerUnit / factor
      const r = c.ncvKjPerUnit
      if (!Number.isFinite(perCarrierUnit) || perCarrierUnit < r.min || perCarrierUnit > r.max) {
        problems.push({
          field: 'ncvKjPerUnit',
          code: 'NCV_OUT_OF_RANGE',
          message: `calorific value ${e.ncvKjPerUnit} kJ/${e.unit} = ${round(perCarrierUnit)} kJ/${c.unit} is outside the physical range of ${c.id}: ${r.min}–${r.max} kJ/${c.unit}`,
        })
      }
    }
  }
  return problems
}

/** Throws ANALYTICS_ERR_INPUT naming the first bad field (`details` lists every problem). */
export function assertCarrierInput(e: CarrierAmountInput, where = 'entry'): CarrierInfo {
  const problems = carrierInputProblems(e)
  const first = problems[0]
  if (first) throw analyticsError('ANALYTICS_ERR_INPUT', `${where}.${first.field}: ${first.message}`, problems)
  return BY_ID.get(e.carrier) as CarrierInfo
}

/** How an amount was converted to kgce. */
export interface ConversionUsed {
  method: 'coefficient' | 'measured-ncv'
  /** kgce per carrier unit actually applied */
  kgcePerUnit: number
  unit: string
  /** coal-table version and source, or the measured NCV */
  tableVersion: string
  source: string
  ncvKjPerUnit?: number
  /** false: the coefficient could not be traced to the standard's text */
  verified: boolean
}

export interface CarrierKgce {
  carrier: string
  /** amount in the carrier unit */
  amount: number
  unit: string
  kgce: number
  conversion: ConversionUsed
}

/**
 * kgce of an amount: a measured NCV (kJ per entry unit) replaces the table coefficient
 * (kgce = amount × NCV / 29 307.6 kJ); otherwise amount × coefficient. Validates the input.
 */
export function carrierKgce(e: CarrierAmountInput, table: CoalTable = DEFAULT_REFERENCE.coal): CarrierKgce {
  const c = assertCarrierInput(e)
  const factor = c.entryUnits[e.unit] as number
  const amount = e.amount * factor
  if (e.ncvKjPerUnit !== undefined) {
    const kjPerCarrierUnit = e.ncvKjPerUnit / factor
    const kgcePerUnit = kjPerCarrierUnit / KJ_PER_KGCE
    return {
      carrier: c.id,
      amount,
      unit: c.unit,
      kgce: amount * kgcePerUnit,
      conversion: {
        method: 'measured-ncv',
        kgcePerUnit,
        unit: c.unit,
        tableVersion: table.version,
        source: `measured low calorific value ${round(kjPerCarrierUnit)} kJ/${c.unit} ÷ ${KJ_PER_KGCE} kJ/kgce (GB/T 2589-2020)`,
        ncvKjPerUnit: kjPerCarrierUnit,
        verified: true,
      },
    }
  }
  const conversion = coefficientOf(c, table)
  return { carrier: c.id, amount, unit: c.unit, kgce: amount * conversion.kgcePerUnit, conversion }
}

/** The table coefficient of a carrier (ANALYTICS_ERR_FACTOR when missing or in another unit). */
export function coefficientOf(c: CarrierInfo, table: CoalTable = DEFAULT_REFERENCE.coal): ConversionUsed {
  const row = table.coefficients.find((x) => x.carrier === c.id)
  if (!row) throw analyticsError('ANALYTICS_ERR_FACTOR', `no coal-equivalent coefficient for carrier ${c.id} in ${table.version}: configure it`)
  if (row.unit !== c.unit) {
    throw analyticsError('ANALYTICS_ERR_FACTOR', `the coefficient of ${c.id} in ${table.version} is per ${row.unit}; PlantWatt expects per ${c.unit}`)
  }
  return {
    method: 'coefficient',
    kgcePerUnit: row.kgcePerUnit,
    unit: row.unit,
    tableVersion: table.version,
    source: row.source ?? table.source,
    verified: row.verified !== false,
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
