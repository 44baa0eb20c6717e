import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { deviceKey, PlantModelSchema } from '../core/plant.ts'
import { emptyBaselineBook, WEEK_SLOTS, type DeviceBaseline } from './baseline.ts'
import { AlertEngine, type AlertTransition } from './engine.ts'
import { fitStartShares, isUnexpectedStart, RecentWindows } from './regime-start.ts'
import { judgeRegimeWindow, type RegimeSlots } from './regimes.ts'
import { validateAlertsConfig } from './rules.ts'

const W = 900_000
/** Running starts at 77.46 kW: the geometric midpoint of reduced 30 and running 200 kW. */
const EDGE = Math.sqrt(6000)

/** Days of 8 windows each (one calendar day of 8 slots), consecutive in time. */
function series(days: number[][]): { starts: number[]; slotOf: number[]; power: number[] } {
  const power = days.flat()
  return { starts: power.map((_, i) => i * W), slotOf: power.map((_, i) => i % 8), power }
}
const FIT = { windowMs: W, slotsPerDay: 8, slotCount: 8, runningEdgeKw: EDGE, restWindows: 2, toleranceWindows: 0 }

describe('start shares (fitStartShares)', () => {
  // Each day: at rest, a run at slots 3–4, at rest again.
  const day = [10, 10, 10, 200, 200, 10, 10, 10]

  it('a slot where the line starts every day it is at rest has share 1; a slot where it never starts 0; too few days at rest NaN', () => {
    const s = series([day, day, day, day, day])
    const share = fitStartShares(s.starts, s.slotOf, s.power, FIT)
    // slot 3: at rest (slots 1, 2 below 77.46 kW) on 5 days, started on 5 → 1
    expect(share[3]).toBe(1)
    // slot 7: at rest on 5 days (slots 5, 6), never started → 0; slot 0: at rest on days 2–5 (4), never → 0
    expect(share[7]).toBe(0)
    expect(share[0]).toBe(0)
    // slot 6: one window at rest after the run (slot 5) is not enough (restWindows 2): never at rest → NaN
    expect(share[6]).toBeNaN()
    // slot 4 follows the start: running, never at rest → NaN
    expect(share[4]).toBeNaN()
  })

  it('one late start in five days at rest gives 0.2; a tolerance of one window credits the starts next door', () => {
    const late = [10, 10, 10, 200, 200, 10, 10, 180]
    const s = series([day, day, day, day, late])
    expect(fitStartShares(s.starts, s.slotOf, s.power, FIT)[7]).toBeCloseTo(1 / 5, 12)
    // tolerance 1: slot 2 counts the starts of slots 1–3 (0 + 0 + 5) over its 5 days at rest
    const wide = fitStartShares(s.starts, s.slotOf, s.power, { ...FIT, toleranceWindows: 1 })
    expect(wide[2]).toBe(1)
    expect(wide[6]).toBeNaN()
  })

  it('a gap in the history breaks a rest: unknown windows are not rest', () => {
    const s = series([day, day, day, day, day])
    // Shift the last three days by one hour: the window after the gap starts a new run of rest.
    const starts = s.starts.map((t, i) => (i >= 16 ? t + 4 * W : t))
    const share = fitStartShares(starts, s.slotOf, s.power, FIT)
    // slot 0 of day 3 follows the gap (restRun reset): at rest on days 2, 4, 5 only → 3 days, 0 starts
    expect(share[0]).toBe(0)
    // slot 1 of day 3 has one window of rest after the gap: at rest on days 2, 4, 5 → still 3 → 0
    expect(share[1]).toBe(0)
  })
})

describe('unexpected start (isUnexpectedStart)', () => {
  const O = { runningEdgeKw: EDGE, restWindows: 2, minStartShare: 0.1 }

  it('fires for a line at rest for two windows coming up to running level where the history shows starts on < 10 % of its days at rest', () => {
    expect(isUnexpectedStart(0, [10, 12], 150, O)).toBe(true)
    expect(isUnexpectedStart(0.05, [60, 12, 11], 80, O)).toBe(true)
  })

  it('does not fire for a continuing run, a usual start, an unknown slot, too little known rest, a level below running, or when switched off', () => {
    // the window before was running: the day's run continues (a late evening), not a start
    expect(isUnexpectedStart(0, [10, 200], 150, O)).toBe(false)
    // starts here on 20 % of the days at rest
    expect(isUnexpectedStart(0.2, [10, 12], 150, O)).toBe(false)
    expect(isUnexpectedStart(Number.NaN, [10, 12], 150, O)).toBe(false)
    expect(isUnexpectedStart(undefined, [10, 12], 150, O)).toBe(false)
    // only one window before it is known (a gap): rest not shown
    expect(isUnexpectedStart(0, [12], 150, O)).toBe(false)
    // 70 kW is below running (77.46): the regime bands judge it
    expect(isUnexpectedStart(0, [10, 12], 70, O)).toBe(false)
    expect(isUnexpectedStart(0, [10, 12], 150, { ...O, minStartShare: 0 })).toBe(false)
  })
})

describe('regime window with the start check (judgeRegimeWindow)', () => {
  // Slot 0: idle 80 % of the history, running 20 % (evenings that ran late); starts there: never.
  const t: RegimeSlots = {
    levels: { levelsKw: [10, 30, 200], edgesKw: [Math.sqrt(300), EDGE] },
    share: [0.8, 0, 0.2],
    medianKw: [10, Number.NaN, 200],
    relSigma: [0.1, 0.2, 0.35],
    logSigma: [0.1, 0.2, 0.3],
    overallShare: [0.5, 0.2, 0.3],
    startShare: [0],
    restWindows: 2,
  }
  const O = { k: 5, minBandKw: 0.5, minRegimeShare: 0.1, direction: 'both' as const, minStartShare: 0.1 }

  it('150 kW after two windows at 10 and 11 kW: abnormal, expected the rest level 10.5 kW, normal up to the running edge', () => {
    const v = judgeRegimeWindow(t, 0, 150, { ...O, recentKw: [300, 10, 11] })
    expect(v).toMatchObject({ abnormal: true, normal: false, start: true, expectedKw: 10.5, lowKw: 10 })
    expect(v.highKw).toBeCloseTo(EDGE, 10)
  })

  it('150 kW after 180 and 190 kW (a late run continuing) is normal: the running band of the slot (200 · e^(±1.5)) holds it', () => {
    const v = judgeRegimeWindow(t, 0, 150, { ...O, recentKw: [180, 190] })
    expect(v.abnormal).toBe(false)
    expect(v.start).toBeUndefined()
  })

  it('no start check without recent windows, for direction below, or where starts are usual', () => {
    expect(judgeRegimeWindow(t, 0, 150, O).abnormal).toBe(false)
    expect(judgeRegimeWindow(t, 0, 150, { ...O, direction: 'below', recentKw: [10, 11] }).abnormal).toBe(false)
    expect(judgeRegimeWindow({ ...t, startShare: [0.3] }, 0, 150, { ...O, recentKw: [10, 11] }).abnormal).toBe(false)
  })
})

describe('RecentWindows', () => {
  it('gives the consecutive windows right before a start, oldest first, and keeps only the last few', () => {
    const r = new RecentWindows(W, 3)
    r.push(0, 1)
    r.push(W, 2)
    r.push(2 * W, 3)
    expect(r.before(3 * W)).toEqual([1, 2, 3])
    r.push(3 * W, 4)
    expect(r.before(4 * W)).toEqual([2, 3, 4])
    // a window missing (no sample in 4W…5W): the rest before it is unknown
    expect(r.before(5 * W + W)).toEqual([])
    r.push(5 * W, 6)
    expect(r.before(6 * W)).toEqual([6])
  })
})

describe('engine: an unexpected start opens an anomaly alert that says so, in both languages', () => {
  const plant = validateConfig(PlantModelSchema, {
    timezone: 'Asia/Shanghai',
    enterprises: [
      { id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', mainMeter: 'main', devices: [{ id: 'main', kind: 'meter', name: 'Incomer' }] }] }] },
    ],
  })
  const main = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' }
  const slots = WEEK_SLOTS * 4 // 15-minute slots of the week
  // Every slot: idle 80 % (10 kW), running 20 % (200 kW: late runs), and never a start from rest.
  const table: RegimeSlots = {
    levels: { levelsKw: [10, 30, 200], edgesKw: [Math.sqrt(300), EDGE] },
    share: Array.from({ length: slots }, () => [0.8, 0, 0.2]).flat(),
    medianKw: Array.from({ length: slots }, () => [10, Number.NaN, 200]).flat(),
    relSigma: [0.1, 0.2, 0.35],
    logSigma: [0.1, 0.2, 0.3],
    overallShare: [0.8, 0, 0.2],
    startShare: new Array<number>(slots).fill(0),
    restWindows: 2,
  }
  const baseline: DeviceBaseline = {
    model: 'regime',
    intercept: 0,
    slope: 0,
    slots: new Array<number>(slots).fill(10),
    slotMs: W,
    sigma: 0.35,
    tail: 0,
    floorKw: 0.5,
    quantumKw: 0,
    levelKw: 10,
    n: 4 * slots,
    timezone: 'Asia/Shanghai',
    regimeSlots: table,
  }
  const T0 = Date.UTC(2026, 0, 4, 16, 0) // Monday 00:00 Shanghai
  function run(windowsKw: number[]): AlertTransition[] {
    const book = emptyBaselineBook()
    book.anomaly.set(deviceKey(main), baseline)
    const rules = validateAlertsConfig({
      rules: [{ id: 'power-spike', kind: 'anomaly', k: 12, direction: 'above', for: '15m', clearAfter: '30m', minStartShare: 0.1 }],
    }).rules
    const engine = new AlertEngine({ plant, rules, baselines: book })
    const out: AlertTransition[] = []
    // Three samples per window (every 5 min), time passing every 5 min.
    windowsKw.forEach((kw, w) => {
      for (let j = 0; j < 3; j++) {
        const ts = T0 + w * W + j * 5 * 60_000
        out.push(...engine.ingest(main, { ts, values: { active_power_kw: kw } }), ...engine.tick(ts))
      }
    })
    out.push(...engine.tick(T0 + windowsKw.length * W + 2 * 60_000))
    return out
  }

  it('10, 10 kW then 150 kW: opened at the end of the third window, expected 10 kW, normal up to 77.5 kW', () => {
    const out = run([10, 10, 150])
    expect(out.map((t) => t.event)).toEqual(['opened'])
    const t = out[0] as AlertTransition
    expect(t.ts).toBe(T0 + 3 * W)
    expect(t.alert).toMatchObject({ ruleKind: 'anomaly', reason: 'unexpected-start', value: 150, threshold: 10, expectedLow: 10 })
    expect(t.text.en).toBe(
      '[alert] Incomer (l1): unexpected start: 150 kW after the line was at rest (about 10.0 kW), a start the history rarely shows at this time (running from 77.5 kW)',
    )
    expect(t.text.zh).toBe('[告警] Incomer (l1)：异常启动：停机/低负荷（约 10.0 kW）后升至 150 kW，历史上此时段很少从停机启动（运行水平自 77.5 kW 起）')
  })

  it('180, 190 kW then 150 kW (a run going on): no alert; 10 kW then 150 kW (rest for one window only): no alert', () => {
    expect(run([180, 190, 150])).toEqual([])
    expect(run([180, 10, 150])).toEqual([])
  })
})
