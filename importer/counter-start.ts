import { DAY_MS } from '../core/duration.ts'
import type { TelemetryStore } from '../storage/store.ts'
import type { DeviceSpan } from './row-verdict.ts'
import { readingAfter, readingAtOrBefore } from './stored-reading.ts'

/** How far before a file's first instant a stored counter reading is looked for, and after its last one. */
export const COUNTER_LOOKBACK_MS = 366 * DAY_MS

/** Where an interval file's counter starts for one device and quantity, and why. */
export interface CounterStart {
  /** enterprise/site/line/device */
  device: string
  /** energy_import_kwh, or a cumulative extra column's quantity (gas_m3 …). */
  quantity: string
  /** The start of the device's first interval in the file, epoch ms. */
  at: number
  /** The counter there (kWh for energy_import_kwh). */
  value: number
  /**
   * given: `startKwh`; stored: continued from the store's reading at `storedAt` (= `at` when the store
   * had a reading there, e.g. the end of the previous file); zero: no reading at or in the 366 days before `at`.
   */
  basis: 'given' | 'stored' | 'zero'
  /** basis stored: the instant of the reading continued from, epoch ms. */
  storedAt?: number
}

/** Something the import did that the user should act on; the data was written. */
export interface ImportWarning {
  /**
   * IMPORT_WARN_COUNTER_BACKWARDS: the store already holds a later reading of the device below the
   * counter this file ends with (the file was imported after a later one).
   */
  code: 'IMPORT_WARN_COUNTER_BACKWARDS'
  device: string
  quantity: string
  message: string
}

export interface CounterStarts {
  /** Per device key: quantity → counter at the start of its first interval (ScanLearned.counterStarts). */
  starts: Map<string, Readonly<Record<string, number>>>
  /** Per device and counter, sorted by device then quantity. */
  report: CounterStart[]
  warnings: ImportWarning[]
}

/**
 * Where each device's counters start in an interval file (README "Importing several files"): at
 * `startKwh` when given (energy only), else where the store has the device's counter at the file's
 * first instant, else at its latest reading in the 366 days before, else 0 — so consecutive files
 * continue one counter instead of restarting it at every file. Then checks the end: a stored reading
 * after the file that is lower than the counter the file ends with is an IMPORT_WARN_COUNTER_BACKWARDS
 * (nothing stored is rewritten).
 */
export async function resolveCounterStarts(
  store: TelemetryStore,
  spans: ReadonlyMap<string, DeviceSpan>,
  startKwh: number | undefined,
): Promise<CounterStarts> {
  const out: CounterStarts = { starts: new Map(), report: [], warnings: [] }
  for (const key of [...spans.keys()].sort()) {
    const span = spans.get(key) as DeviceSpan
    const starts: Record<string, number> = {}
    for (const quantity of Object.keys(span.increase).sort()) {
      const given = quantity === 'energy_import_kwh' ? startKwh : undefined
      const start: CounterStart =
        given !== undefined ? { device: key, quantity, at: span.firstStart, value: given, basis: 'given' } : await storedStart(store, key, quantity, span)
      starts[quantity] = start.value
      out.report.push(start)
      const warning = await laterReadingBelow(store, key, quantity, span, start.value)
      if (warning) out.warnings.push(warning)
    }
    out.starts.set(key, starts)
  }
  return out
}

async function storedStart(store: TelemetryStore, device: string, quantity: string, span: DeviceSpan): Promise<CounterStart> {
  const stored = await readingAtOrBefore(store, span.tags, quantity, span.firstStart, COUNTER_LOOKBACK_MS)
  if (!stored) return { device, quantity, at: span.firstStart, value: 0, basis: 'zero' }
  return { device, quantity, at: span.firstStart, value: stored.value, basis: 'stored', storedAt: stored.ts }
}

async function laterReadingBelow(store: TelemetryStore, device: string, quantity: string, span: DeviceSpan, start: number): Promise<ImportWarning | undefined> {
  const end = start + (span.increase[quantity] ?? 0)
  const later = await readingAfter(store, span.tags, quantity, span.lastEnd, COUNTER_LOOKBACK_MS)
  // A reading equal to the end (within rounding of the sums) is a continuation, not a step back.
  if (!later || later.value >= end - 1e-9 * Math.max(1, end)) return undefined
  const iso = (ts: number): string => new Date(ts).toISOString()
  return {
    code: 'IMPORT_WARN_COUNTER_BACKWARDS',
    device,
    quantity,
    message:
      `${device} ${quantity}: the file ends at ${iso(span.lastEnd)} with ${round(end)}, but the store already holds ${round(later.value)} at ${iso(later.ts)}, ` +
      'so the counter goes backwards there (an alert backtest reports energy-counter-backwards): the later data was imported before this file. ' +
      'Import the later file(s) again now, in time order (their counters then continue from this one), or give startKwh',
  }
}

const round = (v: number): number => Math.round(v * 1000) / 1000
