/**
 * Production regimes learned from a device's own power when there is no production counter: idle,
 * reduced and running levels found by 1-D k-means on log power (three centres started at the 10th,
 * 50th and 90th percentile), and per slot of the (calendar) week which regimes occur and at what
 * level. A window is normal when its power fits a regime that the slot has shown often enough
 * (`minRegimeShare`): a worked Saturday or a late evening in the history adds a second plausible
 * regime to a few slots instead of widening every band, and no single band spans idle and running.
 */

import { isUnexpectedStart } from './regime-start.ts'
import { median, robustSigma } from './robust-stats.ts'

/** Regime indices: 0 idle, 1 reduced, 2 running. */
export const REGIMES = ['idle', 'reduced', 'running'] as const
const R = REGIMES.length

export interface RegimeLevels {
  /** Centres of the regimes, kW. */
  levelsKw: [number, number, number]
  /** Upper edges of idle and reduced (geometric midpoints between centres), kW. */
  edgesKw: [number, number]
}

export interface RegimeSettings {
  /** Running/idle level ratio below which the device has one regime only. */
  minRatio: number
  /** A regime is plausible in a slot when at least this share of the slot's history was in it. */
  minRegimeShare: number
}

/**
 * Idle and reduced centres closer than this ratio are one level that 3-centre k-means split in two
 * (a line idle most of the week, its idle quantised or noisy). Two halves of one log-normal level lie
 * about 1.6 σ apart: 1.5 covers an idle spread up to σ ≈ 0.25; a real reduced regime (half load, a
 * slow shift) lies several times above idle.
 */
export const NEAR_LEVELS_RATIO = 1.5

/** 1-D k-means with 3 centres on sorted log values from the given start, 30 rounds; centres ascending. */
function kMeans3(x: readonly number[], start: readonly number[]): number[] {
  const c = [...start]
  for (let it = 0; it < 30; it++) {
    const sum = [0, 0, 0]
    const n = [0, 0, 0]
    for (const v of x) {
      let best = 0
      for (let j = 1; j < R; j++) if (Math.abs(v - (c[j] as number)) < Math.abs(v - (c[best] as number))) best = j
      sum[best] = (sum[best] as number) + v
      n[best] = (n[best] as number) + 1
    }
    for (let j = 0; j < R; j++) if ((n[j] as number) > 0) c[j] = (sum[j] as number) / (n[j] as number)
  }
  return c.sort((a, b) => a - b)
}

/** Regimes of a device's window powers; undefined when idle and running are not apart by minRatio. */
export function learnRegimes(powersKw: readonly number[], settings: RegimeSettings): RegimeLevels | undefined {
  if (powersKw.length < 3 * R) return undefined
  const sorted = [...powersKw].sort((a, b) => a - b)
  const eps = Math.max(1e-3, Math.abs(sorted[Math.floor(sorted.length / 2)] as number) * 1e-3)
  const x = sorted.map((p) => Math.log(Math.max(p, eps)))
  const at = (q: number): number => x[Math.floor(q * (x.length - 1))] as number
  let c = kMeans3(x, [at(0.1), at(0.5), at(0.9)])
  // Started at the median, a line idle most of the week splits its idle in two and puts its few
  // reduced windows (starts, stops) into running: then start the middle centre halfway between the
  // 10th and 90th percentile. A middle centre that gets no window keeps its start — a two-level line
  // has an empty reduced regime between idle and running.
  if ((c[1] as number) - (c[0] as number) < Math.log(NEAR_LEVELS_RATIO)) {
    const again = kMeans3(x, [at(0.1), (at(0.1) + at(0.9)) / 2, at(0.9)])
    if ((again[1] as number) - (again[0] as number) >= Math.log(NEAR_LEVELS_RATIO)) c = again
  }
  const levels = c.map(Math.exp) as [number, number, number]
  if (!(levels[2] / Math.max(levels[0], eps) >= settings.minRatio)) return undefined
  return { levelsKw: levels, edgesKw: [Math.sqrt(levels[0] * levels[1]), Math.sqrt(levels[1] * levels[2])] }
}

export function regimeOfPower(levels: RegimeLevels, kw: number): number {
  return kw < levels.edgesKw[0] ? 0 : kw < levels.edgesKw[1] ? 1 : 2
}

/** Per slot and regime: share of the slot's history and median level; pooled relative spread per regime. */
export interface RegimeSlots {
  levels: RegimeLevels
  /** slots × 3: share of the slot's windows in each regime (NaN: the slot has too little history). */
  share: number[]
  /** slots × 3: median power of the slot's windows in each regime, kW (NaN: none). */
  medianKw: number[]
  /** Robust relative σ per regime (1.4826 × MAD of (P − slot median) / slot median), pooled over slots. */
  relSigma: [number, number, number]
  /**
   * Robust σ per regime of ln(P / slot median), pooled over slots: the bands are multiplicative,
   * [median · e^(−kσ), median · e^(kσ)], because load varies in proportion to its level — a linear
   * band of a noisy running regime reaches below zero and hides every drop and every idle-level fault.
   */
  logSigma: [number, number, number]
  /** Share of the whole history in each regime (used for slots with too little history). */
  overallShare: [number, number, number]
  /**
   * Per slot: the share of the days the line was at rest there (restWindows windows below running)
   * on which it started (came up to running level) there, ± a tolerance (alerts/regime-start.ts).
   * NaN: too few days at rest. Absent: no start check.
   */
  startShare?: number[]
  /** Windows below running that make the line "at rest" (the learning rule's restFor / window). */
  restWindows?: number
}

/**
 * Windows a slot needs before its own regime shares count. A slot with fewer borrows its neighbours
 * of the same day of the calendar week (± 1, ± 2, … up to MAX_WIDEN slots) until the pool has this
 * many; only then does it fall back to the overall shares. Two weeks of history give 2 windows per
 * slot: ± 1 slot (6 windows) is enough, and the pool blurs a shift edge by one window at most.
 */
export const MIN_SLOT_SAMPLES = 3
/** Most slots a short slot borrows on each side (4: one hour of 15-minute windows). */
export const MAX_WIDEN = 4
/**
 * Log spread of a regime whose windows never vary at all (every one equal): the last resort after
 * the slots' own spread and the spread around the regime's level. Wide on purpose: nothing measured.
 */
export const FALLBACK_LOG_SIGMA: readonly [number, number, number] = [0.25, 0.5, 0.5]

/** The slots whose windows judge slot s: itself, or with its neighbours of the same day until MIN_SLOT_SAMPLES. */
function poolOf(s: number, totals: readonly number[], slotsPerDay: number, minSamples: number): number[] {
  if ((totals[s] as number) >= minSamples) return [s]
  const dayStart = s - (s % slotsPerDay)
  const dayEnd = Math.min(dayStart + slotsPerDay, totals.length)
  const pool = [s]
  let n = totals[s] as number
  for (let w = 1; w <= MAX_WIDEN && n < minSamples; w++)
    for (const t of [s - w, s + w])
      if (t >= dayStart && t < dayEnd) {
        pool.push(t)
        n += totals[t] as number
      }
  return pool
}

/**
 * Fits the per-slot regime table from windows already given their slot index. `slotsPerDay`: slots
 * of one day of the calendar week — a short slot borrows neighbours within its day only (default:
 * the whole range is one day). `minSlotSamples`: windows a slot (or its pool) needs for its own shares.
 */
export function fitRegimeSlots(
  slotOf: readonly number[],
  powerKw: readonly number[],
  slotCount: number,
  levels: RegimeLevels,
  slotsPerDay = slotCount,
  minSlotSamples = MIN_SLOT_SAMPLES,
): RegimeSlots {
  const by: number[][] = Array.from({ length: slotCount * R }, () => [])
  const totals = new Array<number>(slotCount).fill(0)
  const overall = [0, 0, 0]
  const aroundLevel: number[][] = [[], [], []]
  slotOf.forEach((s, i) => {
    const p = powerKw[i] as number
    const g = regimeOfPower(levels, p)
    ;(by[s * R + g] as number[]).push(p)
    totals[s] = (totals[s] as number) + 1
    overall[g] = (overall[g] as number) + 1
    if (p > 0) (aroundLevel[g] as number[]).push(Math.log(p / (levels.levelsKw[g] as number)))
  })
  const share: number[] = []
  const medianKw: number[] = []
  const rel: number[][] = [[], [], []]
  const logRel: number[][] = [[], [], []]
  for (let s = 0; s < slotCount; s++) {
    const pool = poolOf(s, totals, slotsPerDay, minSlotSamples)
    const total = pool.reduce((a, t) => a + (totals[t] as number), 0)
    for (let g = 0; g < R; g++) {
      const list = pool.length === 1 ? (by[s * R + g] as number[]) : pool.flatMap((t) => by[t * R + g] as number[])
      const m = median(list)
      share.push(total >= minSlotSamples ? list.length / total : Number.NaN)
      medianKw.push(m)
      if (list.length >= minSlotSamples && m > 0)
        for (const p of list) {
          ;(rel[g] as number[]).push((p - m) / m)
          if (p > 0) (logRel[g] as number[]).push(Math.log(p / m))
        }
    }
  }
  const n = Math.max(1, slotOf.length)
  // σ: the slots' own spread; a regime never seen 3 times in one slot (or pool), or always at exactly
  // its slot's level: its spread around its level over the whole history; none at all: the fallback.
  const spread = (pooled: number[][], g: number, scale: (v: number) => number): number => {
    const own = robustSigma(pooled[g] as number[])
    if (Number.isFinite(own) && own > 0) return own
    const values = (aroundLevel[g] as number[]).map(scale)
    const around = robustSigma(values)
    if (Number.isFinite(around) && around > 0) return around
    // More than half the windows equal (quantised readings): the mean absolute deviation, scaled to σ.
    const m = median(values)
    const mean = values.reduce((a, v) => a + Math.abs(v - m), 0) / Math.max(1, values.length)
    return mean > 0 ? 1.2533 * mean : (FALLBACK_LOG_SIGMA[g] as number)
  }
  const relSigma = [0, 1, 2].map((g) => spread(rel, g, (v) => Math.exp(v) - 1)) as [number, number, number]
  const logSigma = [0, 1, 2].map((g) => spread(logRel, g, (v) => v)) as [number, number, number]
  return { levels, share, medianKw, relSigma, logSigma, overallShare: overall.map((c) => c / n) as [number, number, number] }
}

export interface RegimeVerdict {
  abnormal: boolean
  /** Normal enough to count towards auto-resolve: inside clearBand (default 0.7) × the band of a plausible regime. */
  normal: boolean
  /** Expected power: the median of the plausible regime nearest to the value, kW. */
  expectedKw: number
  lowKw: number
  highKw: number
  /** An unexpected start (alerts/regime-start.ts): expected is then the level the line rested at. */
  start?: boolean
}

export interface RegimeBandOptions {
  k: number
  minBandKw: number
  minRegimeShare: number
  direction: 'both' | 'above' | 'below'
  /**
   * A window at the level of a lower regime than any the slot expects — the line stopped or slowed
   * down early — is not an anomaly (it wastes nothing; machine states and production say why).
   * A drop inside the expected regime still is. Default true.
   */
  lowerRegimeNormal?: boolean
  /**
   * The means of the windows right before this one, oldest first, consecutive (the start check).
   * Absent: no start check.
   */
  recentKw?: readonly number[]
  /** A start at a slot where the history shows one on fewer than this share of the days at rest is abnormal (0: off). */
  minStartShare?: number
  /** Share of a band a window must lie inside to count towards clearing (default 0.7). */
  clearBand?: number
}

/** A plausible regime of a slot and its band. */
export interface RegimeBand {
  regime: number
  medianKw: number
  lowKw: number
  highKw: number
}

/**
 * The plausible regimes of a slot and their bands: [median · e^(−kσ), median · e^(kσ)] with σ the
 * regime's log spread, each side at least minBandKw from the median.
 */
export function regimeBands(t: RegimeSlots, slot: number, o: Pick<RegimeBandOptions, 'k' | 'minBandKw' | 'minRegimeShare'>): RegimeBand[] {
  const out: RegimeBand[] = []
  for (let g = 0; g < R; g++) {
    const slotShare = t.share[slot * R + g]
    const share = slotShare === undefined || Number.isNaN(slotShare) ? (t.overallShare[g] as number) : slotShare
    if (share < o.minRegimeShare) continue
    const own = t.medianKw[slot * R + g]
    const m = own === undefined || Number.isNaN(own) ? (t.levels.levelsKw[g] as number) : own
    const f = Math.exp(o.k * (t.logSigma[g] as number))
    // A regime's band starts no lower than the regime itself (its lower edge): a noisy running
    // regime must not claim levels that are, by definition, reduced or idle.
    const floor = g === 0 ? Number.NEGATIVE_INFINITY : (t.levels.edgesKw[g - 1] as number)
    const low = Math.min(Math.max(m / f, Math.min(floor, m)), m - o.minBandKw)
    out.push({ regime: g, medianKw: m, lowKw: low, highKw: Math.max(m * f, m + o.minBandKw) })
  }
  // Idle and running both plausible: a window that spans a start or a stop averages to a level in
  // between, so the whole reduced range is normal there too.
  if (out.length === 2 && out[0]?.regime === 0 && out[1]?.regime === 2) {
    out.splice(1, 0, { regime: 1, medianKw: t.levels.levelsKw[1], lowKw: t.levels.edgesKw[0], highKw: t.levels.edgesKw[1] })
  }
  return out
}

/** Where a value lies in a band: 0 at the median, ±1 at its edges (each side scaled on its own). */
function bandPosition(b: RegimeBand, kw: number): number {
  return kw >= b.medianKw ? (kw - b.medianKw) / (b.highKw - b.medianKw) : (kw - b.medianKw) / (b.medianKw - b.lowKw)
}

/** The value lies in the band of a regime below every plausible regime of the slot. */
function inLowerRegime(t: RegimeSlots, slot: number, plausible: readonly RegimeBand[], kw: number, k: number): boolean {
  const lowest = Math.min(...plausible.map((b) => b.regime))
  for (let g = 0; g < lowest; g++) {
    const own = t.medianKw[slot * R + g]
    const m = own === undefined || Number.isNaN(own) ? (t.levels.levelsKw[g] as number) : own
    const f = Math.exp(k * (t.logSigma[g] as number))
    if (kw >= m / f && kw <= m * f) return true
  }
  return false
}

/** Judges a window's mean power against the slot's plausible regimes. */
export function judgeRegimeWindow(t: RegimeSlots, slot: number, powerKw: number, o: RegimeBandOptions): RegimeVerdict {
  const bands = regimeBands(t, slot, o)
  if (bands.length === 0) return { abnormal: false, normal: true, expectedKw: powerKw, lowKw: powerKw, highKw: powerKw }
  let nearest = bands[0] as RegimeBand
  for (const b of bands) if (Math.abs(bandPosition(b, powerKw)) < Math.abs(bandPosition(nearest, powerKw))) nearest = b
  const inside = bands.some((b) => Math.abs(bandPosition(b, powerKw)) <= 1)
  const normal = bands.some((b) => Math.abs(bandPosition(b, powerKw)) < (o.clearBand ?? 0.7))
  // above: extra load — not inside any band and above the band of some plausible regime; below: the mirror.
  const aboveSome = bands.some((b) => powerKw > b.highKw)
  const belowSome = bands.some((b) => powerKw < b.lowKw)
  const stoppedEarly = o.lowerRegimeNormal !== false && !aboveSome && inLowerRegime(t, slot, bands, powerKw, o.k)
  const abnormal = !inside && !stoppedEarly && (o.direction === 'both' || (o.direction === 'above' ? aboveSome : belowSome))
  if (!abnormal && o.direction !== 'below' && t.restWindows !== undefined) {
    const runningEdgeKw = t.levels.edgesKw[1]
    const check = { runningEdgeKw, restWindows: t.restWindows, minStartShare: o.minStartShare ?? 0 }
    if (isUnexpectedStart(t.startShare?.[slot], o.recentKw, powerKw, check)) {
      // Expected: the level the line rested at (the median of its last windows); normal below running.
      const rest = (o.recentKw as readonly number[]).slice(-t.restWindows)
      return { abnormal: true, normal: false, expectedKw: median(rest), lowKw: Math.min(...rest), highKw: runningEdgeKw, start: true }
    }
  }
  return { abnormal, normal, expectedKw: nearest.medianKw, lowKw: nearest.lowKw, highKw: nearest.highKw }
}

/** Share of the slot's history in the idle regime (NaN: unknown). */
export function idleShare(t: RegimeSlots, slot: number): number {
  return t.share[slot * R] ?? Number.NaN
}
