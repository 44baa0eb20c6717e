import { analyticsError, assertRanges } from './errors.ts'
import type { AmountInterval, Sample, TimeRange } from './types.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * Interval amounts (energy in kWh, or any cumulative counter: m³, t, pcs) from cumulative counters,
 * and energy from power by trapezoidal integration. Every window reports its coverage (share of its
 * time spanned by data no further apart than maxGapMs) and the anomalies that touched it.
 */

export type AnomalyKind = 'reset' | 'rollover' | 'backstep' | 'gap' | 'duplicate' | 'out_of_order' | 'invalid' | 'bad_quality'

export interface CounterAnomaly {
  kind: AnomalyKind
  /** The sample that revealed the anomaly (for gaps: the sample after the gap). */
  ts: number
  /** The pair of samples around it (gaps, resets, rollovers, backsteps). */
  from?: number
  to?: number
  /** The amount attributed across this pair (gaps, resets, rollovers). */
  amount?: number
  /** Human-readable explanation, e.g. "1834021.7 → 0.4". */
  detail?: string
}

export type AnomalyCounts = Record<AnomalyKind, number>

export interface WindowAmount extends TimeRange {
  /** Amount in the counter's unit (kWh for energy). */
  amount: number
  /** Share (0..1) of the window spanned by consecutive samples at most maxGapMs apart. */
  coverage: number
  anomalies: CounterAnomaly[]
}

export interface SeriesAmount {
  windows: WindowAmount[]
  /** Sum over the windows; coverage weighted by window length. */
  total: { amount: number; coverage: number }
  anomalies: CounterAnomaly[]
  counts: AnomalyCounts
  /**
   * The per-pair increments the windows were built from, in time order: feed them to tariff or
   * demand maths so that periods and 15-minute windows are split at the data's own resolution.
   * `gap` increments span more than maxGapMs.
   */
  increments: Increment[]
}

export interface Increment extends AmountInterval {
  gap: boolean
}

/** Where the amount across a gap goes. */
export type GapPolicy = 'pro-rata' | 'next-sample'

export interface CounterOptions {
  /**
   * Register modulus: the counter wraps to 0 on reaching it, e.g. a uint32 register × 0.01 kWh
   * wraps at 42_949_672.96. Absent: the counter never rolls over.
   */
  modulus?: number
  /** A drop from within this fraction of the modulus below it to within it above 0 is a rollover. Default 0.05. */
  rolloverBand?: number
  /**
   * A drop to at most this fraction of the previous value is a reset (the counter restarted from 0:
   * the new value is the amount since the reset). A smaller drop is a backstep (meter jitter): no
   * amount, and the highest value seen stays the reference so the jitter is not counted twice. Default 0.5.
   */
  resetFraction?: number
  /** Samples further apart than this are a gap: no coverage (default 15 min = 900_000 ms). */
  maxGapMs?: number
  /**
   * What happens to the amount a counter shows across a gap (it was consumed, only when is unknown):
   * 'pro-rata' (default) spreads it evenly over the gap, as if the rate was constant;
   * 'next-sample' puts all of it in the window where the sample after the gap lands
   * (start < ts ≤ end: a reading at 12:00 closes the 11:00–12:00 window).
   */
  gapPolicy?: GapPolicy
  /** Also use samples flagged 'bad' (default false: they are dropped and counted). */
  useBadQuality?: boolean
}

export interface PowerOptions {
  /** Samples further apart than this: no energy is assumed between them (default 5 min = 300_000 ms). */
  maxGapMs?: number
  useBadQuality?: boolean
}

const DEFAULT_COUNTER_GAP_MS = 900_000
const DEFAULT_POWER_GAP_MS = 300_000
const KW_MS_PER_KWH = HOUR_MS

function emptyCounts(): AnomalyCounts {
  return { reset: 0, rollover: 0, backstep: 0, gap: 0, duplicate: 0, out_of_order: 0, invalid: 0, bad_quality: 0 }
}

/**
 * Sorts by time, drops non-finite values, bad-quality samples (unless asked) and duplicates
 * (same ts: the last received wins, as in the stores' idempotent writes), and reports each.
 */
export function cleanSamples(samples: readonly Sample[], useBadQuality = false): { samples: Sample[]; anomalies: CounterAnomaly[] } {
  const anomalies: CounterAnomaly[] = []
  const kept: Array<{ s: Sample; order: number }> = []
  let maxTs = -Infinity
  samples.forEach((s, order) => {
    if (!Number.isFinite(s.ts) || !Number.isFinite(s.value)) {
      anomalies.push({ kind: 'invalid', ts: s.ts, detail: `value ${s.value}` })
      return
    }
    if (s.quality === 'bad' && !useBadQuality) {
      anomalies.push({ kind: 'bad_quality', ts: s.ts })
      return
    }
    if (s.ts < maxTs) anomalies.push({ kind: 'out_of_order', ts: s.ts })
    maxTs = Math.max(maxTs, s.ts)
    kept.push({ s, order })
  })
  kept.sort((a, b) => a.s.ts - b.s.ts || a.order - b.order)
  const out: Sample[] = []
  for (const { s } of kept) {
    const last = out[out.length - 1]
    if (last && last.ts === s.ts) {
      anomalies.push({
        kind: 'duplicate',
        ts: s.ts,
        detail: last.value === s.value ? 'same value' : `conflicting values ${last.value} and ${s.value}: kept ${s.value}`,
      })
      out[out.length - 1] = s
    } else out.push(s)
  }
  return { samples: out, anomalies }
}

/** Per-pair increments of a cumulative counter, with resets, rollovers, backsteps and gaps classified. */
export function counterIncrements(samples: readonly Sample[], options: CounterOptions = {}): { increments: Increment[]; anomalies: CounterAnomaly[] } {
  const modulus = options.modulus
  if (modulus !== undefined && !(modulus > 0)) throw analyticsError('ANALYTICS_ERR_INPUT', `counter modulus must be > 0, got ${modulus}`)
  const band = options.rolloverBand ?? 0.05
  const resetFraction = options.resetFraction ?? 0.5
  const maxGapMs = options.maxGapMs ?? DEFAULT_COUNTER_GAP_MS
  const { samples: clean, anomalies } = cleanSamples(samples, options.useBadQuality)
  const increments: Increment[] = []
  let ref: Sample | undefined
  let refValue = 0
  for (const s of clean) {
    if (!ref) {
      ref = s
      refValue = s.value
      continue
    }
    const gap = s.ts - ref.ts > maxGapMs
    let amount = s.value - refValue
    let nextRef = s.value
    if (amount < 0) {
      const pair = { ts: s.ts, from: ref.ts, to: s.ts }
      if (modulus !== undefined && refValue >= modulus * (1 - band) && s.value <= modulus * band) {
        amount = modulus - refValue + s.value
        anomalies.push({ kind: 'rollover', ...pair, amount, detail: `${refValue} → ${s.value} (modulus ${modulus})` })
      } else if (s.value <= refValue * resetFraction) {
        // The amount between the last reading and the reset is unknowable; what was counted since is s.value.
        amount = s.value
        anomalies.push({ kind: 'reset', ...pair, amount, detail: `${refValue} → ${s.value}` })
      } else {
        anomalies.push({ kind: 'backstep', ...pair, amount: 0, detail: `${refValue} → ${s.value}` })
        amount = 0
        nextRef = refValue
      }
    }
    if (gap) anomalies.push({ kind: 'gap', ts: s.ts, from: ref.ts, to: s.ts, amount, detail: `${(s.ts - ref.ts) / MINUTE_MS} min without data` })
    increments.push({ start: ref.ts, end: s.ts, amount, gap })
    ref = s
    refValue = nextRef
  }
  anomalies.sort((a, b) => a.ts - b.ts)
  return { increments, anomalies }
}

/**
 * Distributes increments over windows (sorted, non-overlapping). A non-gap increment is split pro
 * rata by time; a gap follows `gapPolicy`. Coverage counts only non-gap time.
 */
export function allocateIncrements(
  increments: readonly Increment[],
  windows: readonly TimeRange[],
  anomalies: readonly CounterAnomaly[],
  gapPolicy: GapPolicy = 'pro-rata',
): SeriesAmount {
  assertRanges(windows, 'windows')
  const out: WindowAmount[] = windows.map((w) => ({ start: w.start, end: w.end, amount: 0, coverage: 0, anomalies: [] }))
  const covered = new Array<number>(windows.length).fill(0)
  let first = 0
  for (const inc of increments) {
    while (first < out.length && (out[first] as WindowAmount).end <= inc.start) first++
    const span = inc.end - inc.start
    if (inc.gap && gapPolicy === 'next-sample') {
      const w = out.find((x) => x.start < inc.end && inc.end <= x.end)
      if (w) w.amount += inc.amount
      continue
    }
    for (let i = first; i < out.length; i++) {
      const w = out[i] as WindowAmount
      if (w.start >= inc.end) break
      const o = Math.min(w.end, inc.end) - Math.max(w.start, inc.start)
      if (o <= 0) continue
      w.amount += (inc.amount * o) / span
      if (!inc.gap) covered[i] = (covered[i] as number) + o
    }
  }
  out.forEach((w, i) => {
    w.coverage = (covered[i] as number) / (w.end - w.start)
    w.anomalies = anomalies.filter((a) => {
      const from = a.from ?? a.ts
      const to = a.to ?? a.ts
      return from < w.end && to > w.start
    })
  })
  return summarise(out, increments, anomalies)
}

function summarise(windows: WindowAmount[], increments: readonly Increment[], anomalies: readonly CounterAnomaly[]): SeriesAmount {
  const counts = emptyCounts()
  for (const a of anomalies) counts[a.kind]++
  let amount = 0
  let coveredMs = 0
  let totalMs = 0
  for (const w of windows) {
    amount += w.amount
    coveredMs += w.coverage * (w.end - w.start)
    totalMs += w.end - w.start
  }
  return { windows, total: { amount, coverage: totalMs > 0 ? coveredMs / totalMs : 0 }, anomalies: [...anomalies], counts, increments: [...increments] }
}

/**
 * Amount per window from a cumulative counter (energy_import_kwh, gas_m3, output_t …).
 * @param windows sorted, non-overlapping ranges, e.g. from `calendarWindows(range, 'hour', tz)`.
 */
export function counterEnergy(samples: readonly Sample[], windows: readonly TimeRange[], options: CounterOptions = {}): SeriesAmount {
  const { increments, anomalies } = counterIncrements(samples, options)
  return allocateIncrements(increments, windows, anomalies, options.gapPolicy ?? 'pro-rata')
}

/** Integral of the linear interpolation of (t0,p0)–(t1,p1) over [u, v] ⊆ [t0, t1], in kW·ms. */
function trapezoid(t0: number, p0: number, t1: number, p1: number, u: number, v: number): number {
  const at = (t: number): number => p0 + ((p1 - p0) * (t - t0)) / (t1 - t0)
  return ((v - u) * (at(u) + at(v))) / 2
}

/**
 * Energy (kWh) per window from active power samples (kW) by the trapezoid rule; pairs further apart
 * than maxGapMs contribute no energy and no coverage (a gap anomaly is recorded).
 */
export function powerEnergy(samples: readonly Sample[], windows: readonly TimeRange[], options: PowerOptions = {}): SeriesAmount {
  const maxGapMs = options.maxGapMs ?? DEFAULT_POWER_GAP_MS
  const { samples: clean, anomalies } = cleanSamples(samples, options.useBadQuality)
  const increments: Increment[] = []
  for (let k = 1; k < clean.length; k++) {
    const a = clean[k - 1] as Sample
    const b = clean[k] as Sample
    if (b.ts - a.ts > maxGapMs) {
      anomalies.push({ kind: 'gap', ts: b.ts, from: a.ts, to: b.ts, amount: 0, detail: `${(b.ts - a.ts) / MINUTE_MS} min without data` })
      continue
    }
    increments.push({ start: a.ts, end: b.ts, amount: trapezoid(a.ts, a.value, b.ts, b.value, a.ts, b.ts) / KW_MS_PER_KWH, gap: false })
  }
  anomalies.sort((x, y) => x.ts - y.ts)
  assertRanges(windows, 'windows')
  // Split exactly on the interpolated line rather than pro rata, so a ramp is attributed where it happened.
  const out: WindowAmount[] = windows.map((w) => ({ start: w.start, end: w.end, amount: 0, coverage: 0, anomalies: [] }))
  let first = 0
  for (let k = 1; k < clean.length; k++) {
    const a = clean[k - 1] as Sample
    const b = clean[k] as Sample
    if (b.ts - a.ts > maxGapMs) continue
    while (first < out.length && (out[first] as WindowAmount).end <= a.ts) first++
    for (let i = first; i < out.length; i++) {
      const w = out[i] as WindowAmount
      if (w.start >= b.ts) break
      const u = Math.max(w.start, a.ts)
      const v = Math.min(w.end, b.ts)
      if (v <= u) continue
      w.amount += trapezoid(a.ts, a.value, b.ts, b.value, u, v) / KW_MS_PER_KWH
      w.coverage += v - u
    }
  }
  for (const w of out) {
    w.coverage /= w.end - w.start
    w.anomalies = anomalies.filter((x) => (x.from ?? x.ts) < w.end && (x.to ?? x.ts) > w.start)
  }
  return summarise(out, increments, anomalies)
}

/** Splits intervals at window edges, pro rata by time: the amount of each window. */
export function sumIntervalsByWindow(intervals: readonly AmountInterval[], windows: readonly TimeRange[]): number[] {
  assertRanges(windows, 'windows')
  const sums = new Array<number>(windows.length).fill(0)
  const sorted = [...intervals].sort((a, b) => a.start - b.start)
  let first = 0
  for (const iv of sorted) {
    const span = iv.end - iv.start
    if (!(span > 0)) throw analyticsError('ANALYTICS_ERR_INPUT', `interval [${iv.start}, ${iv.end}) is empty`)
    while (first < windows.length && (windows[first] as TimeRange).end <= iv.start) first++
    for (let i = first; i < windows.length; i++) {
      const w = windows[i] as TimeRange
      if (w.start >= iv.end) break
      const o = Math.min(w.end, iv.end) - Math.max(w.start, iv.start)
      if (o > 0) sums[i] = (sums[i] as number) + (iv.amount * o) / span
    }
  }
  return sums
}
