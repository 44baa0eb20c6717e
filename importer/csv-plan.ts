import { PlantWattError } from '../core/errors.ts'
import { QUANTITIES, isQuantity, type Quantity, type QuantityInfo } from '../core/quantities.ts'
import type { ImportOptions } from './options.ts'

/**
 * Header names are compared normalised (`normalizeHeader`): case, spaces, hyphens and full-width
 * parentheses do not matter, and a "(kWh)" unit suffix reads as "_kwh" — so `Interval Start`,
 * `interval-start` and `INTERVAL_START` are one name, and `电量（kWh）` is `电量_kwh`.
 *
 * Timestamp columns come in tiers; without `timestampColumn` the column of the first tier the header
 * has is the timestamp (an interval-start column beats a date column: `date,ts_start,kwh` is stamped
 * from ts_start). Chinese names as utility and meter-reading exports write them (开始时间/起始时间 …
 * 结束时间/截止时间, 时间/日期时间/数据时间/采集时间, 日期).
 */
const TIMESTAMP_TIERS = [
  { marks: 'start', names: ['ts_start', 'interval_start', 'start_time', 'period_start', 'timestamp_start', 'start', '开始时间', '起始时间'] },
  { marks: 'end', names: ['ts_end', 'interval_end', 'end_time', 'period_end', 'timestamp_end', 'end', '结束时间', '截止时间'] },
  { marks: undefined, names: ['timestamp', 'datetime', 'date_time', 'time', 'ts', '时间', '日期时间', '数据时间', '采集时间'] },
  { marks: undefined, names: ['date', '日期'] },
] as const
/** Names that may hold only the time of day: beside a date column they are a split stamp, refused. */
const TIME_OF_DAY_NAMES = ['time', '时间']
const DATE_NAMES: readonly string[] = TIMESTAMP_TIERS[3].names
const TIMESTAMP_NAMES = TIMESTAMP_TIERS.flatMap((t) => t.names)
/**
 * kWh-per-interval columns. The Chinese names only with their unit (`电量(kWh)`, `用电量（kWh）`,
 * `有功电量(kWh)`): without it the unit is not known (万kWh and MWh are common in reports). A
 * cumulative register (`正向有功总电能`) is not an interval column.
 */
const ENERGY_NAMES = ['usage_kwh', 'kwh', 'energy_kwh', 'interval_kwh', 'consumption_kwh', '电量_kwh', '用电量_kwh', '有功电量_kwh']

/** A header name as compared: lower case, full-width parentheses as ASCII, spaces and hyphens as `_`, "(kwh)" as "_kwh". */
export function normalizeHeader(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/（/g, '(')
    .replace(/）/g, ')')
    .replace(/\s*\(\s*kwh\s*\)$/, '_kwh')
    .replace(/[\s-]+/g, '_')
}

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
  const normal = names.map(normalizeHeader)
  const find = (name: string): Column | undefined => {
    const i = normal.indexOf(normalizeHeader(name))
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
  const timestamp = options.timestampColumn !== undefined ? must(options.timestampColumn, 'timestamp') : timestampOf(names, normal)
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
  const marks = TIMESTAMP_TIERS.find((t) => (t.names as readonly string[]).includes(normalizeHeader(timestamp.name)))?.marks
  const meanPower = options.intervalPower === 'mean' && !extras.some((x) => x.quantity === 'active_power_kw')
  return { layout, header: names, timestamp, ...(device ? { device } : {}), energy, extras, ...(marks ? { timestampMarks: marks } : {}), meanPower }
}

/**
 * The timestamp column when the options name none: the column of the first tier present. Refused
 * (IMPORT_ERR_LAYOUT naming the columns) rather than guessed: two columns of that tier
 * (`timestamp,time`), or a time-of-day name beside a date column (`date,time`, `日期,时间`: a stamp
 * split in two columns, which the importer does not join).
 */
function timestampOf(names: readonly string[], normal: readonly string[]): Column {
  const quoted = (cols: readonly Column[]) => cols.map((c) => JSON.stringify(c.name)).join(' and ')
  for (const tier of TIMESTAMP_TIERS) {
    const cols: Column[] = []
    normal.forEach((n, index) => {
      if ((tier.names as readonly string[]).includes(n)) cols.push({ name: names[index] as string, index })
    })
    const [first] = cols
    if (first === undefined) continue
    if (cols.length > 1) throw layoutError(`columns ${quoted(cols)} could each be the timestamp; set timestampColumn`, names)
    const date = normal.findIndex((n) => DATE_NAMES.includes(n))
    if (TIME_OF_DAY_NAMES.includes(normal[first.index] as string) && date >= 0) {
      const split = [{ name: names[date] as string, index: date }, first]
      throw layoutError(
        `columns ${quoted(split)} look like a date and a time of day in two columns; the importer reads one timestamp column: join them, or set timestampColumn if ${JSON.stringify(first.name)} holds the whole stamp`,
        names,
      )
    }
    return first
  }
  throw layoutError(`no timestamp column (looked for ${TIMESTAMP_NAMES.join(', ')}; set timestampColumn)`, names)
}
