import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { parse, type CsvError } from 'csv-parse'
import { PlantWattError, isPlantWattError } from '../core/errors.ts'
import { MAX_TS, MIN_TS, QUALITIES, type Quality } from '../core/payload.ts'
import { deviceKey, listPlantDevices, type PlantDeviceEntry, type PlantModel } from '../core/plant.ts'
import { QUANTITIES, isQuantity, type Quantity, type QuantityInfo } from '../core/quantities.ts'
import { addressTags, isValidId, type DeviceAddress } from '../core/topic.ts'
import { assertTimeZone, wallToInstant } from '../analytics/time.ts'
import { QUALITY_CODES } from '../ingest/telemetry.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint } from '../storage/store.ts'
import type { ImportOptions } from './options.ts'
import { LoopPacer } from './pace.ts'

/**
 * CSV → telemetry points, streaming. `scanCsv` reads the source once, row by row (csv-parse's stream
 * parser; the file is never held, neither as text nor as rows), validating every row and handing out
 * the points of the good ones, and gives the event loop a turn every few milliseconds of work. The
 * importer (index.ts) runs it twice: a validating pass that only collects the report, then a writing
 * pass that applies the same rules to the same rows and writes the good ones.
 */

/** Codes of a bad row (report entries) and of a file that cannot be imported at all. */
export const IMPORT_ROW_CODES = [
  'IMPORT_ERR_CSV',
  'IMPORT_ERR_COLUMNS',
  'IMPORT_ERR_TIMESTAMP',
  'IMPORT_ERR_DEVICE_UNKNOWN',
  'IMPORT_ERR_DEVICE_AMBIGUOUS',
  'IMPORT_ERR_QUANTITY_UNKNOWN',
  'IMPORT_ERR_VALUE',
  'IMPORT_ERR_VALUE_RANGE',
  'IMPORT_ERR_QUALITY',
  'IMPORT_ERR_DUPLICATE',
  'IMPORT_ERR_ORDER',
  'IMPORT_ERR_INTERVAL',
] as const
export type ImportRowCode = (typeof IMPORT_ROW_CODES)[number]

/** One bad row of the file. */
export interface ImportRowError {
  /** 1-based line in the file as a text editor shows it (the header is line 1). */
  line: number
  /** The column at fault, as named in the header; null when the row as a whole is at fault. */
  column: string | null
  code: ImportRowCode
  message: string
}

/**
 * Where the CSV comes from: text in memory, a file, or a byte stream (an HTTP body). A stream can be
 * read once only: `importCsv` keeps a copy on disk for its second pass (spool.ts).
 */
export type CsvSource = { text: string } | { path: string } | { stream: Readable }

/**
 * Whether whoever imports may write this device (the API's tenant check). A refused device is
 * reported exactly like an unknown one (same code, same message): an import must not tell which
 * devices other enterprises have.
 */
export type ImportAuthorizer = (address: DeviceAddress) => boolean

export interface ScanContext {
  plant: PlantModel
  /**
   * A tenant's import: bare ids resolve among this enterprise's devices only, and a full address in
   * another enterprise reads as not in the plant model (whether that device exists or not).
   */
  enterprise?: string
  authorize?: ImportAuthorizer
}

const TIMESTAMP_NAMES = ['timestamp', 'time', 'ts', 'datetime', 'date_time', 'date']
const ENERGY_NAMES = ['usage_kwh', 'kwh', 'energy_kwh', 'interval_kwh', 'consumption_kwh']

interface Column {
  name: string
  index: number
}

interface ExtraColumn extends Column {
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
    return { layout, header: names, timestamp, device, quantity, value, quality: find(options.qualityColumn), extras: [] }
  }
  if (!energy) throw layoutError(`layout interval needs a kWh-per-interval column (${options.energyColumn ?? ENERGY_NAMES.join(', ')}; set energyColumn)`, names)
  if (!device && options.device === undefined) throw layoutError(`layout interval needs a device column ${JSON.stringify(options.deviceColumn)} or the device option`, names)
  const extras: ExtraColumn[] = []
  for (const [name, mapping] of Object.entries(options.columns)) {
    const col = must(name, 'mapped')
    if (!isQuantity(mapping.quantity)) {
      throw new PlantWattError('IMPORT_ERR_OPTIONS', `column ${JSON.stringify(name)} is mapped to ${JSON.stringify(mapping.quantity)}, which is not a canonical quantity`)
    }
    if (mapping.quantity === 'energy_import_kwh') {
      throw new PlantWattError('IMPORT_ERR_OPTIONS', `column ${JSON.stringify(name)}: energy_import_kwh is built from the kWh column (${energy.name})`)
    }
    extras.push({ ...col, quantity: mapping.quantity, scale: mapping.scale, cumulative: (QUANTITIES[mapping.quantity] as QuantityInfo).cumulative === true })
  }
  return { layout, header: names, timestamp, ...(device ? { device } : {}), energy, extras }
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/** A timestamp as written: an instant, or a local wall time (naive ms) still to be placed in a zone. */
export type ParsedTime = { kind: 'instant'; ts: number } | { kind: 'wall'; naive: number }

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i
const DMY_RE = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/
const NUM_RE = /^-?\d+(?:\.\d+)?$/

function naiveOf(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 59) return undefined
  if (h === 24 && (mi !== 0 || s !== 0)) return undefined
  const naive = Date.UTC(y, mo - 1, d, h, mi, s, ms)
  // Date.UTC rolls 31 Feb into March: reject instead.
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return undefined
  return naive
}

/** Parses one timestamp; undefined when it is not in the format. */
export function parseTimestamp(text: string, format: ImportOptions['timestampFormat'], dateOrder: ImportOptions['dateOrder']): ParsedTime | undefined {
  const t = text.trim()
  if (format === 'epoch-ms' || format === 'epoch-s') {
    if (!NUM_RE.test(t)) return undefined
    return { kind: 'instant', ts: Math.round(Number(t) * (format === 'epoch-s' ? 1000 : 1)) }
  }
  if (format === 'auto' || format === 'iso') {
    const m = ISO_RE.exec(t)
    if (m) {
      const naive = naiveOf(+m[1]!, +m[2]!, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), m[7] === undefined ? 0 : +m[7].padEnd(3, '0'))
      if (naive === undefined) return undefined
      const zone = m[8]
      if (zone === undefined) return { kind: 'wall', naive }
      if (zone.toUpperCase() === 'Z') return { kind: 'instant', ts: naive }
      const sign = zone[0] === '-' ? -1 : 1
      const digits = zone.slice(1).replace(':', '')
      const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')
      if (offsetMin > 18 * 60) return undefined
      return { kind: 'instant', ts: naive - sign * offsetMin * 60_000 }
    }
    if (format === 'iso') return undefined
  }
  const order = format === 'dmy' || format === 'mdy' ? format : dateOrder
  const m = DMY_RE.exec(t)
  if (!m) return undefined
  const a = +m[1]!
  const b = +m[2]!
  const naive = naiveOf(+m[3]!, order === 'dmy' ? b : a, order === 'dmy' ? a : b, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), 0)
  return naive === undefined ? undefined : { kind: 'wall', naive }
}

// ---------------------------------------------------------------------------------------------
// Devices

/** A device the file names, resolved once. */
interface ResolvedDevice {
  address: DeviceAddress
  key: string
  tags: Readonly<Record<string, string>>
  timezone: string
}

type Resolution = { ok: true; device: ResolvedDevice } | { ok: false; code: ImportRowCode; message: string }

/** Most distinct device texts remembered: a file of ever-new names must not grow memory without bound. */
const RESOLVER_CACHE_MAX = 10_000

/**
 * Resolves device text: `enterprise/site/line/device` must be a device of the plant model (when
 * the model has devices at all), a bare id must name exactly one device of the model (of the
 * importer's enterprise, when it has one). For a tenant, devices of other enterprises and devices
 * that do not exist give the same answer.
 */
class DeviceResolver {
  private readonly cache = new Map<string, Resolution>()
  private readonly byKey: Map<string, PlantDeviceEntry>
  private readonly byId = new Map<string, PlantDeviceEntry[]>()
  private readonly hasModel: boolean

  constructor(
    private readonly ctx: ScanContext,
    private readonly zoneOverride: string | undefined,
  ) {
    const devices = listPlantDevices(ctx.plant)
    this.hasModel = devices.length > 0
    this.byKey = new Map(devices.map((d) => [deviceKey(d), d]))
    for (const d of devices) {
      if (ctx.enterprise !== undefined && d.enterprise !== ctx.enterprise) continue
      this.byId.set(d.device, [...(this.byId.get(d.device) ?? []), d])
    }
  }

  resolve(text: string): Resolution {
    let r = this.cache.get(text)
    if (r === undefined) {
      r = this.lookup(text.trim())
      if (this.cache.size < RESOLVER_CACHE_MAX) this.cache.set(text, r)
    }
    return r
  }

  /** The one answer for a bare id that names no device (for this importer). */
  private unknownId(text: string): Resolution {
    return { ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: `no device with id ${JSON.stringify(text)} in the plant model${this.ctx.enterprise ? ` of enterprise ${this.ctx.enterprise}` : ''}` }
  }

  /** The one answer for a full address that is not (for this importer) in the plant model. */
  private unknownAddress(text: string): Resolution {
    const scope = this.ctx.enterprise !== undefined ? ` of enterprise ${this.ctx.enterprise}` : ''
    return { ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: `device ${text} is not in the plant model${scope}` }
  }

  private lookup(text: string): Resolution {
    const parts = text.split('/')
    if ((parts.length !== 1 && parts.length !== 4) || !parts.every(isValidId)) {
      return { ok: false, code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: `${JSON.stringify(text)} is neither enterprise/site/line/device nor a device id` }
    }
    let address: DeviceAddress
    let timezone: string
    if (parts.length === 4) {
      const [enterprise, site, line, device] = parts as [string, string, string, string]
      address = { enterprise, site, line, device }
      // Another enterprise's device, existing or not, is unknown to a tenant: same code, same text.
      if (this.ctx.enterprise !== undefined && enterprise !== this.ctx.enterprise) return this.unknownAddress(text)
      const known = this.byKey.get(deviceKey(address))
      if (!known && this.hasModel) return this.unknownAddress(text)
      timezone = known?.timezone ?? this.ctx.plant.timezone
    } else {
      const candidates = this.byId.get(text) ?? []
      const [only] = candidates
      if (only === undefined) return this.unknownId(text)
      if (candidates.length > 1) {
        return { ok: false, code: 'IMPORT_ERR_DEVICE_AMBIGUOUS', message: `id ${JSON.stringify(text)} names ${candidates.length} devices (${candidates.map(deviceKey).join(', ')}); write enterprise/site/line/device` }
      }
      address = { enterprise: only.enterprise, site: only.site, line: only.line, device: only.device }
      timezone = only.timezone
    }
    if (this.ctx.authorize && !this.ctx.authorize(address)) return parts.length === 4 ? this.unknownAddress(text) : this.unknownId(text)
    const tags = addressTags(address)
    return { ok: true, device: { address, key: deviceKey(address), tags, timezone: this.zoneOverride ?? timezone } }
  }
}

// ---------------------------------------------------------------------------------------------
// Duplicate detection for the long layout, small in memory: per series a sorted run of timestamps
// (a Float64Array that grows; rows usually come in time order) plus a Set for the few out of order.

class SeenTimes {
  private sorted = new Float64Array(64)
  private n = 0
  private extra: Set<number> | undefined

  /** Adds ts; false when it was already there. */
  add(ts: number): boolean {
    if (this.n === 0 || ts > (this.sorted[this.n - 1] as number)) {
      if (this.n === this.sorted.length) {
        const bigger = new Float64Array(this.sorted.length * 2)
        bigger.set(this.sorted)
        this.sorted = bigger
      }
      this.sorted[this.n++] = ts
      return true
    }
    let lo = 0
    let hi = this.n - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const v = this.sorted[mid] as number
      if (v === ts) return false
      if (v < ts) lo = mid + 1
      else hi = mid - 1
    }
    this.extra ??= new Set()
    if (this.extra.has(ts)) return false
    this.extra.add(ts)
    return true
  }
}

// ---------------------------------------------------------------------------------------------
// Row processing

interface IntervalState {
  device: ResolvedDevice
  /** Timestamp (as the file means it: start or end) of the device's previous good row. */
  lastTs: number
  lastLabelDay: number
  firstLine: number
  rows: number
  total: number
  extraTotals: number[]
  /** Smallest step between consecutive rows seen so far (ms). */
  minStepMs: number
}

/** What the validating pass learns and the writing pass needs. */
export interface ScanLearned {
  /** Interval length per device key, ms. */
  intervalMs: Map<string, number>
}

export interface ScanStats {
  /** Data rows read (header and blank lines not counted). */
  rows: number
  /** Good rows. */
  good: number
  /** Intervals that did not start where the previous one of the device ended (a counter sample is placed at their start). */
  gaps: number
  /** D 00:00 rows read as the end of day D (midnight: auto). */
  midnightShifted: number
  /** Device keys with at least one good row. */
  devices: Set<string>
  first: number | undefined
  last: number | undefined
}

export interface ScanOptions {
  /**
   * What the validating pass learned; given, this is the writing pass: the same rules run on the same
   * rows in the same order (so every row gets the same verdict) and a device's lone interval row,
   * rejected at the end of the first pass, is passed over.
   */
  learned?: ScanLearned
  /** Called with each bad row. */
  onError?: (e: ImportRowError) => void
  /** Called with the points of each good row (writing pass); awaited, so the writer can apply back-pressure. */
  onPoints?: (points: TelemetryPoint[]) => void | Promise<void>
  /** Gives the event loop its turns; default a LoopPacer of 10 ms slices. */
  pacer?: LoopPacer
}

export interface ScanResult {
  plan: CsvPlan
  stats: ScanStats
  learned: ScanLearned
}

/** Longest record (all its fields), characters: far above any real row, and what bounds csv-parse's buffer. */
export const MAX_RECORD_CHARS = 65_536

function openSource(source: CsvSource): Readable {
  if ('path' in source) return createReadStream(source.path)
  if ('stream' in source) return source.stream
  const text = source.text
  const CHUNK = 1 << 16
  return Readable.from(
    (function* () {
      for (let i = 0; i < text.length; ) {
        let end = Math.min(i + CHUNK, text.length)
        // Never split a surrogate pair: each half alone would become U+FFFD in UTF-8.
        const last = text.charCodeAt(end - 1)
        if (last >= 0xd800 && last <= 0xdbff && end < text.length) end++
        yield text.slice(i, end)
        i = end
      }
    })(),
    { objectMode: false },
  )
}

/**
 * Line breaks inside a record's (quoted) fields: `real` as an editor counts them (CRLF = one), and
 * `crlf`, the CRLFs that csv-parse's `info.lines` counts twice inside quotes.
 */
function innerLineBreaks(fields: readonly string[]): { real: number; crlf: number } {
  let real = 0
  let crlf = 0
  for (const f of fields) {
    if (f.indexOf('\n') < 0 && f.indexOf('\r') < 0) continue
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i)
      if (c === 10) real++
      else if (c === 13) {
        if (f.charCodeAt(i + 1) === 10) crlf++
        else real++
      }
    }
  }
  return { real, crlf }
}

/**
 * Reads a CSV source once, row by row. Throws IMPORT_ERR_EMPTY (no header), IMPORT_ERR_LAYOUT,
 * IMPORT_ERR_OPTIONS, IMPORT_ERR_READ; every row problem goes to `onError` instead.
 */
export async function scanCsv(source: CsvSource, options: ImportOptions, ctx: ScanContext, scan: ScanOptions = {}): Promise<ScanResult> {
  if (options.timezone !== undefined) {
    try {
      assertTimeZone(options.timezone)
    } catch {
      throw new PlantWattError('IMPORT_ERR_OPTIONS', `timezone ${JSON.stringify(options.timezone)} is not an IANA time zone`)
    }
  }
  const resolver = new DeviceResolver(ctx, options.timezone)
  const fixedDevice = options.device !== undefined ? resolver.resolve(options.device) : undefined
  if (fixedDevice && !fixedDevice.ok) throw new PlantWattError('IMPORT_ERR_OPTIONS', `option device: ${fixedDevice.message}`, { details: { code: fixedDevice.code } })

  const learned: ScanLearned = scan.learned ?? { intervalMs: new Map() }
  const stats: ScanStats = { rows: 0, good: 0, gaps: 0, midnightShifted: 0, devices: new Set(), first: undefined, last: undefined }
  const intervals = new Map<string, IntervalState>()
  const seen = new Map<string, SeenTimes>()
  const fixedIntervalMs = options.intervalMinutes !== undefined ? options.intervalMinutes * 60_000 : undefined
  let plan: CsvPlan | undefined

  const report = (line: number, column: string | null, code: ImportRowCode, message: string): void => {
    scan.onError?.({ line, column, code, message })
  }

  // CRLFs inside quoted fields so far (csv-parse counts each as two lines).
  let overcount = 0
  const parser = parse({
    bom: true,
    delimiter: options.delimiter,
    info: true,
    relax_column_count: true,
    // A stray quote inside a field ("2"x, 6"7) stays data: the field's own check then rejects the row.
    relax_quotes: true,
    max_record_size: MAX_RECORD_CHARS,
    skip_empty_lines: true,
    skip_records_with_error: true,
  })
  // Last line of the last record read: where a never-closed quote can have opened at the earliest.
  let lastGoodLine = 1
  let unclosedQuote = false
  parser.on('skip', (err: CsvError) => {
    // A quote that is never closed swallows the rest of the file: no row boundary can be trusted
    // after it, so the file as a whole is refused (below) rather than its rows silently lost.
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      unclosedQuote = true
      return
    }
    const line = typeof (err as CsvError & { lines?: number }).lines === 'number' ? (err as CsvError & { lines: number }).lines : 0
    // A record this long is no row: most likely the same never-closed quote, caught before it holds the whole file in memory.
    if (err.code === 'CSV_MAX_RECORD_SIZE') {
      parser.destroy(
        new PlantWattError('IMPORT_ERR_CSV', `a record after line ${lastGoodLine} is longer than ${MAX_RECORD_CHARS} characters (a quote never closed?); fix the file (nothing was imported)`, {
          details: { afterLine: lastGoodLine },
        }),
      )
      return
    }
    report(line - overcount, null, 'IMPORT_ERR_CSV', `malformed CSV: ${err.message.replace(/ at line \d+/, '')}`)
  })
  const input = openSource(source)
  const pacer = scan.pacer ?? new LoopPacer()
  // A coded error of the source (the API's byte limit) keeps its code; anything else is a read error.
  input.on('error', (cause) =>
    parser.destroy(isPlantWattError(cause) ? cause : new PlantWattError('IMPORT_ERR_READ', `cannot read ${'path' in source ? source.path : 'the body'}: ${cause.message}`, { cause })),
  )
  input.pipe(parser)

  const good = async (device: ResolvedDevice, ts: number, points: TelemetryPoint[]): Promise<void> => {
    stats.good++
    stats.devices.add(device.key)
    if (stats.first === undefined || ts < stats.first) stats.first = ts
    if (stats.last === undefined || ts > stats.last) stats.last = ts
    if (scan.onPoints && points.length > 0) await scan.onPoints(points)
  }

  const timeOf = (text: string, zone: string): number | undefined => {
    const p = parseTimestamp(text, options.timestampFormat, options.dateOrder)
    if (p === undefined) return undefined
    const ts = p.kind === 'instant' ? p.ts : wallToInstant(p.naive, zone)
    return ts >= MIN_TS && ts <= MAX_TS ? ts : undefined
  }
  const badTime = (line: number, col: Column, text: string): void =>
    report(line, col.name, 'IMPORT_ERR_TIMESTAMP', `${JSON.stringify(text)} is not a timestamp (${options.timestampFormat === 'auto' ? `ISO 8601 or ${options.dateOrder === 'dmy' ? 'dd/mm/yyyy' : 'mm/dd/yyyy'} HH:MM` : options.timestampFormat}) between 2000 and 2100`)

  const longRow = async (fields: string[], line: number, p: CsvPlan): Promise<void> => {
    const deviceText = fields[(p.device as Column).index] ?? ''
    const r = resolver.resolve(deviceText)
    if (!r.ok) return report(line, (p.device as Column).name, r.code, r.message)
    const qText = (fields[(p.quantity as Column).index] ?? '').trim()
    if (!isQuantity(qText)) return report(line, (p.quantity as Column).name, 'IMPORT_ERR_QUANTITY_UNKNOWN', `${JSON.stringify(qText)} is not a canonical quantity (see core/quantities.ts or GET /api/v1/quantities)`)
    const tsText = fields[p.timestamp.index] ?? ''
    const ts = timeOf(tsText, r.device.timezone)
    if (ts === undefined) return badTime(line, p.timestamp, tsText)
    let quality: Quality = 'good'
    if (p.quality) {
      const qual = (fields[p.quality.index] ?? '').trim().toLowerCase()
      if (qual !== '') {
        if (!(QUALITIES as readonly string[]).includes(qual)) return report(line, p.quality.name, 'IMPORT_ERR_QUALITY', `${JSON.stringify(qual)} is not one of ${QUALITIES.join(', ')}`)
        quality = qual as Quality
      }
    }
    const vText = (fields[(p.value as Column).index] ?? '').trim()
    const value = vText === '' ? Number.NaN : Number(vText)
    const info = QUANTITIES[qText]
    if (!Number.isFinite(value)) return report(line, (p.value as Column).name, 'IMPORT_ERR_VALUE', `${JSON.stringify(vText)} is not a number`)
    if (value < info.min || value > info.max) return report(line, (p.value as Column).name, 'IMPORT_ERR_VALUE_RANGE', `${qText} = ${value} is outside ${info.min}…${info.max} ${info.unit}`)
    const seriesKey = `${r.device.key}|${qText}`
    let times = seen.get(seriesKey)
    if (!times) seen.set(seriesKey, (times = new SeenTimes()))
    if (!times.add(ts)) return report(line, p.timestamp.name, 'IMPORT_ERR_DUPLICATE', `a second ${qText} value of ${r.device.key} at ${new Date(ts).toISOString()}`)
    // As live ingest stores it (ingest/telemetry.ts): a bad value is kept out, its marker kept.
    const fieldsOut: Record<string, number> = {}
    if (quality !== 'bad') fieldsOut[qText] = value
    if (quality !== 'good') fieldsOut[`q_${qText}`] = QUALITY_CODES[quality]
    await good(r.device, ts, [{ measurement: TELEMETRY_MEASUREMENT, tags: r.device.tags, fields: fieldsOut, ts }])
  }

  const intervalRow = async (fields: string[], line: number, p: CsvPlan): Promise<void> => {
    let r: Resolution
    if (p.device) {
      const text = (fields[p.device.index] ?? '').trim()
      r = text === '' && fixedDevice ? fixedDevice : resolver.resolve(text)
      if (!r.ok) return report(line, p.device.name, r.code, r.message)
    } else r = fixedDevice as Resolution
    if (!r.ok) return
    const device = r.device
    const tsText = fields[p.timestamp.index] ?? ''
    const parsed = parseTimestamp(tsText, options.timestampFormat, options.dateOrder)
    let ts = parsed === undefined ? undefined : parsed.kind === 'instant' ? parsed.ts : wallToInstant(parsed.naive, device.timezone)
    if (ts === undefined || ts < MIN_TS || ts > MAX_TS) return badTime(line, p.timestamp, tsText)
    const state = intervals.get(device.key)
    const labelDay = parsed?.kind === 'wall' ? Math.floor(parsed.naive / 86_400_000) : -1
    let shifted = false
    // The D 00:00 row after D's later rows: the end of day D (DOMAIN.md: the UCI steel file).
    if (options.midnight === 'auto' && state && parsed?.kind === 'wall' && parsed.naive % 86_400_000 === 0 && ts <= state.lastTs && state.lastLabelDay === labelDay) {
      ts = wallToInstant(parsed.naive + 86_400_000, device.timezone)
      shifted = true
    }
    const eText = (fields[(p.energy as Column).index] ?? '').trim()
    const kwh = eText === '' ? Number.NaN : Number(eText)
    if (!Number.isFinite(kwh)) return report(line, (p.energy as Column).name, 'IMPORT_ERR_VALUE', `${JSON.stringify(eText)} is not a number (kWh in the interval)`)
    if (kwh < 0) return report(line, (p.energy as Column).name, 'IMPORT_ERR_VALUE_RANGE', `${kwh} kWh: energy in an interval cannot be negative (the counter only grows)`)
    const extraValues: number[] = []
    for (const x of p.extras) {
      const text = (fields[x.index] ?? '').trim()
      const v = text === '' ? Number.NaN : Number(text) * x.scale
      const info = QUANTITIES[x.quantity]
      if (!Number.isFinite(v)) return report(line, x.name, 'IMPORT_ERR_VALUE', `${JSON.stringify(text)} is not a number`)
      const lo = x.cumulative ? 0 : info.min
      if (v < lo || v > info.max) return report(line, x.name, 'IMPORT_ERR_VALUE_RANGE', `${x.quantity} = ${v} is outside ${lo}…${info.max} ${info.unit}`)
      extraValues.push(v)
    }
    if (state) {
      if (ts === state.lastTs) return report(line, p.timestamp.name, 'IMPORT_ERR_DUPLICATE', `a second interval of ${device.key} at ${new Date(ts).toISOString()}`)
      if (ts < state.lastTs) return report(line, p.timestamp.name, 'IMPORT_ERR_ORDER', `${new Date(ts).toISOString()} is before the previous interval of ${device.key} (${new Date(state.lastTs).toISOString()}): interval rows of a device must be in time order`)
      if (fixedIntervalMs !== undefined && ts - state.lastTs < fixedIntervalMs) {
        return report(line, p.timestamp.name, 'IMPORT_ERR_ORDER', `${new Date(ts).toISOString()} is less than intervalMinutes after the previous interval of ${device.key}: the intervals overlap`)
      }
      const total = state.total + kwh
      if (total > QUANTITIES.energy_import_kwh.max) return report(line, (p.energy as Column).name, 'IMPORT_ERR_VALUE_RANGE', `the counter would exceed ${QUANTITIES.energy_import_kwh.max} kWh`)
    }
    // Good row.
    const intervalMs = fixedIntervalMs ?? learned.intervalMs.get(device.key)
    // Writing pass: a device whose length stayed unknown had one good row, rejected after the first
    // pass (IMPORT_ERR_INTERVAL). Its state still advances below, as in the first pass, so every
    // later row of the device gets the same verdict as there.
    const lone = scan.learned !== undefined && intervalMs === undefined
    if (shifted && !lone) stats.midnightShifted++
    const points: TelemetryPoint[] = []
    let s = state
    if (!s) {
      s = { device, lastTs: ts, lastLabelDay: labelDay, firstLine: line, rows: 0, total: options.startKwh, extraTotals: p.extras.map(() => 0), minStepMs: Number.POSITIVE_INFINITY }
      intervals.set(device.key, s)
    } else {
      s.minStepMs = Math.min(s.minStepMs, ts - s.lastTs)
    }
    const isFirst = s.rows === 0
    const prevTs = s.lastTs
    s.rows++
    s.lastTs = ts
    s.lastLabelDay = labelDay
    if (intervalMs !== undefined && scan.onPoints) {
      const start = options.timestampIs === 'end' ? ts - intervalMs : ts
      const end = start + intervalMs
      const prevEnd = options.timestampIs === 'end' ? prevTs : prevTs + intervalMs
      const startFields: Record<string, number> = {}
      if (isFirst || start > prevEnd) {
        if (!isFirst) stats.gaps++
        // The counter reading at the interval's start: the running sum so far.
        startFields.energy_import_kwh = s.total
        p.extras.forEach((x, i) => {
          if (x.cumulative) startFields[x.quantity] = s.extraTotals[i] as number
        })
      }
      p.extras.forEach((x, i) => {
        if (!x.cumulative) startFields[x.quantity] = extraValues[i] as number
      })
      s.total += kwh
      const endFields: Record<string, number> = { energy_import_kwh: s.total }
      p.extras.forEach((x, i) => {
        if (x.cumulative) endFields[x.quantity] = (s.extraTotals[i] = (s.extraTotals[i] as number) + (extraValues[i] as number))
      })
      if (Object.keys(startFields).length > 0) points.push({ measurement: TELEMETRY_MEASUREMENT, tags: device.tags, fields: startFields, ts: start })
      points.push({ measurement: TELEMETRY_MEASUREMENT, tags: device.tags, fields: endFields, ts: end })
    } else {
      if (!isFirst && intervalMs !== undefined) {
        const start = options.timestampIs === 'end' ? ts - intervalMs : ts
        const prevEnd = options.timestampIs === 'end' ? prevTs : prevTs + intervalMs
        if (start > prevEnd) stats.gaps++
      }
      s.total += kwh
      p.extras.forEach((x, i) => {
        if (x.cumulative) s.extraTotals[i] = (s.extraTotals[i] as number) + (extraValues[i] as number)
      })
    }
    if (lone) return
    await good(device, ts, points)
  }

  let headerSeen = false
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const fields = rec.record
      const breaks = innerLineBreaks(fields)
      overcount += breaks.crlf
      // csv-parse's `lines` is the record's last line: its first is that minus the breaks inside.
      const line = rec.info.lines - overcount - breaks.real
      lastGoodLine = rec.info.lines - overcount
      if (!headerSeen) {
        headerSeen = true
        plan = planFromHeader(fields, options)
        continue
      }
      const p = plan as CsvPlan
      if (fields.length === 1 && (fields[0] ?? '').trim() === '') continue
      stats.rows++
      await pacer.tick()
      if (fields.length !== p.header.length) {
        report(line, null, 'IMPORT_ERR_COLUMNS', `${fields.length} fields where the header has ${p.header.length}`)
        continue
      }
      if (p.layout === 'long') await longRow(fields, line, p)
      else await intervalRow(fields, line, p)
    }
  } catch (err) {
    input.destroy()
    if (err instanceof PlantWattError) throw err
    throw new PlantWattError('IMPORT_ERR_READ', `cannot read the CSV: ${(err as Error).message}`, { cause: err })
  }
  if (unclosedQuote) {
    throw new PlantWattError('IMPORT_ERR_CSV', `a quote opened after line ${lastGoodLine} is never closed: the rest of the file reads as one field; fix the quote (nothing was imported)`, {
      details: { afterLine: lastGoodLine },
    })
  }
  if (!plan) throw new PlantWattError('IMPORT_ERR_EMPTY', 'the CSV is empty: expected a header line and data rows')
  if (stats.rows === 0) throw new PlantWattError('IMPORT_ERR_EMPTY', `the CSV has a header (${plan.header.join(', ')}) but no data rows`)

  if (!scan.learned) {
    for (const [key, s] of intervals) {
      if (fixedIntervalMs !== undefined) continue
      if (s.rows >= 2) learned.intervalMs.set(key, s.minStepMs)
      else {
        // One row alone does not say how long its interval is: its counter has no start.
        stats.good--
        report(s.firstLine, plan.timestamp.name, 'IMPORT_ERR_INTERVAL', `${key} has a single interval row: its length is unknown (give intervalMinutes)`)
        stats.devices.delete(key)
      }
    }
  }
  return { plan, stats, learned }
}
