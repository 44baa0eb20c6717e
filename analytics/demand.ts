import { analyticsError } from './errors.ts'
import { powerEnergy, sumIntervalsByWindow } from './energy.ts'
import { calendarWindows, localParts } from './time.ts'
import type { AmountInterval, Sample, TimeRange } from './types.ts'
import { HOUR_MS } from '../core/duration.ts'

/**
 * Demand (需量): mean power over fixed 15-minute windows aligned to the local quarter hour, as the
 * utility's billing meter measures it for the two-part tariff's demand charge. The monthly maximum
 * of those windows is the billed demand.
 */

export const DEMAND_WINDOW_MS = 900_000

export interface DemandWindow extends TimeRange {
  energyKwh: number
  /** energyKwh / window length in hours. */
  demandKw: number
  /** Share of the window covered by data (0..1): a partly covered window understates demand. */
  coverage: number
}

function coverageByWindow(intervals: readonly TimeRange[], windows: readonly TimeRange[]): number[] {
  return sumIntervalsByWindow(
    intervals.map((iv) => ({ start: iv.start, end: iv.end, amount: iv.end - iv.start })),
    windows,
  ).map((ms, i) => ms / ((windows[i] as TimeRange).end - (windows[i] as TimeRange).start))
}

function spanOf(intervals: readonly TimeRange[]): TimeRange | undefined {
  if (intervals.length === 0) return undefined
  let start = Infinity
  let end = -Infinity
  for (const iv of intervals) {
    start = Math.min(start, iv.start)
    end = Math.max(end, iv.end)
  }
  return { start, end }
}

/**
 * 15-minute demand windows from interval energy (kWh), e.g. a counter's increments or a meter's
 * 15-minute interval data. `range` defaults to the span of the intervals.
 */
export function demandFromEnergy(intervals: readonly AmountInterval[], timezone: string, range?: TimeRange): DemandWindow[] {
  const r = range ?? spanOf(intervals)
  if (!r) return []
  const windows = calendarWindows(r, '15m', timezone)
  const energy = sumIntervalsByWindow(intervals, windows)
  const coverage = coverageByWindow(intervals, windows)
  return windows.map((w, i) => {
    const e = energy[i] as number
    return { start: w.start, end: w.end, energyKwh: e, demandKw: e / ((w.end - w.start) / HOUR_MS), coverage: coverage[i] as number }
  })
}

/** 15-minute demand windows from active power samples (kW), integrated by the trapezoid rule. */
export function demandFromPower(samples: readonly Sample[], timezone: string, range: TimeRange, maxGapMs?: number): DemandWindow[] {
  const windows = calendarWindows(range, '15m', timezone)
  const res = powerEnergy(samples, windows, maxGapMs === undefined ? {} : { maxGapMs })
  return res.windows.map((w) => ({ start: w.start, end: w.end, energyKwh: w.amount, demandKw: w.amount / ((w.end - w.start) / HOUR_MS), coverage: w.coverage }))
}

export interface MonthlyMaxDemand {
  /** Local month 'YYYY-MM'. */
  month: string
  demandKw: number
  /** The window where the maximum occurred (the first one on ties). */
  start: number
  end: number
  coverage: number
}

export function monthKey(ts: number, timezone: string): string {
  const l = localParts(ts, timezone)
  return `${l.year}-${String(l.month).padStart(2, '0')}`
}

/** The maximum 15-minute demand of each local month, in month order. */
export function monthlyMaxDemand(windows: readonly DemandWindow[], timezone: string): MonthlyMaxDemand[] {
  const byMonth = new Map<string, MonthlyMaxDemand>()
  for (const w of windows) {
    const month = monthKey(w.start, timezone)
    const cur = byMonth.get(month)
    if (!cur || w.demandKw > cur.demandKw) byMonth.set(month, { month, demandKw: w.demandKw, start: w.start, end: w.end, coverage: w.coverage })
  }
  return [...byMonth.values()].sort((a, b) => a.start - b.start)
}

export interface DemandForecast {
  /** Projected mean power over the whole window, kW. */
  projectedKw: number
  /** Energy expected by the end of the window, kWh. */
  projectedEnergyKwh: number
  method: 'current-power' | 'average-rate'
  elapsedMs: number
}

/**
 * Projects the current window's demand from its partial energy: energy so far plus the present
 * power held for the rest of the window when it is known, else the average rate so far extrapolated.
 * A utility demand controller acts on this before the window closes.
 */
export function forecastDemand(input: {
  windowStart: number
  now: number
  energySoFarKwh: number
  currentPowerKw?: number
  windowMs?: number
}): DemandForecast {
  const windowMs = input.windowMs ?? DEMAND_WINDOW_MS
  const elapsedMs = input.now - input.windowStart
  if (!(elapsedMs > 0) || elapsedMs > windowMs) {
    throw analyticsError('ANALYTICS_ERR_INPUT', `forecastDemand: now must be inside the window (elapsed ${elapsedMs} ms of ${windowMs} ms)`)
  }
  const remainingH = (windowMs - elapsedMs) / HOUR_MS
  const windowH = windowMs / HOUR_MS
  const projectedEnergyKwh =
    input.currentPowerKw !== undefined ? input.energySoFarKwh + input.currentPowerKw * remainingH : (input.energySoFarKwh * windowMs) / elapsedMs
  return {
    projectedKw: projectedEnergyKwh / windowH,
    projectedEnergyKwh,
    method: input.currentPowerKw !== undefined ? 'current-power' : 'average-rate',
    elapsedMs,
  }
}
