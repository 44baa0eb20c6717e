import { pathToFileURL } from 'node:url'
import { WorkCalendar } from '../alerts/calendar.ts'
import { learnRegimes } from '../alerts/regimes.ts'
import { median } from '../alerts/robust-stats.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { generateRealFaults, readUciPower, realRules, uciPath } from './alerts-eval-real.ts'

/**
 * How far the real-data evaluation's load faults stand out from the plant's own running load,
 * without the alert engine (on demand: `npx tsx bench/alerts-eval-spread.ts [--seeds=2018,11,42,99]`).
 *
 * Statistic: S_n = the mean of ln(P / m) over n consecutive 15-minute windows, all of them running
 * (above the running edge the detector learns from the first half, alerts/regimes.ts), m = the
 * median of the running windows of the same 15-minute slot of the calendar week (working days by
 * weekday, days off as one day) in the first half. Reported: |S_n| on the clean second half (99th,
 * 99.9th percentile, maximum) against the largest |S_n| over each step or spike fault of the given
 * seeds (the fault added to the file's power exactly as the evaluation injects it) that lands on
 * running load. A fault whose largest |S_n| stays under the clean maximum cannot be told from the
 * line's own swing by any threshold on S_n without firing on the clean half.
 */

const SLOT_MS = 15 * MINUTE_MS
const YEAR_START = Date.UTC(2017, 11, 31, 15)
const LEARN_UNTIL = Date.UTC(2018, 6, 1, 15)
const REPLAY_TO = Date.UTC(2018, 11, 30, 15)
const TZ = 'Asia/Seoul'
const WINDOWS = [1, 4, 8, 12, 16] as const

export interface SpreadResult {
  runningEdgeKw: number
  clean: Record<string, { windows: number; q99: number; q999: number; max: number }>
  faults: { seed: number; variant: string; start: string; deltaKw: number; maxAbsS: Record<string, number | null> }[]
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] as number
}

/** S_n at every window (NaN where one of the n windows is not running or its slot has no median). */
function spread(power: readonly number[], slotOf: (i: number) => number, medians: ReadonlyMap<number, number>, edgeKw: number, n: number): Float64Array {
  const r = power.map((p, i) => {
    const m = medians.get(slotOf(i))
    return p > edgeKw && m !== undefined ? Math.log(p / m) : Number.NaN
  })
  const s = new Float64Array(power.length).fill(Number.NaN)
  for (let i = n - 1; i < power.length; i++) {
    let sum = 0
    for (let j = i - n + 1; j <= i; j++) sum += r[j] as number
    s[i] = sum / n
  }
  return s
}

export function runSpreadAnalysis(seeds: readonly number[]): SpreadResult {
  const power = readUciPower(uciPath())
  const { rules } = validateAlertsConfig({ rules: realRules() }, 'spread analysis rules')
  const anomaly = rules.find((r) => r.kind === 'anomaly')
  if (!anomaly?.calendar) throw new Error('the evaluation rules carry no calendar')
  const cal = new WorkCalendar(anomaly.calendar, TZ)
  const ts = (i: number): number => YEAR_START + i * SLOT_MS
  const slotOf = (i: number): number => {
    const local = new Date(ts(i) + 9 * HOUR_MS)
    const inDay = local.getUTCHours() * 4 + Math.floor(local.getUTCMinutes() / 15)
    return (cal.isWorkingDay(ts(i)) ? (local.getUTCDay() + 6) % 7 : 7) * 96 + inDay
  }
  const learn = Math.round((LEARN_UNTIL - YEAR_START) / SLOT_MS)
  const replayEnd = Math.round((REPLAY_TO - YEAR_START) / SLOT_MS)
  const levels = learnRegimes(power.slice(0, learn), { minRatio: anomaly.regimeRatio, minRegimeShare: anomaly.minRegimeShare })
  if (!levels) throw new Error('no running regime in the first half')
  const edgeKw = levels.edgesKw[1]
  const bySlot = new Map<number, number[]>()
  for (let i = 0; i < learn; i++) if ((power[i] as number) > edgeKw) bySlot.set(slotOf(i), [...(bySlot.get(slotOf(i)) ?? []), power[i] as number])
  const medians = new Map([...bySlot].filter(([, v]) => v.length >= 3).map(([s, v]) => [s, median(v)] as const))

  const clean: SpreadResult['clean'] = {}
  for (const n of WINDOWS) {
    const s = spread(power, slotOf, medians, edgeKw, n)
    const abs = [...s.subarray(learn, replayEnd)].filter((v) => !Number.isNaN(v)).map(Math.abs)
    abs.sort((a, b) => a - b)
    clean[`${n * 15}min`] = { windows: abs.length, q99: quantile(abs, 0.99), q999: quantile(abs, 0.999), max: abs.at(-1) ?? Number.NaN }
  }
  const meanKw = power.slice(0, learn).reduce((a, b) => a + b, 0) / learn
  const faults: SpreadResult['faults'] = []
  for (const seed of seeds) {
    const placed = generateRealFaults({ power, meanKw, isDayOff: (t) => !cal.isWorkingDay(t) }, LEARN_UNTIL, REPLAY_TO, 4, seed)
    for (const f of placed) {
      if (!['step_up', 'step_down', 'spike'].includes(f.variant) || f.end === null) continue
      const a = Math.floor((f.start - YEAR_START) / SLOT_MS)
      const b = Math.floor((f.end - YEAR_START) / SLOT_MS)
      const delta = f.parameters.deltaKw as number
      const faulty = power.map((p, i) => (i >= a && i < b ? p + delta : p))
      const maxAbsS: Record<string, number | null> = {}
      for (const n of WINDOWS) {
        const s = spread(faulty, slotOf, medians, edgeKw, n)
        let best: number | null = null
        for (let i = a; i < b + n - 1; i++) if (!Number.isNaN(s[i] as number)) best = Math.max(best ?? 0, Math.abs(s[i] as number))
        maxAbsS[`${n * 15}min`] = best
      }
      // Only faults on running load: at idle the detector's bands are narrow and these faults are caught.
      if (Object.values(maxAbsS).some((v) => v !== null))
        faults.push({ seed, variant: f.variant, start: new Date(f.start + 9 * HOUR_MS).toISOString().slice(0, 16), deltaKw: delta, maxAbsS })
    }
  }
  return { runningEdgeKw: edgeKw, clean, faults }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv.find((a) => a.startsWith('--seeds='))
  const seeds = arg ? arg.slice(8).split(',').map(Number) : [2018, 11, 42, 99]
  process.stdout.write(`${JSON.stringify(runSpreadAnalysis(seeds), null, 2)}\n`)
}
