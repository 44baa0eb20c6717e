import { analyticsError, assertRanges } from './errors.ts'
import type { AmountInterval, Sample, TimeRange } from './types.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

/**
 * Interval amounts (energy in kWh, or any cumulative counter: m³, t, pcs) from cumulative counters,
 * and energy from power by trapezoidal integration. Every window reports its coverage (share of its
 * time spanned by data no further apart than maxGapMs) and the anomalies that touched it.
 */

export type AnomalyKind =
  | 'reset'
  | 'unexplained_reset'
  | 'replacement'
  | 'ratio_change'
  | 'rollover'
  | 'backstep'
  | 'gap'
  | 'duplicate'
  | 'out_of_order'
  | 'invalid'
  | 'bad_quality'

/**
 * A recorded meter event (records/meter-events.ts keeps who, why and the revisions): what analytics
 * needs to count across it exactly. Samples with `ts` before the event belong to the state before
 * it, samples at or after it to the state after.
 */
export type CounterEvent =
  | {
      /** The meter was replaced: the old one's last reading, the new one's reading when it started counting. */
      kind: 'replacement'
      ts: number
      oldFinalReading: number
      newStartReading: number
      /** The new meter's register modulus, when it differs from the old one's. */
      newModulus?: number
    }
  | {
      /**
       * The CT/PT ratio changed while the readings kept the old ratio's scale (the register counts on,
       * the configured multiplier was not changed): from `ts` on each increment counts × newRatio / oldRatio.
       */
      kind: 'ratio_change'
      ts: number
      oldRatio: number
      newRatio: number
      /** The reading at the change, when known; else the pair across it is split pro rata by time. */
      readingAtChange?: number
    }
  | {
      /** The register was reset (cleared) to `valueAfter`, usually 0. */
      kind: 'reset'
      ts: number
      valueAfter: number
      /** The reading just before the reset, when known; else the part of the pair before it is unknown (no coverage). */
      valueBefore?: number
    }

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
   * A drop of at most this fraction of the previous value is a backstep (meter jitter: a float
   * register's last digits, a value re-read after rounding): no amount, and the highest value seen
   * stays the reference so the jitter is not counted twice. Any larger drop that no event explains
   * and that is not a rollover is an `unexplained_reset`: that pair adds nothing and no coverage.
   * Default 0.001 (0.1 %): a float32 register's rounding is 6·10⁻⁸ of the value, a meter swap or a
   * reset drops by far more than 0.1 %.
   */
  backstepFraction?: number
  /** Recorded meter events of this counter (any order): replacements, ratio changes, resets. */
  events?: readonly CounterEvent[]
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
  return {
    reset: 0,
    unexplained_reset: 0,
    replacement: 0,
    ratio_change: 0,
    rollover: 0,
    backstep: 0,
    gap: 0,
    duplicate: 0,
    out_of_order: 0,
    invalid: 0,
    bad_quality: 0,
  }
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

const DEFAULT_BACKSTEP_FRACTION = 0.001
const DEFAULT_ROLLOVER_BAND = 0.05

/** What one counter does at this point of the series: its modulus and the multiplier of its increments. */
interface CounterState {
  modulus: number | undefined
  factor: number
  band: number
  backstepFraction: number
}

/** The move of one meter's register from a to b: an amount, or unknown (a drop nothing explains). */
interface Leg {
  /** NaN when unknown. */
  amount: number
  anomaly?: 'rollover' | 'backstep' | 'unexplained_reset'
}

function legOf(a: number, b: number, st: CounterState): Leg {
  if (b >= a) return { amount: b - a }
  if (st.modulus !== undefined && a >= st.modulus * (1 - st.band) && b <= st.modulus * st.band) return { amount: st.modulus - a + b, anomaly: 'rollover' }
  if (a - b <= st.backstepFraction * Math.abs(a)) return { amount: 0, anomaly: 'backstep' }
  return { amount: Number.NaN, anomaly: 'unexplained_reset' }
}

/** A part of one pair of samples: its amount, or unknown (no coverage). */
interface Piece {
  start: number
  end: number
  amount: number
  known: boolean
}

function checkEvents(events: readonly CounterEvent[]): CounterEvent[] {
  events.forEach((e, i) => {
    const nums: Array<[string, number | undefined]> = [['ts', e.ts]]
    if (e.kind === 'replacement') nums.push(['oldFinalReading', e.oldFinalReading], ['newStartReading', e.newStartReading])
    else if (e.kind === 'reset') nums.push(['valueAfter', e.valueAfter], ['valueBefore', e.valueBefore])
    else nums.push(['readingAtChange', e.readingAtChange])
    for (const [name, v] of nums) {
      if (v !== undefined && !Number.isFinite(v)) throw analyticsError('ANALYTICS_ERR_INPUT', `events[${i}].${name} must be a finite number, got ${v}`)
    }
    const positive: Array<[string, number | undefined]> =
      e.kind === 'ratio_change'
        ? [
            ['oldRatio', e.oldRatio],
            ['newRatio', e.newRatio],
          ]
        : e.kind === 'replacement'
          ? [['newModulus', e.newModulus]]
          : []
    for (const [name, v] of positive) {
      if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw analyticsError('ANALYTICS_ERR_INPUT', `events[${i}].${name} must be > 0, got ${v}`)
    }
  })
  return [...events].sort((x, y) => x.ts - y.ts)
}

/** An event before the first sample still sets the modulus and the ratio the series starts with. */
function applyState(e: CounterEvent, st: CounterState): void {
  if (e.kind === 'replacement' && e.newModulus !== undefined) st.modulus = e.newModulus
  if (e.kind === 'ratio_change') st.factor *= e.newRatio / e.oldRatio
}

/**
 * The pieces of the pair (ref, s) across the events recorded between them, in time order: each leg
 * on one meter (and one register run) counted on its own, × the ratio in force, split pro rata by
 * time where a ratio changed without a reading.
 */
function acrossEvents(
  ref: Sample,
  refValue: number,
  s: Sample,
  events: readonly CounterEvent[],
  st: CounterState,
  anomalies: CounterAnomaly[],
): { pieces: Piece[]; nextRef: number } {
  const pieces: Piece[] = []
  let t = ref.ts
  let v = refValue
  let factors: Array<{ from: number; factor: number }> = [{ from: t, factor: st.factor }]
  let keep = false
  const close = (end: number, value: number): void => {
    const leg = legOf(v, value, st)
    if (leg.anomaly && leg.anomaly !== 'backstep')
      anomalies.push({ kind: leg.anomaly, ts: s.ts, from: ref.ts, to: s.ts, amount: Number.isNaN(leg.amount) ? 0 : leg.amount, detail: `${v} → ${value}` })
    keep = leg.anomaly === 'backstep'
    if (Number.isNaN(leg.amount)) {
      pieces.push({ start: t, end, amount: 0, known: false })
      return
    }
    const span = end - t
    let amount = 0
    factors.forEach((f, i) => {
      const to = i + 1 < factors.length ? (factors[i + 1] as { from: number }).from : end
      amount += span > 0 ? (leg.amount * (to - f.from) * f.factor) / span : i === factors.length - 1 ? leg.amount * f.factor : 0
    })
    pieces.push({ start: t, end, amount, known: true })
  }
  const restart = (at: number, value: number): void => {
    t = at
    v = value
    factors = [{ from: at, factor: st.factor }]
  }
  for (const e of events) {
    if (e.kind === 'replacement') {
      close(e.ts, e.oldFinalReading)
      if (e.newModulus !== undefined) st.modulus = e.newModulus
      restart(e.ts, e.newStartReading)
    } else if (e.kind === 'reset') {
      if (e.valueBefore !== undefined) close(e.ts, e.valueBefore)
      else pieces.push({ start: t, end: e.ts, amount: 0, known: false })
      restart(e.ts, e.valueAfter)
    } else {
      st.factor *= e.newRatio / e.oldRatio
      if (e.readingAtChange !== undefined) {
        close(e.ts, e.readingAtChange)
        restart(e.ts, e.readingAtChange)
      } else factors.push({ from: e.ts, factor: st.factor })
    }
  }
  close(s.ts, s.value)
  const total = pieces.reduce((sum, p) => sum + p.amount, 0)
  for (const e of events) anomalies.push({ kind: e.kind, ts: s.ts, from: ref.ts, to: s.ts, amount: total, detail: describeEvent(e) })
  return { pieces, nextRef: keep ? v : s.value }
}

function describeEvent(e: CounterEvent): string {
  switch (e.kind) {
    case 'replacement':
      return `meter replaced: old final ${e.oldFinalReading}, new start ${e.newStartReading}${e.newModulus === undefined ? '' : ` (modulus ${e.newModulus})`}`
    case 'ratio_change':
      return `ratio ${e.oldRatio} → ${e.newRatio}${e.readingAtChange === undefined ? '' : ` at reading ${e.readingAtChange}`}`
    case 'reset':
      return `register reset to ${e.valueAfter}${e.valueBefore === undefined ? '' : ` from ${e.valueBefore}`}`
  }
}

/** Pieces → increments: a zero-length piece (an event at a sample's ts) adds its amount to its neighbour. */
function piecesToIncrements(pieces: readonly Piece[], pairGap: boolean, out: Increment[]): void {
  let carry = 0
  let last: Increment | undefined
  for (const p of pieces) {
    if (p.end <= p.start) {
      if (last) last.amount += p.amount
      else carry += p.amount
      continue
    }
    last = { start: p.start, end: p.end, amount: p.amount + carry, gap: pairGap || !p.known }
    carry = 0
    out.push(last)
  }
}

/**
 * Per-pair increments of a cumulative counter, across the recorded events, with rollovers, backsteps,
 * unexplained resets and gaps classified. An unexplained reset is an increment with amount 0 and
 * `gap: true` (no coverage): its energy is unknown, never booked as 0 with full coverage.
 */
export function counterIncrements(samples: readonly Sample[], options: CounterOptions = {}): { increments: Increment[]; anomalies: CounterAnomaly[] } {
  const modulus = options.modulus
  if (modulus !== undefined && !(modulus > 0)) throw analyticsError('ANALYTICS_ERR_INPUT', `counter modulus must be > 0, got ${modulus}`)
  const st: CounterState = {
    modulus,
    factor: 1,
    band: options.rolloverBand ?? DEFAULT_ROLLOVER_BAND,
    backstepFraction: options.backstepFraction ?? DEFAULT_BACKSTEP_FRACTION,
  }
  const events = checkEvents(options.events ?? [])
  const maxGapMs = options.maxGapMs ?? DEFAULT_COUNTER_GAP_MS
  const { samples: clean, anomalies } = cleanSamples(samples, options.useBadQuality)
  const increments: Increment[] = []
  let ref: Sample | undefined
  let refValue = 0
  let next = 0
  for (const s of clean) {
    const between: CounterEvent[] = []
    for (; next < events.length && (events[next] as CounterEvent).ts <= s.ts; next++) {
      const e = events[next] as CounterEvent
      if (ref && e.ts > ref.ts) between.push(e)
      else applyState(e, st)
    }
    if (!ref) {
      ref = s
      refValue = s.value
      continue
    }
    const gap = s.ts - ref.ts > maxGapMs
    let nextRef = s.value
    let pieces: Piece[]
    if (between.length > 0) ({ pieces, nextRef } = acrossEvents(ref, refValue, s, between, st, anomalies))
    else {
      const leg = legOf(refValue, s.value, st)
      const pair = { ts: s.ts, from: ref.ts, to: s.ts }
      if (leg.anomaly === 'backstep') nextRef = refValue
      if (leg.anomaly) anomalies.push({ kind: leg.anomaly, ...pair, amount: Number.isNaN(leg.amount) ? 0 : leg.amount, detail: `${refValue} → ${s.value}` })
      pieces = [{ start: ref.ts, end: s.ts, amount: Number.isNaN(leg.amount) ? 0 : leg.amount * st.factor, known: !Number.isNaN(leg.amount) }]
    }
    if (gap) {
      const amount = pieces.reduce((sum, p) => sum + p.amount, 0)
      anomalies.push({ kind: 'gap', ts: s.ts, from: ref.ts, to: s.ts, amount, detail: `${(s.ts - ref.ts) / MINUTE_MS} min without data` })
    }
    piecesToIncrements(pieces, gap, increments)
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
