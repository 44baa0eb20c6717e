import { analyticsError } from './errors.ts'
import { powerEnergy, sumIntervalsByWindow } from './energy.ts'
import { calendarWindows, localParts, wallClock } from './time.ts'
import type { AmountInterval, Sample, TimeRange } from './types.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

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

/**
 * Energy on a regular grid of steps (the demand meter's slip, 1 minute by default): step i covers
 * [start + i·stepMs, start + (i+1)·stepMs). `covered` is the share of each step spanned by data (0..1).
 */
export interface StepEnergy {
  start: number
  stepMs: number
  energyKwh: Float64Array
  covered: Float64Array
}

function emptySteps(range: TimeRange, stepMs: number): StepEnergy {
  if (!(stepMs > 0) || !(range.end > range.start)) throw analyticsError('ANALYTICS_ERR_INPUT', `steps: need stepMs > 0 and start < end`)
  const n = Math.ceil((range.end - range.start) / stepMs)
  return { start: range.start, stepMs, energyKwh: new Float64Array(n), covered: new Float64Array(n) }
}

/**
 * Spreads interval energy (a counter's increments) over a step grid pro rata by time; a gap interval
 * adds its energy (the counter proves it was used) but no coverage. Linear in intervals + steps.
 */
export function stepEnergyFromIntervals(intervals: readonly (AmountInterval & { gap?: boolean })[], range: TimeRange, stepMs: number): StepEnergy {
  const out = emptySteps(range, stepMs)
  const n = out.energyKwh.length
  for (const iv of intervals) {
    const span = iv.end - iv.start
    if (!(span > 0)) continue
    const a = Math.max(iv.start, range.start)
    const b = Math.min(iv.end, range.end)
    if (!(a < b)) continue
    const rate = iv.amount / span
    for (let i = Math.floor((a - range.start) / stepMs); i < n; i++) {
      const s = range.start + i * stepMs
      if (s >= b) break
      const o = Math.min(s + stepMs, b) - Math.max(s, a)
      if (o <= 0) continue
      out.energyKwh[i] = (out.energyKwh[i] as number) + rate * o
      if (!iv.gap) out.covered[i] = (out.covered[i] as number) + o / stepMs
    }
  }
  return out
}

/** Power samples (kW) on a step grid: trapezoid energy per step (powerEnergy), coverage as it reports. */
export function stepEnergyFromPower(samples: readonly Sample[], range: TimeRange, stepMs: number, maxGapMs?: number): StepEnergy {
  const out = emptySteps(range, stepMs)
  const windows: TimeRange[] = []
  for (let i = 0; i < out.energyKwh.length; i++) windows.push({ start: range.start + i * stepMs, end: Math.min(range.start + (i + 1) * stepMs, range.end) })
  const res = powerEnergy(samples, windows, maxGapMs === undefined ? {} : { maxGapMs })
  res.windows.forEach((w, i) => {
    out.energyKwh[i] = w.amount
    out.covered[i] = w.coverage
  })
  return out
}

/** Sums step grids of the same start and step (an account's incomers); coverage = the worst part's. */
export function sumStepEnergy(parts: readonly StepEnergy[]): StepEnergy | undefined {
  const first = parts[0]
  if (!first) return undefined
  const n = first.energyKwh.length
  const energyKwh = new Float64Array(n)
  const covered = new Float64Array(n).fill(1)
  for (const p of parts) {
    if (p.start !== first.start || p.stepMs !== first.stepMs || p.energyKwh.length !== n) {
      throw analyticsError('ANALYTICS_ERR_INPUT', 'sumStepEnergy: grids differ in start, step or length')
    }
    for (let i = 0; i < n; i++) {
      energyKwh[i] = (energyKwh[i] as number) + (p.energyKwh[i] as number)
      covered[i] = Math.min(covered[i] as number, Math.min(1, p.covered[i] as number))
    }
  }
  return { start: first.start, stepMs: first.stepMs, energyKwh, covered }
}

/** A demand window: mean power over [start, end). */
export interface DemandPeak {
  demandKw: number
  start: number
  end: number
  /** Share of the window covered by data (0..1). */
  coverage: number
}

/** Billing-grade maximum demand: the sliding figure the utility meter bills, the fixed one alongside. */
export interface BillingDemand {
  /** 需量周期, ms (default 15 min). */
  periodMs: number
  /** 滑差时间, ms (default 1 min): the window moves by this step. */
  slipMs: number
  /** Maximum over windows starting at every slip step (only whole windows inside the grid). */
  sliding: DemandPeak | null
  /** Maximum over windows aligned to the period on the local clock (fixed quarter hours). */
  fixed: DemandPeak | null
}

export interface BillingDemandOptions {
  /** Demand period (需量周期), ms; default 900 000 (15 min). */
  periodMs?: number
  /** Slip (滑差时间), ms; default 60 000 (1 min). Must divide the period; the grid's step must equal it. */
  slipMs?: number
  /** IANA zone the fixed windows align in; default Asia/Shanghai. */
  timezone?: string
}

/**
 * Maximum demand of a step grid as a billing meter computes it (DL/T 645 需量周期 04000103, 滑差时间
 * 04000104): the mean power of the last `period` recomputed every `slip`; and the maximum of the fixed
 * windows aligned to the period on the local clock. One pass with a running sum: O(steps).
 */
export function billingDemand(steps: StepEnergy, options: BillingDemandOptions = {}): BillingDemand {
  const periodMs = options.periodMs ?? DEMAND_WINDOW_MS
  const slipMs = options.slipMs ?? MINUTE_MS
  const timezone = options.timezone ?? 'Asia/Shanghai'
  if (!(slipMs > 0) || !(periodMs >= slipMs) || periodMs % slipMs !== 0) {
    throw analyticsError('ANALYTICS_ERR_INPUT', `demand: the slip (${slipMs} ms) must divide the period (${periodMs} ms)`)
  }
  if (steps.stepMs !== slipMs) throw analyticsError('ANALYTICS_ERR_INPUT', `demand: grid step ${steps.stepMs} ms differs from the slip ${slipMs} ms`)
  const k = periodMs / slipMs
  const e = steps.energyKwh
  const c = steps.covered
  const hours = periodMs / HOUR_MS
  // Best window start index and its sums, sliding and fixed (objects built once, at the end).
  let slidingAt = -1
  let slidingE = -Infinity
  let slidingC = 0
  let fixedAt = -1
  let fixedE = -Infinity
  let fixedC = 0
  let sumE = 0
  let sumC = 0
  let offset = 0
  for (let i = 0; i < e.length; i++) {
    sumE += e[i] as number
    sumC += Math.min(1, c[i] as number)
    if (i >= k) {
      sumE -= e[i - k] as number
      sumC -= Math.min(1, c[i - k] as number)
    }
    if (i < k - 1) continue
    const w = i - k + 1
    const start = steps.start + w * slipMs
    if (sumE > slidingE) {
      slidingE = sumE
      slidingC = sumC
      slidingAt = w
    }
    // Zone offsets change on quarter hours at most: look the offset up once per period's worth of steps.
    if (w % k === 0 || w === 0) offset = wallClock(start, timezone) - start
    if ((start + offset) % periodMs === 0 && sumE > fixedE) {
      fixedE = sumE
      fixedC = sumC
      fixedAt = w
    }
  }
  const peak = (at: number, energy: number, covered: number): DemandPeak | null => {
    if (at < 0) return null
    const start = steps.start + at * slipMs
    return { demandKw: energy / hours, start, end: start + periodMs, coverage: covered / k }
  }
  const sliding = peak(slidingAt, slidingE, slidingC)
  const fixed = peak(fixedAt, fixedE, fixedC)
  return { periodMs, slipMs, sliding, fixed }
}
