import { cleanSamples, counterIncrements, type CounterEvent } from './energy.ts'
import type { Sample, TimeRange } from './types.ts'

/** Data-quality report of one device's series: completeness, gaps, duplicates, stuck values, resets, bad quality. */

export interface QualityOptions {
  /** The device's configured sampling interval (ms). */
  expectedIntervalMs: number
  /** A gap is a spacing longer than this multiple of the expected interval (default 2). */
  gapFactor?: number
  /** A value unchanged across at least this many consecutive samples is stuck (default 10). */
  stuckMinSamples?: number
  /**
   * Cumulative counter: report resets and rollovers (with the counter's modulus) instead of treating
   * drops as data; a drop that none of the recorded `events` explains is an unexplained reset.
   */
  cumulative?: { modulus?: number; events?: readonly CounterEvent[] }
}

export interface QualityReport {
  range: TimeRange
  samples: number
  expectedSamples: number
  /** min(1, distinct good samples / expected samples) */
  completeness: number
  gaps: Array<{ from: number; to: number; missingSamples: number }>
  duplicates: number
  outOfOrder: number
  invalid: number
  badQuality: number
  uncertainQuality: number
  /** Share of samples flagged bad. */
  badShare: number
  stuck: Array<{ from: number; to: number; value: number; samples: number }>
  /** Counter resets: recorded ones and unexplained drops. */
  resets: number
  rollovers: number
  /** Drops no meter event explains (nor a rollover, nor jitter): the pair of samples around each. */
  unexplainedResets: Array<{ from: number; to: number; detail: string }>
  /** Recorded meter events (replacement, ratio change, reset) the series crossed. */
  meterEvents: number
}

/** Quality of `samples` over `range` against the expected sampling interval. */
export function qualityReport(samples: readonly Sample[], range: TimeRange, options: QualityOptions): QualityReport {
  const interval = options.expectedIntervalMs
  const gapFactor = options.gapFactor ?? 2
  const stuckMin = options.stuckMinSamples ?? 10
  const inRange = samples.filter((s) => s.ts >= range.start && s.ts < range.end)
  const { samples: clean, anomalies } = cleanSamples(inRange, true)
  const count = (k: string): number => anomalies.filter((a) => a.kind === k).length
  const badQuality = inRange.filter((s) => s.quality === 'bad').length
  const good = clean.filter((s) => s.quality !== 'bad')
  const expectedSamples = Math.max(1, Math.floor((range.end - range.start) / interval))
  const gaps: QualityReport['gaps'] = []
  // The range edges count as neighbours, so a device silent at the start or end shows a gap too.
  const points = [range.start - interval, ...good.map((s) => s.ts), range.end]
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1] as number
    const b = points[k] as number
    if (b - a > gapFactor * interval) gaps.push({ from: Math.max(a, range.start), to: b, missingSamples: Math.round((b - a) / interval) - 1 })
  }
  const stuck: QualityReport['stuck'] = []
  let runStart = 0
  for (let k = 1; k <= good.length; k++) {
    if (k < good.length && (good[k] as Sample).value === (good[runStart] as Sample).value) continue
    const len = k - runStart
    if (len >= stuckMin)
      stuck.push({ from: (good[runStart] as Sample).ts, to: (good[k - 1] as Sample).ts, value: (good[runStart] as Sample).value, samples: len })
    runStart = k
  }
  let resets = 0
  let rollovers = 0
  let meterEvents = 0
  const unexplainedResets: QualityReport['unexplainedResets'] = []
  if (options.cumulative) {
    const { modulus, events } = options.cumulative
    const inc = counterIncrements(good, { ...(modulus === undefined ? {} : { modulus }), ...(events === undefined ? {} : { events }), maxGapMs: Infinity })
    for (const a of inc.anomalies) {
      if (a.kind === 'unexplained_reset') unexplainedResets.push({ from: a.from ?? a.ts, to: a.to ?? a.ts, detail: a.detail ?? '' })
      if (a.kind === 'rollover') rollovers++
      if (a.kind === 'reset' || a.kind === 'unexplained_reset') resets++
      if (a.kind === 'reset' || a.kind === 'replacement' || a.kind === 'ratio_change') meterEvents++
    }
  }
  return {
    range,
    samples: inRange.length,
    expectedSamples,
    completeness: Math.min(1, good.length / expectedSamples),
    gaps,
    duplicates: count('duplicate'),
    outOfOrder: count('out_of_order'),
    invalid: count('invalid'),
    badQuality,
    uncertainQuality: inRange.filter((s) => s.quality === 'uncertain').length,
    badShare: inRange.length > 0 ? badQuality / inRange.length : 0,
    stuck,
    resets,
    rollovers,
    unexplainedResets,
    meterEvents,
  }
}
