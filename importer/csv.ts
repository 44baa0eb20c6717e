import { PlantWattError } from '../core/errors.ts'
import type { TelemetryPoint } from '../storage/store.ts'
import { asReadError, readCsvRecords, type CsvSource } from './csv-records.ts'
import { planFromHeader, type CsvPlan } from './csv-plan.ts'
import { DeviceResolver, resolveFixedDevice, type ResolvedDevice, type ScanContext } from './device-resolver.ts'
import { IntervalRowReader } from './interval-rows.ts'
import { LongRowReader } from './long-rows.ts'
import type { ImportOptions } from './options.ts'
import { LoopPacer } from './pace.ts'
import { wrongFieldCount, type ImportRowError, type RowReader, type ScanLearned } from './row-verdict.ts'
import { ScanTally, type ScanStats } from './scan-tally.ts'
import { checkImportTimeZone } from './timestamp.ts'

export { MAX_RECORD_CHARS, type CsvSource } from './csv-records.ts'
export { planFromHeader, type CsvPlan } from './csv-plan.ts'
export type { ImportAuthorizer, ScanContext } from './device-resolver.ts'
export { IMPORT_ROW_CODES, type ImportRowCode, type ImportRowError, type ScanLearned } from './row-verdict.ts'
export type { ScanStats } from './scan-tally.ts'
export { parseTimestamp, type ParsedTime } from './timestamp.ts'

/**
 * CSV → telemetry points, streaming. `scanCsv` reads the source once, row by row (csv-parse's stream
 * parser; the file is never held, neither as text nor as rows), validating every row and handing out
 * the points of the good ones, and gives the event loop a turn every few milliseconds of work. The
 * importer (index.ts) runs it twice: a validating pass that only collects the report, then a writing
 * pass that applies the same rules to the same rows and writes the good ones.
 */

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

/** Which layout's reader reads the data rows. */
function rowReaderFor(
  plan: CsvPlan,
  options: ImportOptions,
  resolver: DeviceResolver,
  fixedDevice: ResolvedDevice | undefined,
  scan: ScanOptions,
  learned: ScanLearned,
): RowReader {
  if (plan.layout === 'long') return new LongRowReader(plan, options, resolver)
  const pass = scan.learned ? 'write' : 'validate'
  return new IntervalRowReader(plan, options, resolver, { pass, learned, withPoints: scan.onPoints !== undefined, ...(fixedDevice ? { fixedDevice } : {}) })
}

const isBlank = (fields: readonly string[]): boolean => fields.length === 1 && (fields[0] ?? '').trim() === ''

/**
 * Reads a CSV source once, row by row. Throws IMPORT_ERR_EMPTY (no header), IMPORT_ERR_LAYOUT,
 * IMPORT_ERR_OPTIONS, IMPORT_ERR_READ; every row problem goes to `onError` instead.
 */
export async function scanCsv(source: CsvSource, options: ImportOptions, ctx: ScanContext, scan: ScanOptions = {}): Promise<ScanResult> {
  checkImportTimeZone(options.timezone)
  const resolver = new DeviceResolver(ctx, options.timezone)
  const fixedDevice = resolveFixedDevice(resolver, options.device)
  const learned: ScanLearned = scan.learned ?? { intervalMs: new Map() }
  const tally = new ScanTally(scan)
  const pacer = scan.pacer ?? new LoopPacer()
  const records = readCsvRecords(source, {
    delimiter: options.delimiter,
    onMalformed: (line, message) => tally.bad(line, { column: null, code: 'IMPORT_ERR_CSV', message }),
  })
  let plan: CsvPlan | undefined
  let rows: RowReader | undefined
  try {
    for await (const { fields, line } of records) {
      if (!plan || !rows) {
        plan = planFromHeader(fields, options)
        rows = rowReaderFor(plan, options, resolver, fixedDevice, scan, learned)
      } else if (!isBlank(fields)) {
        tally.row()
        await pacer.tick()
        await tally.add(line, fields.length === plan.header.length ? rows.read(fields, line) : wrongFieldCount(fields.length, plan.header.length))
      }
    }
  } catch (err) {
    throw asReadError(err)
  }
  if (!plan || !rows) throw new PlantWattError('IMPORT_ERR_EMPTY', 'the CSV is empty: expected a header line and data rows')
  if (tally.stats.rows === 0) throw new PlantWattError('IMPORT_ERR_EMPTY', `the CSV has a header (${plan.header.join(', ')}) but no data rows`)
  for (const r of rows.finish()) tally.retract(r)
  return { plan, stats: tally.stats, learned }
}
