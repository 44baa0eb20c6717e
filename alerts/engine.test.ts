import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { emptyBaselineBook, fitDeviceBaseline, WEEK_SLOTS, type BaselineWindow } from './baseline.ts'
import { AlertEngine, openedAtOfId, type AlertTransition } from './engine.ts'
import { foldAlertEvents, transitionToEvent } from './events.ts'
import { validateAlertsConfig } from './rules.ts'
import { MINUTE_MS } from '../core/duration.ts'

/** 2026-01-05 00:00 Asia/Shanghai (a Monday), on a 15-minute boundary. */
const T0 = Date.UTC(2026, 0, 4, 16, 0)
const MIN = MINUTE_MS
const HOUR = 60 * MIN

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          contractedDemandKw: 1000,
          lines: [
            {
              id: 'l1',
              mainMeter: 'main',
              shifts: [{ name: 'day', start: '08:00', end: '16:00' }],
              product: { id: 'disc', unit: 'pcs', productionDevice: 'plc' },
              devices: [
                { id: 'main', kind: 'meter', name: '总表 Incomer' },
                { id: 'pump', kind: 'meter' },
                { id: 'plc', kind: 'plc' },
                { id: 'cnc', kind: 'machine' },
              ],
            },
          ],
        },
      ],
    },
  ],
})
const at = (device: string) => ({ enterprise: 'acme', site: 'wuhan', line: 'l1', device })
const MAIN = at('main')
const PUMP = at('pump')

function engineWith(rules: unknown[], book = emptyBaselineBook()): AlertEngine {
  return new AlertEngine({ plant: PLANT, rules: validateAlertsConfig({ rules }).rules, baselines: book })
}

/** Feeds `values[i]` at T0 + i minutes (plus `offset`); returns every transition as [event, minute]. */
function feed(
  e: AlertEngine,
  device: ReturnType<typeof at>,
  quantity: string,
  values: number[],
  offset = 0,
  extra: Record<string, number> = {},
): [string, number][] {
  const out: [string, number][] = []
  values.forEach((v, i) => {
    const ts = T0 + offset + i * MIN
    for (const t of e.ingest(device, { ts, values: { [quantity]: v, ...extra } })) out.push([t.event, (t.ts - T0) / MIN])
  })
  return out
}

describe('alert engine rules', () => {
  it('threshold with duration, deadband and clearAfter: a flapping condition is one alert', () => {
    const e = engineWith([{ id: 'hi', kind: 'threshold', quantity: 'active_power_kw', above: 100, deadband: 10, for: '2m', clearAfter: '3m' }])
    // min 1 goes above; 2 min later (min 3) it has held for `for` → opened at 3. Min 4 is below the
    // limit but inside the deadband (> 90): not normal. Normal from 5, above again at 7 (same alert),
    // normal from 8: 3 min later, at 11, cleared.
    const got = feed(e, MAIN, 'active_power_kw', [90, 110, 120, 115, 95, 85, 80, 105, 85, 85, 85, 85, 85])
    expect(got).toEqual([
      ['opened', 3],
      ['cleared', 11],
    ])
  })

  it('offline after N missed intervals, normal again with the next sample', () => {
    const e = engineWith([{ id: 'off', kind: 'offline', interval: '1m', missed: 5 }])
    // Two samples a minute apart: the device reports every minute.
    e.ingest(PUMP, { ts: T0 - MIN, values: { active_power_kw: 1 } })
    e.ingest(PUMP, { ts: T0, values: { active_power_kw: 1 } })
    expect(e.tick(T0 + 5 * MIN)).toEqual([]) // 5 min without data is not more than 5 intervals
    const [opened] = e.tick(T0 + 6 * MIN)
    expect(opened?.event).toBe('opened')
    expect(opened?.alert.value).toBe(6) // minutes since the last sample
    expect(opened?.text.en).toContain('no data for 6.00 min')
    expect(opened?.text.zh).toContain('设备离线')
    expect(e.tick(T0 + 7 * MIN)).toEqual([]) // still one alert
    expect(e.ingest(PUMP, { ts: T0 + 10 * MIN, values: { active_power_kw: 1 } }).map((t) => t.event)).toEqual(['cleared'])
  })

  it('offline by the observed reporting interval: a 15-minute meter is late after 5 × 15 min, not 5 min', () => {
    const e = engineWith([{ id: 'off', kind: 'offline', interval: '1m', missed: 5 }])
    for (let i = 0; i <= 4; i++) expect(e.ingest(PUMP, { ts: T0 + i * 15 * MIN, values: { active_power_kw: 1 } })).toEqual([])
    const last = T0 + 60 * MIN
    expect(e.tick(last + 16 * MIN)).toEqual([]) // a 15-minute device between two readings
    expect(e.tick(last + 75 * MIN)).toEqual([])
    const [opened] = e.tick(last + 76 * MIN)
    expect(opened?.alert).toMatchObject({ rule: 'off', value: 76, threshold: 75 })
  })

  it('stuck on 15-minute data: minSamples equal readings, and at low load (≤ lowLoadKw) only after lowLoadFor', () => {
    const e = engineWith([{ id: 'stuck', kind: 'stuck', quantity: 'active_power_kw', for: '15m', lowLoadKw: 20, lowLoadFor: '4h' }])
    const opened: number[] = []
    // Idle at 14.8 kW for 3 h (12 equal readings): quantisation of a steady idle, no alert.
    for (let i = 0; i < 12; i++) for (const _ of e.ingest(PUMP, { ts: T0 + i * 15 * MIN, values: { active_power_kw: 14.8 } })) opened.push(i)
    expect(opened).toEqual([])
    // At 250 kW: the 4th equal reading (45 min) is stuck, 15 min after the condition began.
    for (let i = 12; i < 20; i++)
      for (const t of e.ingest(PUMP, { ts: T0 + i * 15 * MIN, values: { active_power_kw: 250 } })) if (t.event === 'opened') opened.push(i)
    expect(opened).toEqual([15])
  })

  it('stuck value: the same value for `for`, zero ignored', () => {
    const e = engineWith([{ id: 'stuck', kind: 'stuck', quantity: 'active_power_kw', for: '15m' }])
    // Repeats from min 2 (value since min 2); 15 min later, at min 17, opened; changes at 20 → cleared
    // 5 min (default clearAfter) later at 25.
    const values = [5, 6, ...Array<number>(18).fill(7.25), 8, 9, 10, 11, 12, 13]
    expect(feed(e, PUMP, 'active_power_kw', values)).toEqual([
      ['opened', 17],
      ['cleared', 25],
    ])
    const zero = engineWith([{ id: 'stuck', kind: 'stuck', quantity: 'active_power_kw', for: '15m' }])
    expect(feed(zero, PUMP, 'active_power_kw', Array<number>(30).fill(0))).toEqual([])
  })

  it('counter going backwards fires at once and clears after an hour of counting up', () => {
    const e = engineWith([{ id: 'ctr', kind: 'counter', quantity: 'energy_import_kwh' }])
    const values = [100, 101, 50, ...Array.from({ length: 62 }, (_, i) => 51 + i)]
    const got = feed(e, MAIN, 'energy_import_kwh', values)
    // Back at min 2; normal from min 3; 60 min later (min 63) cleared.
    expect(got).toEqual([
      ['opened', 2],
      ['cleared', 63],
    ])
  })

  it('rate of change and power factor (with a minimum power)', () => {
    const e = engineWith([
      { id: 'jump', kind: 'rate', quantity: 'active_power_kw', maxChangePerMin: 50 },
      { id: 'pf', kind: 'power_factor', below: 0.9, for: '2m', minPowerKw: 10 },
    ])
    // 100 → 200 in one minute = 100 kW/min > 50.
    expect(feed(e, PUMP, 'active_power_kw', [100, 200], 0, { power_factor: 0.95 })).toEqual([['opened', 1]])
    // pf 0.85 at 5 kW: ignored; at 50 kW for 2 min: opened at min 4 (from 2).
    const pf = engineWith([{ id: 'pf', kind: 'power_factor', below: 0.9, for: '2m', minPowerKw: 10 }])
    const got: string[] = []
    ;[
      [5, 0.85],
      [5, 0.85],
      [50, -0.85],
      [50, 0.84],
      [50, 0.85],
    ].forEach(([p, f], i) => {
      for (const t of pf.ingest(PUMP, { ts: T0 + i * MIN, values: { active_power_kw: p as number, power_factor: f as number } }))
        got.push(`${t.event}@${i}:${t.alert.value}`)
    })
    expect(got).toEqual(['opened@4:0.85'])
  })

  it('15-minute demand forecast above the contracted maximum before the window ends', () => {
    const e = engineWith([{ id: 'demand', kind: 'demand', minElapsed: '5m', severity: 'critical' }])
    // The main meter draws 1200 kW from the window start. At 5 min: 100 kWh so far + 1200 kW for the
    // remaining 10 min = 300 kWh in 15 min = 1200 kW > 1000 contracted.
    const got: AlertTransition[] = []
    for (let i = 0; i <= 5; i++) got.push(...e.ingest(MAIN, { ts: T0 + i * MIN, values: { active_power_kw: 1200 } }))
    expect(got.map((t) => t.event)).toEqual(['opened'])
    expect(got[0]?.alert).toMatchObject({
      address: { enterprise: 'acme', site: 'wuhan', line: 'site', device: 'demand' },
      threshold: 1000,
      severity: 'critical',
    })
    expect(got[0]?.alert.value).toBeCloseTo(1200, 6)
    // 300 kW in the next window: 5 min in, 25 kWh + 300 × 10/60 = 75 kWh → 300 kW: normal → cleared.
    const next: AlertTransition[] = []
    for (let i = 15; i <= 20; i++) next.push(...e.ingest(MAIN, { ts: T0 + i * MIN, values: { active_power_kw: 300 } }))
    expect(next.map((t) => t.event)).toEqual(['cleared'])
  })

  it('standby waste outside the shift or while the machine is idle', () => {
    const e = engineWith([{ id: 'standby', kind: 'standby', idleKw: 20, for: '30m' }])
    // 03:00 local is outside the 08:00–16:00 shift: 50 kW > 20 kW for 30 min → opened at 30.
    expect(feed(e, PUMP, 'active_power_kw', Array<number>(40).fill(50), 3 * HOUR).map(([ev, m]) => [ev, m - 180])).toEqual([['opened', 30]])
    // 09:00 local, in the shift: no alert for the pump; the CNC reports idle (machine_state 1): alert.
    expect(feed(e, at('cnc'), 'active_power_kw', Array<number>(40).fill(50), 9 * HOUR, { machine_state: 2 })).toEqual([])
    const idle = engineWith([{ id: 'standby', kind: 'standby', idleKw: 20, for: '30m' }])
    expect(feed(idle, at('cnc'), 'active_power_kw', Array<number>(40).fill(50), 9 * HOUR, { machine_state: 1 }).map(([ev, m]) => [ev, m - 540])).toEqual([
      ['opened', 30],
    ])
  })
})

describe('anomaly detection and lifecycle', () => {
  // A hand-made baseline: 100 kW expected in every slot, σ 1 % → band 5 × 0.01 × 100 = 5 kW.
  const book = emptyBaselineBook()
  book.anomaly.set('acme/wuhan/l1/pump', {
    model: 'time-of-week',
    intercept: 0,
    slope: 0,
    slots: Array<number>(WEEK_SLOTS).fill(100),
    slotMs: 3_600_000,
    sigma: 0.01,
    tail: 0.02,
    floorKw: 5,
    quantumKw: 0,
    levelKw: 100,
    n: 1000,
    timezone: 'Asia/Shanghai',
  })
  const rules = [
    { id: 'anomaly', kind: 'anomaly', k: 5, for: '30m', clearAfter: '30m' },
    { id: 'offline', kind: 'offline', missed: 5 },
  ]

  it('fires when the window mean stays out of band, keeps the alert while data stops, resolves once normal again', () => {
    const e = engineWith(rules, book)
    const events: AlertTransition[] = []
    const run = (from: number, to: number, kw: number | null): void => {
      for (let m = from; m < to; m++) {
        events.push(...e.tick(T0 + m * MIN))
        if (kw !== null) events.push(...e.ingest(PUMP, { ts: T0 + m * MIN, values: { active_power_kw: kw } }))
      }
    }
    run(0, 30, 102) // in band (|2| < 5)
    run(30, 75, 120) // windows 30–45 and 45–60 out of band: 30 min → opened at 60
    const opened = events.find((t) => t.alert.rule === 'anomaly' && t.event === 'opened')
    expect(opened?.ts).toBe(T0 + 60 * MIN)
    expect(opened?.alert).toMatchObject({ value: 120, threshold: 100, expectedLow: 95, expectedHigh: 105 })
    expect(opened?.text.en).toBe('[alert] pump (l1): unusual power: 120 kW, expected 100 kW (band 95.0–105)')
    // Data stops mid-anomaly at 75: offline opens at 80 (> 5 missed minutes after 74); the anomaly stays open.
    run(75, 200, null)
    expect(events.filter((t) => t.alert.rule === 'offline').map((t) => [t.event, (t.ts - T0) / MIN])).toEqual([['opened', 80]])
    expect(e.openAlerts().map((a) => [a.rule, a.state])).toEqual([
      ['anomaly', 'firing'],
      ['offline', 'firing'],
    ])
    // Back at 200 with normal power: offline clears at once; the anomaly after 30 min of normal windows
    // (windows from 195: 195–210 holds 200–209 → normal since 195; at the end of 225–240 → 240 − 195 ≥ 30).
    run(200, 260, 100)
    expect(events.filter((t) => t.event === 'cleared').map((t) => [t.alert.rule, (t.ts - T0) / MIN])).toEqual([
      ['offline', 200],
      ['anomaly', 225],
    ])
    expect(e.openAlerts()).toEqual([])
  })

  it('acknowledge, conflicts, resolve by hand, and a restart that rebuilds open alerts from the event log', async () => {
    const e = engineWith([{ id: 'hi', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '5m' }])
    const log = new MemoryEventLog()
    const [opened] = e.ingest(MAIN, { ts: T0, values: { active_power_kw: 150 } })
    if (!opened) throw new Error('expected an alert')
    expect(openedAtOfId(opened.alert.id)).toBe(T0)
    const ack = e.acknowledge(opened.alert.id, { user: 'li.wei', comment: '检查中 checking', ts: T0 + MIN })
    expect(ack.alert).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'li.wei', comment: '检查中 checking' })
    expect(ack.text.en).toBe('[acknowledged] 总表 Incomer (l1): active_power_kw = 150, above the limit 100, by li.wei — 检查中 checking')
    const again = (() => {
      try {
        e.acknowledge(opened.alert.id, { user: 'x', ts: T0 + 2 * MIN })
      } catch (err) {
        return err
      }
    })()
    expect(isPlantWattError(again, 'ALERTS_ERR_STATE')).toBe(true)
    const unknown = (() => {
      try {
        e.resolve('zz-1', { user: 'x', ts: T0 })
      } catch (err) {
        return err
      }
    })()
    expect(isPlantWattError(unknown, 'ALERTS_ERR_NOT_FOUND')).toBe(true)
    await log.append([transitionToEvent(opened), transitionToEvent(ack)])

    // A new engine (the service restarted) rebuilds the open alert from the log, acknowledged.
    const restarted = engineWith([{ id: 'hi', kind: 'threshold', quantity: 'active_power_kw', above: 100, for: '0', clearAfter: '5m' }])
    restarted.restore(foldAlertEvents(await log.query({ kind: 'alert_event' })))
    expect(restarted.openAlerts().map((a) => [a.id, a.state])).toEqual([[opened.alert.id, 'acknowledged']])
    // Still above: no second alert; then normal for 5 min → cleared, the same id.
    expect(restarted.ingest(MAIN, { ts: T0 + 2 * MIN, values: { active_power_kw: 160 } })).toEqual([])
    const cleared: AlertTransition[] = []
    for (let m = 3; m <= 8; m++) cleared.push(...restarted.ingest(MAIN, { ts: T0 + m * MIN, values: { active_power_kw: 50 } }))
    expect(cleared.map((t) => [t.event, t.alert.id, (t.ts - T0) / MIN])).toEqual([['cleared', opened.alert.id, 8]])

    // Resolved by hand while still abnormal: a new alert only after the condition is seen again.
    const [second] = e.ingest(MAIN, { ts: T0 + 3 * MIN, values: { active_power_kw: 150 } })
    expect(second).toBeUndefined() // e still holds the acknowledged alert: one alert per condition
    const byHand = e.resolve(opened.alert.id, { user: 'wang', comment: 'fixed', ts: T0 + 4 * MIN })
    expect(byHand.alert).toMatchObject({ state: 'resolved', resolvedBy: 'wang' })
    expect(byHand.text.en).toBe('[resolved] 总表 Incomer (l1): resolved by wang — fixed')
  })
})

describe('baseline fit', () => {
  it('recovers a production line P = 50 + 2 R and a robust σ despite a few faulty windows', () => {
    const windows: BaselineWindow[] = []
    for (let i = 0; i < 2 * 672; i++) {
      const rate = 100 + 80 * Math.sin(i / 7)
      // ±1 % deterministic wiggle, and 20 windows with a +300 kW fault that the robust fit ignores.
      const noise = 0.01 * Math.sin(i * 12.9898) * (50 + 2 * rate)
      windows.push({ start: T0 + i * 15 * MIN, powerKw: 50 + 2 * rate + noise + (i % 67 === 0 ? 300 : 0), rate })
    }
    const b = fitDeviceBaseline(windows, 'Asia/Shanghai')
    expect(b?.model).toBe('production')
    expect(b?.intercept).toBeCloseTo(50, 0)
    expect(b?.slope).toBeCloseTo(2, 1)
    // |noise| ≤ 1 % with a sine spread: 1.4826 × MAD ≈ 1.4826 × 0.707 % ≈ 1.05 %; σ is measured against
    // the slot median of the *other* week (4 windows), which adds its own noise: ≈ 1.2–1.5 %.
    expect(b?.sigma).toBeGreaterThan(0.008)
    expect(b?.sigma).toBeLessThan(0.02)
  })
})
