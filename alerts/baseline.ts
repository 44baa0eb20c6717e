import { deviceKey, listPlantDevices, type PlantModel } from '../core/plant.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import type { ResolvedRule } from './rules.ts'
import { inShift, lineContexts, type LineContext } from './plant-context.ts'
import { hourOfWeek, slotOfWeek } from './time.ts'
import { HOLIDAY_UPDATE_HINT, WorkCalendar } from './calendar.ts'
import { median, quantile, robustSigma } from './robust-stats.ts'
import { fitRegimeSlots, learnRegimes, NEAR_LEVELS_RATIO, regimeOfPower, type RegimeSlots } from './regimes.ts'
import { fitStartShares } from './regime-start.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * Learned expectations, per device, from its own history in the store — no hand-set thresholds.
 *
 * Anomaly model, per averaging window w (default 15 min) of device power P_w (kW):
 *   production:    E[P_w] = a + b·R_w                  (line has a production counter, w producing)
 *                  E[P_w] = a + s[hour(w)]             (nothing counted in w: base load by hour of week)
 *   time-of-week:  E[P_w] = s[slot(w)]
 * R_w = production rate of the device's line over w (counter increase / window length, units/h),
 * slot(w) = local hour of the week (0 = Monday 00:00–01:00, 167 = Sunday 23:00).
 * a, b: Huber-weighted least squares (IRLS, c = 1.345); s: per slot, the median of what is left
 * (production) or of the power itself (time-of-week); σ: 1.4826 × the median absolute residual
 * after both — a robust standard deviation, which faults in the history barely move.
 * The production model is kept when its RMS residual is smaller than the time-of-week model's.
 */

export const WEEK_SLOTS = 168

export interface DeviceBaseline {
  /** regime: no production counter, idle/reduced/running levels learned from the power (alerts/regimes.ts). */
  model: 'production' | 'time-of-week' | 'regime'
  /** a (kW) and b (kW per unit/h) of the production model; 0 for time-of-week. */
  intercept: number
  slope: number
  /** s[slot], kW: per window-long slot of the week (time-of-week), per hour of the week (production). */
  slots: number[]
  /** Length of a slot, ms. */
  slotMs: number
  /** Robust standard deviation of the residual relative to the expected power (noise grows with load). */
  sigma: number
  /**
   * 99th percentile of |residual| relative to the expected power. A residual that recurs (a daily
   * pattern the model does not capture) is not noise to MAD, but it is to this: the band is at least
   * 1.25 × this, so what the history shows as normal never fires.
   */
  tail: number
  regimeTail?: number[]
  /** Production model: σ per regime — idle (rate ≤ idleRate), then each quartile of the producing rate. */
  regimeSigma?: number[]
  idleRate?: number
  /** Quartile edges of the producing rate, units/h. */
  rateEdges?: number[]
  /** Expected power below which σ applies to this floor instead (5 % of the median level), kW. */
  floorKw: number
  /**
   * Production model: what one count of the counter per window moves the expectation, b × quantum
   * (kW). A parts counter adds or drops a whole part per window: at idle that is much more than the
   * relative noise, so it widens the band by this much.
   */
  quantumKw: number
  /** Median window power of the history, kW. */
  levelKw: number
  /** Windows the fit used. */
  n: number
  timezone: string
  /** Band floor of the time-of-week and production models: tailFactor × tail (rule key tailFactor, default 1.25). */
  tailFactor?: number
  /** Working calendar: days off get their own slots (7 × day + 1 day of slots) when it has any. */
  calendar?: WorkCalendar
  /** The device's line id (per-line weekdays of the calendar). */
  line?: string
  /** Regime model: per slot, which regimes are normal and at what level. */
  regimeSlots?: RegimeSlots
  /**
   * The stuck rule's low-load edge, kW (its `lowLoadKw` unless the rule sets one): at or below it,
   * equal readings are a steady idle's quantisation. Regime model: the upper edge of idle — of
   * reduced too when idle and reduced still lie within NEAR_LEVELS_RATIO (one idle level split in two,
   * alerts/regimes.ts). Production model: 1.25 × the 90th percentile of the idle windows (nothing counted).
   */
  lowLoadKw?: number
}

/** The low-load edge of a regime model (see DeviceBaseline.lowLoadKw). */
export function regimeLowLoadKw(levels: RegimeSlots['levels']): number {
  const [idle, reduced] = levels.levelsKw
  return reduced < NEAR_LEVELS_RATIO * idle ? levels.edgesKw[1] : levels.edgesKw[0]
}

/** How the fit treats the week and the levels; the anomaly rule's keys (alerts/rules.ts). */
export interface FitOptions {
  calendar?: WorkCalendar
  line?: string
  regimes?: 'auto' | 'off'
  regimeRatio?: number
  tailFactor?: number
  /** Regime model, start check: windows below running that make the line at rest (0: no start check). */
  restWindows?: number
  /** Regime model, start check: a start up to this many windows from a slot counts for it. */
  startToleranceWindows?: number
  /** Time-of-week and production models: the quantile the tail floor is taken at (rule key tailQuantile, default 0.99). */
  tailQuantile?: number
  /** Time-of-week and production models: residuals relative to max(|expected|, this × the median power) (default 0.05). */
  floorShare?: number
  /** Regime model: windows a slot needs before its own regime shares count (default 3). */
  minSlotSamples?: number
}

/**
 * Slot of a window in the calendar week: working days by weekday and time of day (7 × the slots of a
 * day), days off (holidays, the plant's days off, weekdays the line does not work) share one more
 * day of slots. Without days off in the calendar, the plain slot of the week.
 */
export function calendarSlot(ts: number, timezone: string, slotMs: number, calendar?: WorkCalendar, line?: string): number {
  const s = slotOfWeek(ts, timezone, slotMs)
  if (!calendar?.hasDaysOff || calendar.isWorkingDay(ts, line)) return s
  const perDay = Math.ceil(DAY_MS / slotMs)
  return 7 * perDay + (s % perDay)
}

function calendarSlotCount(slotMs: number, calendar?: WorkCalendar): number {
  const perWeek = Math.ceil(WEEK_MS / slotMs)
  return calendar?.hasDaysOff ? perWeek + Math.ceil(DAY_MS / slotMs) : perWeek
}

function slotOfBaseline(b: DeviceBaseline, ts: number): number {
  return calendarSlot(ts, b.timezone, b.slotMs, b.calendar, b.line)
}

/** What the standby rule learns: the device's idle level (P90 of its out-of-shift power × 1.25). */
export interface BaselineBook {
  /** When the history ended (epoch ms). */
  learnedAt: number
  /** Averaging window the anomaly baselines were fitted on, ms. */
  windowMs: number
  anomaly: Map<string, DeviceBaseline>
  idleKw: Map<string, number>
  /**
   * What the learning could not do right, in words for the log and a replay's problems: a year of
   * the history or of the next days whose public holidays the calendar's source does not have.
   */
  warnings?: string[]
}

export function emptyBaselineBook(windowMs = 900_000): BaselineBook {
  return { learnedAt: 0, windowMs, anomaly: new Map(), idleKw: new Map() }
}

function rms(values: readonly number[]): number {
  return Math.sqrt(values.reduce((a, v) => a + v * v, 0) / Math.max(1, values.length))
}

/** Huber-weighted straight line y = a + b x by iteratively reweighted least squares. */
export function huberLine(x: readonly number[], y: readonly number[], iterations = 8): { a: number; b: number } {
  const n = x.length
  const w = new Array<number>(n).fill(1)
  let a = 0
  let b = 0
  for (let it = 0; it < iterations; it++) {
    let sw = 0,
      sx = 0,
      sy = 0,
      sxx = 0,
      sxy = 0
    for (let i = 0; i < n; i++) {
      const wi = w[i] as number
      const xi = x[i] as number
      const yi = y[i] as number
      sw += wi
      sx += wi * xi
      sy += wi * yi
      sxx += wi * xi * xi
      sxy += wi * xi * yi
    }
    const den = sw * sxx - sx * sx
    b = Math.abs(den) > 1e-12 ? (sw * sxy - sx * sy) / den : 0
    a = (sy - b * sx) / sw
    const r = x.map((xi, i) => (y[i] as number) - a - b * xi)
    const s = Math.max(robustSigma(r), 1e-9)
    for (let i = 0; i < n; i++) {
      const u = Math.abs(r[i] as number) / (1.345 * s)
      w[i] = u <= 1 ? 1 : 1 / u
    }
  }
  return { a, b }
}

export interface BaselineWindow {
  /** Window start, epoch ms. */
  start: number
  /** Mean power over the window, kW. */
  powerKw: number
  /** Production rate of the line over the window, units/h; absent when unknown. */
  rate?: number
}

const WEEK_MS = 7 * DAY_MS

/**
 * Per hour-of-week slot: the median over the history (only for slots seen in at least two different
 * weeks, else `fallback`), and for each window the median of its slot over the *other* weeks (NaN
 * when there are none). σ is measured on the latter: a slot median that includes the window's own
 * week would fit its noise and make the band too narrow.
 */
function slotFit(
  slotsOf: readonly number[],
  weeks: readonly number[],
  values: readonly number[],
  fallback: number,
  slotCount = WEEK_SLOTS,
): { slots: number[]; others: number[] } {
  const bySlot: { v: number; w: number }[][] = Array.from({ length: slotCount }, () => [])
  slotsOf.forEach((s, i) => {
    ;(bySlot[s] as { v: number; w: number }[]).push({ v: values[i] as number, w: weeks[i] as number })
  })
  const slots = bySlot.map((list) => (new Set(list.map((x) => x.w)).size >= 2 ? median(list.map((x) => x.v)) : fallback))
  const cache = new Map<string, number>()
  const others = slotsOf.map((s, i) => {
    const key = `${s}/${weeks[i] as number}`
    let m = cache.get(key)
    if (m === undefined) {
      const rest = (bySlot[s] as { v: number; w: number }[]).filter((x) => x.w !== weeks[i]).map((x) => x.v)
      m = rest.length > 0 ? median(rest) : Number.NaN
      cache.set(key, m)
    }
    return m
  })
  return { slots, others }
}

/** The q-quantile (default the 99th percentile) of |residual| / max(|expected|, floor). */
function relativeTail(residual: readonly number[], expected: readonly number[], floorKw: number, q = 0.99): number {
  return quantile(
    residual.map((r, i) => Math.abs(r) / Math.max(Math.abs(expected[i] as number), floorKw)),
    q,
  )
}

/** Relative robust σ: 1.4826 × MAD of residual / max(|expected|, floor). */
function relativeSigma(residual: readonly number[], expected: readonly number[], floorKw: number): number {
  return robustSigma(residual.map((r, i) => r / Math.max(Math.abs(expected[i] as number), floorKw)))
}

/**
 * Fits the anomaly model of one device; undefined with fewer than `minWindows` windows of history.
 * The time-of-week model needs at least two weeks; the production model works from one (its slot
 * corrections then stay 0).
 */
export function fitDeviceBaseline(
  windows: readonly BaselineWindow[],
  timezone: string,
  minWindows = 96,
  windowMs = 900_000,
  counterStep = 0,
  options: FitOptions = {},
): DeviceBaseline | undefined {
  const fit = options
  if (windows.length < minWindows) return undefined
  const extra = {
    tailFactor: fit.tailFactor ?? 1.25,
    ...(fit.calendar ? { calendar: fit.calendar } : {}),
    ...(fit.line !== undefined ? { line: fit.line } : {}),
  }
  const hasRates = windows.some((w) => w.rate !== undefined && Number.isFinite(w.rate))
  if (!hasRates && (fit.regimes ?? 'auto') === 'auto') {
    const regime = fitRegimeBaseline(windows, timezone, windowMs, fit, extra)
    if (regime) return regime
  }
  const first = Math.min(...windows.map((w) => w.start))
  const weekOf = (w: BaselineWindow): number => Math.floor((w.start - first) / WEEK_MS)
  const levelKw = median(windows.map((w) => w.powerKw))
  const floorKw = Math.max(1e-6, (fit.floorShare ?? 0.05) * Math.abs(levelKw))

  const { tow, towRms } = fitTimeOfWeek(windows, timezone, minWindows, windowMs, fit, extra, { weekOf, levelKw, floorKw })

  const withRate = windows.filter((w) => w.rate !== undefined && Number.isFinite(w.rate))
  if (withRate.length < Math.max(minWindows, windows.length / 2)) return tow
  const x = withRate.map((w) => w.rate as number)
  const y = withRate.map((w) => w.powerKw)
  const { a, b } = huberLine(x, y)
  const r = x.map((xi, i) => (y[i] as number) - a - b * xi)
  // The counter's resolution as a rate: one count per window (1 part; 1 kg for a counter in tonnes).
  const quantumRate = (counterStep * HOUR_MS) / windowMs
  // Idle: less than one count in the window.
  const cut = quantumRate / 2
  // Idle windows (nothing counted): the power is base load, not tied to output — their offset per
  // hour of the week is learned from the idle windows alone. Producing windows: the line only.
  const idle = x.map((v) => v <= cut)
  const idleIdx = x.map((_, i) => i).filter((i) => idle[i])
  const idleFit = slotFit(
    idleIdx.map((i) => hourOfWeek(withRate[i]!.start, timezone)),
    idleIdx.map((i) => weekOf(withRate[i]!)),
    idleIdx.map((i) => r[i] as number),
    0,
  )
  const slots = idleFit.slots
  const otherOf = new Map(idleIdx.map((i, j) => [i, idleFit.others[j] as number]))
  const residual = r.map((ri, i) => {
    const o = otherOf.get(i)
    return ri - (o === undefined || Number.isNaN(o) ? 0 : o)
  })
  const expected = y.map((yi, i) => yi - (residual[i] as number))
  // Chosen by RMS, not MAD: ramps at shift changes are few windows (MAD ignores them) but recur every
  // day, and only the production model explains them.
  if (tow && !(rms(residual) < towRms)) return tow
  const quantumKw = Math.abs(b) * quantumRate
  // σ per production regime: idle (no count) and the quartiles of the producing windows. Near idle the
  // line's power is not tied to its output (base load, partly idle windows): wider bands there.
  const sigma = relativeSigma(residual, expected, floorKw)
  const positive = x.filter((v) => v > cut).sort((p, q) => p - q)
  const rateEdges = positive.length >= 4 * MIN_PER_REGIME ? [1, 2, 3].map((i) => positive[Math.floor((positive.length * i) / 4)] as number) : []
  const tail = relativeTail(residual, expected, floorKw, fit.tailQuantile)
  const regimes = Array.from({ length: rateEdges.length + 2 }, (_, g) => x.map((v, i) => (regimeOf(v, cut, rateEdges) === g ? i : -1)).filter((i) => i >= 0))
  const per = (fn: typeof relativeSigma, fallback: number): number[] =>
    regimes.map((idx) =>
      idx.length >= MIN_PER_REGIME
        ? fn(
            idx.map((i) => residual[i] as number),
            idx.map((i) => expected[i] as number),
            floorKw,
          )
        : fallback,
    )
  // The low-load edge (stuck rule): the idle windows' level, as the standby rule learns its own.
  const idlePower = idleIdx.map((i) => y[i] as number)
  const lowLoad = idlePower.length >= MIN_IDLE_WINDOWS ? { lowLoadKw: 1.25 * quantile(idlePower, 0.9) } : {}
  return {
    model: 'production',
    intercept: a,
    slope: b,
    slots,
    slotMs: HOUR_MS,
    sigma,
    tail,
    regimeSigma: per(relativeSigma, sigma),
    regimeTail: per((res, exp, floor) => relativeTail(res, exp, floor, fit.tailQuantile), tail),
    idleRate: cut,
    rateEdges,
    floorKw,
    quantumKw,
    levelKw,
    n: withRate.length,
    timezone,
    ...extra,
    ...lowLoad,
  }
}

const MIN_PER_REGIME = 30
/** Idle windows the production model needs for its low-load edge (as the standby rule's idle level). */
const MIN_IDLE_WINDOWS = 8

/** The time-of-week model (calendar slots) and its RMS residual; undefined with too little history. */
function fitTimeOfWeek(
  windows: readonly BaselineWindow[],
  timezone: string,
  minWindows: number,
  windowMs: number,
  fit: FitOptions,
  extra: Pick<DeviceBaseline, 'tailFactor' | 'calendar' | 'line'>,
  c: { weekOf: (w: BaselineWindow) => number; levelKw: number; floorKw: number },
): { tow: DeviceBaseline | undefined; towRms: number } {
  const { weekOf, levelKw, floorKw } = c
  let tow: DeviceBaseline | undefined
  let towRms = Infinity
  // Slots as long as the window (672 quarter hours a week): shift ramps and load patterns repeat at
  // the same quarter hour, and σ is measured week against week.
  const slotCount = calendarSlotCount(windowMs, fit.calendar)
  const slotsOf = windows.map((w) => calendarSlot(w.start, timezone, windowMs, fit.calendar, fit.line))
  const power = windows.map((w) => w.powerKw)
  const { slots, others } = slotFit(slotsOf, windows.map(weekOf), power, levelKw, slotCount)
  const residual: number[] = []
  const expected: number[] = []
  others.forEach((m, i) => {
    if (Number.isNaN(m)) return
    residual.push((power[i] as number) - m)
    expected.push(m)
  })
  if (residual.length >= minWindows) {
    tow = {
      model: 'time-of-week',
      intercept: 0,
      slope: 0,
      slots,
      slotMs: windowMs,
      sigma: relativeSigma(residual, expected, floorKw),
      tail: relativeTail(residual, expected, floorKw, fit.tailQuantile),
      floorKw,
      quantumKw: 0,
      levelKw,
      n: windows.length,
      timezone,
      ...extra,
    }
    towRms = rms(residual)
  }
  return { tow, towRms }
}

/**
 * The regime model (no production counter): idle/reduced/running levels of the device's power, and
 * per calendar slot which of them the history shows and at what level. Undefined when the device
 * has one level only (running/idle < regimeRatio) or too little history for two weeks of slots.
 */
function fitRegimeBaseline(
  windows: readonly BaselineWindow[],
  timezone: string,
  windowMs: number,
  fit: FitOptions,
  extra: Pick<DeviceBaseline, 'tailFactor' | 'calendar' | 'line'>,
): DeviceBaseline | undefined {
  const power = windows.map((w) => w.powerKw)
  const levels = learnRegimes(power, { minRatio: fit.regimeRatio ?? 3, minRegimeShare: 0 })
  if (!levels) return undefined
  const first = Math.min(...windows.map((w) => w.start))
  if (new Set(windows.map((w) => Math.floor((w.start - first) / WEEK_MS))).size < 2) return undefined
  const slotCount = calendarSlotCount(windowMs, fit.calendar)
  const slotOf = windows.map((w) => calendarSlot(w.start, timezone, windowMs, fit.calendar, fit.line))
  const table = fitRegimeSlots(slotOf, power, slotCount, levels, Math.ceil(DAY_MS / windowMs), fit.minSlotSamples)
  if ((fit.restWindows ?? 0) > 0) {
    const restWindows = fit.restWindows as number
    const order = windows.map((_, i) => i).sort((a, b) => (windows[a] as BaselineWindow).start - (windows[b] as BaselineWindow).start)
    table.startShare = fitStartShares(
      order.map((i) => (windows[i] as BaselineWindow).start),
      order.map((i) => slotOf[i] as number),
      order.map((i) => power[i] as number),
      {
        windowMs,
        slotsPerDay: Math.ceil(DAY_MS / windowMs),
        slotCount,
        runningEdgeKw: levels.edgesKw[1],
        restWindows,
        toleranceWindows: fit.startToleranceWindows ?? 0,
      },
    )
    table.restWindows = restWindows
  }
  const levelKw = median(power)
  // For display and for the standby rule: per slot the median of its most frequent regime.
  const slots = Array.from({ length: slotCount }, (_, s) => {
    let best = -1
    let bestShare = -1
    for (let g = 0; g < 3; g++) {
      const share = table.share[s * 3 + g] ?? Number.NaN
      if (share > bestShare) {
        best = g
        bestShare = share
      }
    }
    return best < 0 ? levelKw : (table.medianKw[s * 3 + best] ?? levelKw)
  })
  return {
    model: 'regime',
    intercept: 0,
    slope: 0,
    slots,
    slotMs: windowMs,
    sigma: table.relSigma[2],
    tail: 0,
    floorKw: Math.max(1e-6, (fit.floorShare ?? 0.05) * Math.abs(levelKw)),
    quantumKw: 0,
    levelKw,
    n: windows.length,
    timezone,
    ...extra,
    regimeSlots: table,
    lowLoadKw: regimeLowLoadKw(levels),
  }
}

/** Regime model: the idle regime's windows in the history (the standby rule's idle level). */
export function idleRegimeWindows(b: DeviceBaseline, windows: readonly BaselineWindow[]): BaselineWindow[] {
  const t = b.regimeSlots
  if (!t) return []
  return windows.filter((w) => regimeOfPower(t.levels, w.powerKw) === 0)
}

/**
 * The standby rule's idle level, kW: 1.25 × the 90th percentile of the idle windows' power over the
 * history — or over the last `recentMs` before `now` when that is higher and holds at least half a
 * day of idle windows. A base load that has risen for weeks (winter heating and lighting: the UCI
 * steel works' nights went from 11–15 to 19–22 kW in November) is the new idle, not waste every
 * night; a level that fell keeps the history's. Undefined with fewer than 8 idle windows.
 */
export function standbyIdleKw(idle: readonly BaselineWindow[], now: number, recentMs: number, windowMs: number): number | undefined {
  if (idle.length < 8) return undefined
  let p90 = quantile(
    idle.map((w) => w.powerKw),
    0.9,
  )
  if (recentMs > 0) {
    const recent = idle.filter((w) => w.start >= now - recentMs).map((w) => w.powerKw)
    if (recent.length >= Math.ceil(DAY_MS / 2 / windowMs)) p90 = Math.max(p90, quantile(recent, 0.9))
  }
  return 1.25 * p90
}

/** The calendar slot of ts in the device's baseline (regime and time-of-week models). */
export function baselineSlot(b: DeviceBaseline, ts: number): number {
  return slotOfBaseline(b, ts)
}

/** 0 = idle (less than one count per window), then 1 + the quartile of the rate. */
function regimeOf(rate: number, idleRate: number, edges: readonly number[]): number {
  if (rate <= idleRate) return 0
  let g = 1
  for (const e of edges) if (rate >= e) g++
  return g
}

/** σ and tail of the window: its production regime's, or the overall ones. */
export function spreadFor(b: DeviceBaseline, rate: number | undefined): { sigma: number; tail: number } {
  if (b.model !== 'production' || rate === undefined || !b.regimeSigma) return { sigma: b.sigma, tail: b.tail }
  const g = regimeOf(rate, b.idleRate ?? 0, b.rateEdges ?? [])
  return { sigma: b.regimeSigma[g] ?? b.sigma, tail: b.regimeTail?.[g] ?? b.tail }
}

/** Expected window power, kW; undefined when the production model has no rate for the window. */
export function expectedPowerKw(b: DeviceBaseline, windowStart: number, rate: number | undefined): number | undefined {
  const s = b.slots[b.model === 'production' ? slotOfWeek(windowStart, b.timezone, b.slotMs) : slotOfBaseline(b, windowStart)] ?? 0
  if (b.model !== 'production') return s
  if (rate === undefined || !Number.isFinite(rate)) return undefined
  // The hour-of-week offset applies to idle windows only (see fitDeviceBaseline).
  return b.intercept + b.slope * rate + (rate <= (b.idleRate ?? 0) ? s : 0)
}

/**
 * Band half-width around the expectation, kW:
 *   max(k σ, tailFactor × tail) × max(|expected|, floor) + quantum, at least minBandKw and minBandShare
 *   (default 1 %) of |expected|.
 */
export function bandKw(b: DeviceBaseline, expected: number, k: number, minBandKw: number, rate?: number, minBandShare = 0.01): number {
  const { sigma, tail } = spreadFor(b, rate)
  return Math.max(
    Math.max(k * sigma, (b.tailFactor ?? 1.25) * tail) * Math.max(Math.abs(expected), b.floorKw) + b.quantumKw,
    minBandKw,
    minBandShare * Math.abs(expected),
  )
}

/**
 * Production rate per window from the counter's first and last value in it: rate = (last − first) /
 * (time between them), units per hour. From the store: spread (= last − first for a counter that only
 * grows) over (count − 1) sample steps of a regularly sampled counter. Windows with fewer than two
 * samples give none; a reset inside a window is caught because spread then exceeds the plausible.
 */
export function rateOf(spread: number, count: number, windowMs: number): number | undefined {
  if (!(count >= 2) || !(spread >= 0)) return undefined
  return (spread * HOUR_MS) / ((windowMs * (count - 1)) / count)
}

export interface LearnOptions {
  store: TelemetryStore
  plant: PlantModel
  rules: readonly ResolvedRule[]
  /** End of the history (exclusive), epoch ms. */
  now: number
  /** The baselines are used until then (the calendar warnings cover it); default a week after `now`. */
  usedUntil?: number
}

/**
 * Learns the baselines the anomaly and standby rules need from the store: 15-minute (the rule's
 * window) mean power of every device of the plant model, and the last value of each line's
 * production counter per window. History length: the longest `history` of those rules.
 */
export async function learnBaselines(opts: LearnOptions): Promise<BaselineBook> {
  const anomalyRules = opts.rules.filter((r) => r.kind === 'anomaly')
  const standbyRules = opts.rules.filter((r) => r.kind === 'standby')
  const windowMs = anomalyRules[0]?.windowMs ?? 900_000
  const book = emptyBaselineBook(windowMs)
  book.learnedAt = opts.now
  if (anomalyRules.length === 0 && standbyRules.length === 0) return book
  const historyMs = Math.max(...[...anomalyRules, ...standbyRules].map((r) => r.historyMs))
  const start = opts.now - historyMs
  const every = `${Math.round(windowMs / MINUTE_MS)}m`
  const lines = lineContexts(opts.plant)
  const devices = listPlantDevices(opts.plant)
  // The detector's knobs and the calendar: the first anomaly rule's (else the first standby rule's).
  const shaping = anomalyRules[0] ?? standbyRules[0]
  const calendars = new Map<string, WorkCalendar>()
  // The rule's own calendar, else the line's enterprise's (plant model), else none: every day alike.
  const calendarOf = (line: LineContext): WorkCalendar | undefined => {
    if (!shaping) return undefined
    const config = shaping.calendar ?? line.calendar
    if (!config) return undefined
    const key = `${shaping.calendar ? 'rule' : line.enterprise}\u0000${line.timezone}`
    let c = calendars.get(key)
    if (!c) calendars.set(key, (c = new WorkCalendar(config, line.timezone)))
    return c
  }

  for (const line of lines.values()) {
    const filter = { enterprise: line.enterprise, site: line.site, line: line.line }
    const power = await opts.store.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['active_power_kw'],
      filter,
      start,
      stop: opts.now,
      every,
      fn: 'mean',
      groupBy: ['device'],
      timezone: line.timezone,
    })
    let rates: Map<number, number> | undefined
    if (line.production) {
      const q = {
        measurement: TELEMETRY_MEASUREMENT,
        fields: [line.production.quantity],
        filter: { ...filter, device: line.production.device },
        start,
        stop: opts.now,
        every,
        timezone: line.timezone,
      }
      const [first, last, count] = await Promise.all([
        opts.store.aggregate({ ...q, fn: 'first' }),
        opts.store.aggregate({ ...q, fn: 'last' }),
        opts.store.aggregate({ ...q, fn: 'count' }),
      ])
      const firstOf = new Map(first.map((r) => [r.windowStart, r.value]))
      const countOf = new Map(count.map((r) => [r.windowStart, r.value]))
      rates = new Map()
      for (const r of last) {
        const f = firstOf.get(r.windowStart)
        // A reset inside the window (last < first) gives no rate.
        const rate = f === undefined ? undefined : rateOf(r.value - f, countOf.get(r.windowStart) ?? 0, windowMs)
        if (rate !== undefined) rates.set(r.windowStart, rate)
      }
    }
    const byDevice = new Map<string, BaselineWindow[]>()
    for (const row of power) {
      const list = byDevice.get(row.tags.device ?? '') ?? []
      const w: BaselineWindow = { start: row.windowStart, powerKw: row.value }
      const rate = rates?.get(row.windowStart)
      if (rate !== undefined) w.rate = rate
      list.push(w)
      byDevice.set(row.tags.device ?? '', list)
    }
    for (const d of devices) {
      if (d.enterprise !== line.enterprise || d.site !== line.site || d.line !== line.line) continue
      const windows = byDevice.get(d.device)
      if (!windows) continue
      const key = deviceKey(d)
      const calendar = calendarOf(line)
      const fitOptions: FitOptions = { line: line.line, regimes: anomalyRules[0]?.regimes ?? 'off', ...(calendar ? { calendar } : {}) }
      if (shaping)
        Object.assign(fitOptions, {
          regimeRatio: shaping.regimeRatio,
          tailFactor: shaping.tailFactor,
          tailQuantile: shaping.tailQuantile,
          floorShare: shaping.floorShare,
          minSlotSamples: shaping.minSlotSamples,
          // The start check: rest and tolerance in windows of the first anomaly rule.
          restWindows: shaping.kind === 'anomaly' ? Math.ceil(shaping.restForMs / windowMs) : 0,
          startToleranceWindows: shaping.kind === 'anomaly' ? Math.round(shaping.startToleranceMs / windowMs) : 0,
        })
      const fit = fitDeviceBaseline(
        windows,
        line.timezone,
        96,
        windowMs,
        line.production?.quantity === 'output_count' ? 1 : line.production ? 0.001 : 0,
        fitOptions,
      )
      if (fit) book.anomaly.set(key, fit)
      // Idle level: out-of-shift windows, else (no shifts in the model) the idle regime's windows.
      const idle =
        line.shifts.length > 0
          ? windows.filter((w) => !inShift(line, w.start) && !inShift(line, w.start + windowMs - 1))
          : fit
            ? idleRegimeWindows(fit, windows)
            : []
      const idleKw = standbyIdleKw(idle, opts.now, standbyRules[0]?.recentIdleMs ?? 0, windowMs)
      if (idleKw !== undefined) book.idleKw.set(key, idleKw)
    }
  }
  const warnings = calendarWarnings(calendars.values(), start, Math.max(opts.usedUntil ?? 0, opts.now + RELEARN_AHEAD_MS))
  if (warnings.length > 0) book.warnings = warnings
  return book
}

/** How far past the end of the history the calendar must know its days: until the next learning, about. */
const RELEARN_AHEAD_MS = 7 * DAY_MS

/** Years the calendars need China's holidays for and chinese-days does not have, one warning each. */
function calendarWarnings(calendars: Iterable<WorkCalendar>, from: number, to: number): string[] {
  const years = new Set<number>()
  for (const c of calendars) for (const y of c.uncoveredYears(from, to)) years.add(y)
  return [...years]
    .sort((a, b) => a - b)
    .map(
      (y) =>
        `calendar: chinese-days has no public holidays for ${y} yet — days of ${y} are judged by the weekday schedule alone (holidays as working days, 调休 as weekends); ${HOLIDAY_UPDATE_HINT}`,
    )
}

export type { LineContext }
