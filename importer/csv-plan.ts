import { PlantWattError } from '../core/errors.ts'
import { QUANTITIES, isQuantity, type Quantity, type QuantityInfo } from '../core/quantities.ts'
import type { ImportOptions } from './options.ts'

/** Columns whose name says the stamp marks the interval's start, or its end (interval layout). */
const START_NAMES = ['ts_start', 'interval_start', 'start_time', 'period_start', 'timestamp_start']
const END_NAMES = ['ts_end', 'interval_end', 'end_time', 'period_end', 'timestamp_end']
const TIMESTAMP_NAMES = ['timestamp', 'time', 'ts', 'datetime', 'date_time', 'date', ...START_NAMES, ...END_NAMES]
const ENERGY_NAMES = ['usage_kwh', 'kwh', 'energy_kwh', 'interval_kwh', 'consumption_kwh']

/** A column of the header: its name as written (trimmed) and its index. */
export interface Column {
  name: string
  index: number
}

/** An extra column of the interval layout, mapped to a quantity (`columns` option). */
export interface ExtraColumn extends Column {
  quantity: Quantity
  scale: number
  cumulative: boolean
}

/** The header read against the options: which layout and which column holds what. */
export interface CsvPlan {
  layout: 'long' | 'interval'
  header: string[]
  timestamp: Column
  device?: Column
  quantity?: Column
  value?: Column
  quality?: Column
  energy?: Column
  extras: ExtraColumn[]
  /**
   * What the timestamp column's name says it marks (`ts_start`, `interval_start` … → start; `ts_end`,
   * `interval_end` … → end); absent for a neutral name (`timestamp`), when the `timestampIs` option decides.
   */
  timestampMarks?: 'start' | 'end'
  /** Interval layout: also write the interval's mean active power (`intervalPower: mean` and no column mapped to active_power_kw). */
  meanPower: boolean
}

function layoutError(message: string, header: readonly string[]): PlantWattError {
  return new PlantWattError('IMPORT_ERR_LAYOUT', `${message} (header: ${header.map((h) => JSON.stringify(h)).join(', ')})`, { details: { header } })
}

/** Reads the header: detects the layout (or checks the one given) and finds every column. */
export function planFromHeader(header: readonly string[], options: ImportOptions): CsvPlan {
  const names = header.map((h) => h.trim())
  const lower = names.map((h) => h.toLowerCase())
  const find = (name: string): Column | undefined => {
    const i = lower.indexOf(name.toLowerCase())
    return i < 0 ? undefined : { name: names[i] as string, index: i }
  }
  const firstOf = (candidates: readonly string[]): Column | undefined => {
    for (const c of candidates) {
      const col = find(c)
      if (col) return col
    }
    return undefined
  }
  const must = (name: string, what: string): Column => {
    const col = find(name)
    if (!col) throw layoutError(`no ${what} column ${JSON.stringify(name)}`, names)
    return col
  }
  const timestamp = options.timestampColumn !== undefined ? must(options.timestampColumn, 'timestamp') : firstOf(TIMESTAMP_NAMES)
  if (!timestamp) throw layoutError(`no timestamp column (looked for ${TIMESTAMP_NAMES.join(', ')}; set timestampColumn)`, names)
  const quantity = find(options.quantityColumn)
  const value = find(options.valueColumn)
  const energy = options.energyColumn !== undefined ? find(options.energyColumn) : firstOf(ENERGY_NAMES)
  let layout: 'long' | 'interval'
  if (options.layout === 'auto') {
    if (quantity && value) layout = 'long'
    else if (energy) layout = 'interval'
    else {
      throw layoutError(
        `cannot tell the layout: long needs columns ${options.quantityColumn} and ${options.valueColumn}, interval needs a kWh column (${options.energyColumn ?? ENERGY_NAMES.join(', ')}; set energyColumn)`,
        names,
      )
    }
  } else layout = options.layout
  const device = find(options.deviceColumn)
  if (layout === 'long') {
    if (!quantity || !value) throw layoutError(`layout long needs columns ${options.quantityColumn} and ${options.valueColumn}`, names)
    if (!device) throw layoutError(`layout long needs a device column ${JSON.stringify(options.deviceColumn)}`, names)
    return { layout, header: names, timestamp, device, quantity, value, quality: find(options.qualityColumn), extras: [], meanPower: false }
  }
  if (!energy)
    throw layoutError(`layout interval needs a kWh-per-interval column (${options.energyColumn ?? ENERGY_NAMES.join(', ')}; set energyColumn)`, names)
  if (!device && options.device === undefined)
    throw layoutError(`layout interval needs a device column ${JSON.stringify(options.deviceColumn)} or the device option`, names)
  const extras: ExtraColumn[] = []
  for (const [name, mapping] of Object.entries(options.columns)) {
    const col = must(name, 'mapped')
    if (!isQuantity(mapping.quantity)) {
      throw new PlantWattError(
        'IMPORT_ERR_OPTIONS',
        `column ${JSON.stringify(name)} is mapped to ${JSON.stringify(mapping.quantity)}, which is not a canonical quantity`,
      )
    }
    if (mapping.quantity === 'energy_import_kwh') {
      throw new PlantWattError('IMPORT_ERR_OPTIONS', `column ${JSON.stringify(name)}: energy_import_kwh is built from the kWh column (${energy.name})`)
    }
    extras.push({ ...col, quantity: mapping.quantity, scale: mapping.scale, cumulative: (QUANTITIES[mapping.quantity] as QuantityInfo).cumulative === true })
  }
  const marks = START_NAMES.includes(timestamp.name.toLowerCase()) ? 'start' : END_NAMES.includes(timestamp.name.toLowerCase()) ? 'end' : undefined
  const meanPower = options.intervalPower === 'mean' && !extras.some((x) => x.quantity === 'active_power_kw')
  return { layout, header: names, timestamp, ...(device ? { device } : {}), energy, extras, ...(marks ? { timestampMarks: marks } : {}), meanPower }
}
