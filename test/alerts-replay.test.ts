import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ALERT_EVENT_KIND } from '../alerts/events.ts'
import { formatReplayTable, parseReplayInstant, replayAlerts } from '../alerts/replay.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MeterEventBook } from '../records/meter-events.ts'
import { createRecordStore } from '../records/store.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import { MemoryEventLog, type EventLog } from '../storage/events.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'

const plant = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'meter', kind: 'meter' }] }] }] }],
})
const tags = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' }
const T0 = Date.UTC(2026, 0, 4, 16) // Monday 00:00 Shanghai
const Q = 900_000
const DAY = 86_400_000

let dirs: string[] = []
let stores: TelemetryStore[] = []
let logs: EventLog[] = []
afterEach(async () => {
  for (const l of logs) await l.close()
  logs = []
  for (const s of stores) await s.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs = []
  stores = []
})
function store(): TelemetryStore {
  const dir = mkdtempSync(join(tmpdir(), 'pw-replay-'))
  dirs.push(dir)
  const s = createEmbeddedStore({ path: join(dir, 'p.db') })
  stores.push(s)
  return s
}
/** 15-minute power: 300 kW 08:00–17:00, 15 kW otherwise, plus `extra(ts)`; a gap where `missing`. */
async function fill(s: TelemetryStore, from: number, to: number, extra = (_: number) => 0, missing = (_: number) => false): Promise<void> {
  const points = []
  for (let t = from; t < to; t += Q) {
    if (missing(t)) continue
    const hour = new Date(t + 8 * 3_600_000).getUTCHours()
    const kw = (hour >= 8 && hour < 17 ? 300 : 15) * (1 + 0.02 * Math.sin(t / Q)) + extra(t)
    points.push({ measurement: 'telemetry', tags, fields: { active_power_kw: kw }, ts: t })
  }
  await s.write(points)
}

describe('alerts replay (backtest)', () => {
  it('runs the rules over stored history: counts per rule, alerts per device-week, nothing written unless asked', async () => {
    const s = store()
    const replayFrom = T0 + 21 * DAY
    const hole = replayFrom + 4 * DAY
    await fill(s, T0, replayFrom + 7 * DAY, undefined, (t) => t >= hole && t < hole + 6 * 3_600_000)
    const { rules } = validateAlertsConfig({
      rules: [
        { id: 'offline', kind: 'offline' },
        { id: 'anomaly', kind: 'anomaly', history: '3w' },
      ],
    })
    const events = new MemoryEventLog()
    const r = await replayAlerts({ store: s, plant, rules, from: replayFrom, to: replayFrom + 7 * DAY, events })
    expect(r.devices).toBe(1)
    expect(r.deviceWeeks).toBeCloseTo(1, 10)
    expect(r.baselines).toBe(1)
    // The six-hour hole is one offline alert; the anomaly rule stays quiet on the regular week.
    expect(r.byRule.offline).toEqual({ kind: 'offline', alerts: 1, devices: 1 })
    // Judged by its own 15-minute interval: 5 missed intervals after the last sample before the hole.
    const offline = r.alerts.find((a) => a.rule === 'offline')
    expect(offline?.openedAt).toBeGreaterThan(hole - Q + 5 * Q)
    expect(offline?.openedAt).toBeLessThanOrEqual(hole - Q + 5 * Q + 60_000)
    expect(r.alertsPerDeviceWeek).toBeCloseTo(r.alerts.length / r.deviceWeeks, 10)
    // A range that does not start on the store's window grid (an ISO instant 30 s past): the same
    // samples but the one at replayFrom itself; time passes at :30, so the offline alert opens at the
    // first such tick past the 75 min, 30 s earlier (75.5 min since data).
    const unaligned = await replayAlerts({ store: s, plant, rules, from: replayFrom + 30_000, to: replayFrom + 7 * DAY, events })
    expect(unaligned.samples).toBe(r.samples - 1)
    expect(unaligned.alerts.map((a) => [a.rule, a.openedAt, a.value])).toEqual([['offline', (offline?.openedAt ?? 0) - 30_000, 75.5]])
    expect(r.written).toBe(0)
    expect(await events.query({ kind: ALERT_EVENT_KIND, start: 0, stop: Date.now() + DAY })).toEqual([])
    expect(formatReplayTable(r)).toMatch(/offline\s+offline\s+1\s+1/)
    const written = await replayAlerts({ store: s, plant, rules, from: replayFrom, to: replayFrom + 7 * DAY, events, write: true })
    expect(written.written).toBeGreaterThanOrEqual(2) // opened and cleared
    expect((await events.query({ kind: ALERT_EVENT_KIND, start: 0, stop: Date.now() + DAY })).length).toBe(written.written)
    // Value, limit and band as the alert opened, with their units; times local to the plant.
    // The last sample before the hole is Thursday 23:45 in Shanghai; 5 × 15 min later plus the first 1-minute
    // step past the limit: opened 01:01 local at 76 min since data (the limit 75 min), closed by the 06:00 sample.
    expect(r.timezone).toBe('Asia/Shanghai')
    expect(r.valueBasis).toBe('opened')
    expect(offline).toMatchObject({ value: 76, valueUnit: 'min', threshold: 75, thresholdUnit: 'min', state: 'resolved' })
    const table = formatReplayTable(r)
    expect(table).toContain('replay 2026-01-26 00:00 … 2026-02-02 00:00 (Asia/Shanghai)')
    expect(table).toMatch(/opened \(Asia\/Shanghai\)\s+closed\s+rule\s+device\s+value at opening\s+limit \/ expected\s+band/)
    expect(table).toMatch(/2026-01-30 01:01\s+2026-01-30 06:00\s+offline\s+acme\/wuhan\/l1\/meter\s+76\.0 min\s+75\.0 min\n/)
  })

  it('a counter drop explained by a recorded meter replacement raises nothing, as live; stuck counts minutes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-replay-'))
    dirs.push(dir)
    const s = createEmbeddedStore({ path: join(dir, 'p.db') })
    stores.push(s)
    const log = createEmbeddedEventLog({ path: join(dir, 'p.db') })
    logs.push(log)
    // One day of 15-minute readings counting 25 kWh each; the meter is swapped at 12:00 local
    // (old reads 1,000 + 47 × 25 = 2,175 at 11:45, the new one starts at 10). Power stays at 100 kW from 12:00.
    const swap = T0 + 12 * 3_600_000
    const points = []
    for (let i = 0; i < 96; i++) {
      const t = T0 + i * Q
      const kwh = t < swap ? 1_000 + i * 25 : 10 + (i - 48) * 25
      const kw = t < swap ? 100 + (i % 3) : 100
      points.push({ measurement: 'telemetry', tags, fields: { energy_import_kwh: kwh, active_power_kw: kw, power_factor: 0.82 }, ts: t })
    }
    await s.write(points)
    const { rules } = validateAlertsConfig({
      rules: [
        { id: 'ctr', kind: 'counter', quantity: 'energy_import_kwh' },
        { id: 'stuck', kind: 'stuck', quantity: 'active_power_kw', for: '1h' },
        { id: 'pf', kind: 'power_factor', below: 0.9 },
      ],
    })
    const range = { from: T0, to: T0 + DAY }
    // Without the record: the drop 2,175 → 10 is an unexplained reset.
    const before = await replayAlerts({ store: s, plant, rules, ...range, events: log })
    expect(before.byRule.ctr).toEqual({ kind: 'counter', alerts: 1, devices: 1 })
    expect(before.alerts.find((a) => a.rule === 'ctr')).toMatchObject({ openedAt: swap, value: 10, threshold: 2_175, valueUnit: 'kWh', thresholdUnit: 'kWh' })
    const book = new MeterEventBook(createRecordStore(log), plant, s)
    await book.record({ type: 'replacement', ...tags, ts: swap, oldFinalReading: 2_175, newStartReading: 10 }, { user: 'li.wei', reason: 'swap' })
    const after = await replayAlerts({ store: s, plant, rules, ...range, events: log })
    expect(after.byRule.ctr).toEqual({ kind: 'counter', alerts: 0, devices: 0 })
    // Stuck: 100 kW from 12:00 on; the rule's hour is up at 13:00 (value kW, the limit the minutes it has been stuck).
    expect(after.alerts.find((a) => a.rule === 'stuck')).toMatchObject({
      openedAt: T0 + 13 * 3_600_000,
      value: 100,
      valueUnit: 'kW',
      threshold: 60,
      thresholdUnit: 'min',
    })
    // A power factor has no unit: two decimals in the table. Low from the first reading, open at the
    // second (the rule's default duration has passed by then).
    expect(after.alerts.find((a) => a.rule === 'pf')).toMatchObject({ openedAt: T0 + Q, value: 0.82, valueUnit: '', threshold: 0.9, thresholdUnit: '' })
    expect(formatReplayTable(after)).toMatch(/2026-01-05 00:15\s+\(open\)\s+pf\s+acme\/wuhan\/l1\/meter\s+0\.82\s+0\.90\n/)
  })

  it('reads history past the 1-minute retention at 15 minutes, and says which stretch was read at what resolution', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-replay-'))
    dirs.push(dir)
    // Four weeks of 1-minute power, 2024; the store's clock 400 days after Wednesday 10:00 of the replayed
    // week, so its maintenance deletes the raw points (90 days) and the 1-minute roll-up (400 days) before that.
    const R = Date.UTC(2024, 0, 28, 16) // Monday 2024-01-29 00:00 Shanghai
    const from = R - 21 * DAY
    const boundary = R + 2 * DAY + 10 * 3_600_000
    const s = createEmbeddedStore({ path: join(dir, 'p.db'), retention: {}, clock: () => boundary + 400 * DAY, maintenanceIntervalMs: 0 })
    stores.push(s)
    const hole = (t: number): boolean => t >= R + 2 * 3_600_000 && t < R + 8 * 3_600_000 // Monday 02:00–08:00
    const points = []
    for (let t = from; t < R + 7 * DAY; t += 60_000) {
      if (hole(t)) continue
      const hour = new Date(t + 8 * 3_600_000).getUTCHours()
      const kw = (hour >= 8 && hour < 17 ? 300 : 15) * (1 + 0.02 * Math.sin(t / 60_000))
      points.push({ measurement: 'telemetry', tags, fields: { active_power_kw: kw }, ts: t })
    }
    await s.write(points)
    s.maintain()
    expect(s.horizons().minuteFrom).toBe(boundary)
    const { rules } = validateAlertsConfig({
      rules: [
        { id: 'offline', kind: 'offline' },
        { id: 'anomaly', kind: 'anomaly', history: '3w' },
      ],
    })
    const r = await replayAlerts({ store: s, plant, rules, from: R, to: R + 7 * DAY })
    expect(r.resolutions).toEqual([
      { from: R, to: boundary, everyMs: Q },
      { from: boundary, to: R + 7 * DAY, everyMs: 60_000 },
    ])
    // 15-minute windows up to Wednesday 10:00 (two days and ten hours, less the 24 of the hole), every minute after.
    expect(r.samples).toBe(2 * 96 + 40 - 24 + (4 * 24 + 14) * 60)
    expect(r.baselines).toBe(1)
    // The hole judged at the 15-minute interval read there: the last window before it starts 01:45, the
    // limit is 5 × 15 min, the alert opens at the first step past it and closes with the 08:00 window.
    expect(r.alerts.filter((a) => a.rule === 'offline').map((a) => [a.openedAt, a.resolvedAt, a.value, a.threshold])).toEqual([
      [R + 3 * 3_600_000 + 60_000, R + 8 * 3_600_000, 76, 75],
    ])
    const notes = r.problems.filter((p) => p.code === 'ALERTS_WARN_RESOLUTION')
    expect(notes).toEqual([
      {
        code: 'ALERTS_WARN_RESOLUTION',
        device: '',
        message: expect.stringMatching(
          /^2024-01-29 00:00 … 2024-01-31 10:00 \(Asia\/Shanghai\) read at 15 min, not 1 min: the store keeps nothing finer there/,
        ),
      },
    ])
    expect(formatReplayTable(r)).toContain('! ALERTS_WARN_RESOLUTION 2024-01-29 00:00 … 2024-01-31 10:00 (Asia/Shanghai) read at 15 min, not 1 min')
    // A range wholly past the 1-minute horizon: read at 15 minutes throughout, one note.
    const old = await replayAlerts({ store: s, plant, rules, from: R, to: R + DAY })
    expect([old.resolutions, old.samples]).toEqual([[{ from: R, to: R + DAY, everyMs: Q }], 96 - 24])
  })

  it('a range reaching a year chinese-days has no holidays for is named among the problems (ALERTS_WARN_CALENDAR)', async () => {
    const s = store()
    // Three weeks ending Monday 2026-12-28 00:00 Shanghai, replayed up to 2027-01-04.
    const end = Date.UTC(2026, 11, 27, 16)
    await fill(s, end - 21 * DAY, end + 7 * DAY)
    const calendar = { workdays: ['mon', 'tue', 'wed', 'thu', 'fri'], holidays: 'cn' }
    const { rules } = validateAlertsConfig({ rules: [{ id: 'anomaly', kind: 'anomaly', history: '3w', calendar }] })
    const r = await replayAlerts({ store: s, plant, rules, from: end, to: end + 7 * DAY })
    const warnings = r.problems.filter((p) => p.code === 'ALERTS_WARN_CALENDAR')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.device).toBe('')
    expect(warnings[0]?.message).toContain('no public holidays for 2027')
    expect(formatReplayTable(r)).toContain('! ALERTS_WARN_CALENDAR calendar: chinese-days has no public holidays for 2027')
    // A range inside covered years: no warning.
    const inside = await replayAlerts({ store: s, plant, rules, from: end - 7 * DAY, to: end - DAY, learnUntil: end - 7 * DAY })
    expect(inside.problems.filter((p) => p.code === 'ALERTS_WARN_CALENDAR')).toEqual([])
  })

  it('a device without history to learn silences only its anomaly rules: the other rules still run and the problem says which ran', async () => {
    const s = store()
    // Two days of data; a six-hour hole on the second: offline needs no history, anomaly would need a day before the range.
    const hole = T0 + DAY + 2 * 3_600_000
    await fill(s, T0, T0 + 2 * DAY, undefined, (t) => t >= hole && t < hole + 6 * 3_600_000)
    const { rules } = validateAlertsConfig({
      rules: [
        { id: 'offline', kind: 'offline' },
        { id: 'anomaly', kind: 'anomaly' },
        { id: 'standby', kind: 'standby' },
      ],
    })
    const r = await replayAlerts({ store: s, plant, rules, from: T0 + 3 * 3_600_000, to: T0 + 2 * DAY })
    // Learned at the start and again a day later (as live): still too little; the problem names the last learning.
    expect(r.relearned).toBe(1)
    expect(r.baselines).toBe(0)
    expect(r.byRule.offline).toEqual({ kind: 'offline', alerts: 1, devices: 1 })
    expect(r.alerts.map((a) => [a.rule, a.openedAt, a.value])).toEqual([['offline', hole - Q + 76 * 60_000, 76]])
    expect(r.byRule.anomaly).toEqual({ kind: 'anomaly', alerts: 0, devices: 0 })
    expect(r.problems).toEqual([
      {
        code: 'ALERTS_ERR_HISTORY',
        device: 'acme/wuhan/l1/meter',
        message:
          'acme/wuhan/l1/meter: not enough history before 2026-01-06 03:00 (Asia/Shanghai) to learn its normal load (at least one day of windows, two weeks for the time-of-week model): anomaly, standby silent on it; offline still ran',
      },
    ])
    expect(formatReplayTable(r)).toContain('! ALERTS_ERR_HISTORY acme/wuhan/l1/meter: not enough history before 2026-01-06 03:00')
    // Only rules that need history: nothing could run, a coded error naming them and the device.
    const learning = validateAlertsConfig({
      rules: [
        { id: 'anomaly', kind: 'anomaly' },
        { id: 'standby', kind: 'standby' },
      ],
    }).rules
    // The instant named is the last learning's, as in the problems above: relearned as live a day in; once, the start.
    const noneRan = (at: string) =>
      `no device has enough history before ${at} (Asia/Shanghai) to learn its normal load, and every rule that matched them needs it (anomaly, standby), so none ran:\n  acme/wuhan/l1/meter`
    await expect(replayAlerts({ store: s, plant, rules: learning, from: T0 + 3 * 3_600_000, to: T0 + 2 * DAY })).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'ALERTS_ERR_HISTORY') && (e as Error).message === noneRan('2026-01-06 03:00'),
    )
    await expect(replayAlerts({ store: s, plant, rules: learning, from: T0 + 3 * 3_600_000, to: T0 + 2 * DAY, relearn: 'once' })).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'ALERTS_ERR_HISTORY') && (e as Error).message === noneRan('2026-01-05 03:00'),
    )
  })

  it('relearns as live (default): a base load risen at night is waste the first night, the new idle after', async () => {
    const s = store()
    const replayFrom = T0 + 21 * DAY
    // Three weeks at 15 kW off shift, then the nights at 25 kW (running 300 kW 08:00–17:00 throughout).
    const night = (t: number): boolean => {
      const h = new Date(t + 8 * 3_600_000).getUTCHours()
      return h < 8 || h >= 17
    }
    await fill(s, T0, replayFrom + 5 * DAY, (t) => (t >= replayFrom && night(t) ? 10 : 0))
    // The line works one shift: out of it is idle time for the standby rule.
    const shifted = validateConfig(PlantModelSchema, {
      timezone: 'Asia/Shanghai',
      enterprises: [
        {
          id: 'acme',
          sites: [{ id: 'wuhan', lines: [{ id: 'l1', shifts: [{ name: 'day', start: '08:00', end: '17:00' }], devices: [{ id: 'meter', kind: 'meter' }] }] }],
        },
      ],
    })
    const { rules } = validateAlertsConfig({ rules: [{ id: 'standby', kind: 'standby', history: '3w' }] })
    const at = (relearn: 'live' | 'once') => replayAlerts({ store: s, plant: shifted, rules, from: replayFrom, to: replayFrom + 5 * DAY, relearn })
    const once = await at('once')
    const live = await at('live')
    expect([once.relearn, once.relearned]).toEqual(['once', 0])
    // Learned at the start, then again at the start of each of the next four days (relearnEvery 1d).
    expect([live.relearn, live.relearned]).toEqual(['live', 4])
    const opened = (r: typeof once): number[] => r.alerts.map((a) => a.openedAt)
    // Once: the learned idle level (1.25 × P90 of ≈ 15 kW = 19.1 kW) stays, and every stretch of 25 kW
    // off shift is waste: the first morning, then each evening (the alert clears in the shift).
    expect(once.alerts.length).toBe(6)
    expect(once.alerts.every((a) => a.threshold !== undefined && Math.abs(a.threshold - 19.1) < 0.1)).toBe(true)
    // Live: relearned each midnight, the 25 kW nights become the idle level once they are more than a
    // tenth of the last 14 days' idle windows (recentIdle): two days in, no alert after.
    expect(live.alerts.length).toBe(3)
    expect(opened(live)).toEqual(opened(once).slice(0, 3))
    expect(Math.max(...opened(live))).toBeLessThan(replayFrom + 2 * DAY)
    expect(formatReplayTable(live)).toMatch(/again 4 time\(s\) as live/)
    expect(live.problems.filter((p) => p.code === 'ALERTS_WARN_RELEARN')).toEqual([])
    // A long range learns at most maxRelearns times (default 31), whole days apart, and says so: 5 days in 2 → every 3 days.
    const capped = await replayAlerts({ store: s, plant: shifted, rules, from: replayFrom, to: replayFrom + 5 * DAY, maxRelearns: 2 })
    expect(capped.relearned).toBe(1)
    expect(capped.problems.find((p) => p.code === 'ALERTS_WARN_RELEARN')?.message).toBe(
      'baselines learned again every 3 day(s), not every 1 day(s) as live: a range this long learns at most 2 times',
    )
  })

  it('relearning as live, a device whose history grows during the range learns: no history problem, its rules ran', async () => {
    const s = store()
    const from = T0 + 21 * DAY
    // Data from 6 h before the range: too little to learn at its start, two weeks of it by day 15.
    await fill(s, from - 6 * 3_600_000, from + 16 * DAY)
    const { rules } = validateAlertsConfig({ rules: [{ id: 'anomaly', kind: 'anomaly', history: '3w' }] })
    await expect(replayAlerts({ store: s, plant, rules, from, to: from + 16 * DAY, relearn: 'once' })).rejects.toSatisfy((e: unknown) =>
      isPlantWattError(e, 'ALERTS_ERR_HISTORY'),
    )
    const live = await replayAlerts({ store: s, plant, rules, from, to: from + 16 * DAY })
    expect(live.relearned).toBe(15)
    expect(live.baselines).toBe(1)
    expect(live.problems.filter((p) => p.code === 'ALERTS_ERR_HISTORY')).toEqual([])
  })

  it('a relearnEvery shorter than a day is replayed daily, and the result says so', async () => {
    const s = store()
    const from = T0 + 21 * DAY
    await fill(s, T0, from + 3 * DAY)
    const { rules } = validateAlertsConfig({ rules: [{ id: 'anomaly', kind: 'anomaly', history: '3w', relearnEvery: '6h' }] })
    const r = await replayAlerts({ store: s, plant, rules, from, to: from + 3 * DAY })
    expect(r.relearned).toBe(2)
    expect(r.problems.find((p) => p.code === 'ALERTS_WARN_RELEARN')?.message).toBe(
      'baselines learned again every 1 day(s), not every 360 min as live: the replay learns at whole days',
    )
  })

  it('refuses dates that do not exist, naming the flag', () => {
    for (const bad of ['2025-13-01', '2025-00-30', '2025-02-30', '2025-04-31 08:00', '2025-01-01 24:00', '2025-02-30T00:00:00+08:00'])
      expect(() => parseReplayInstant(bad, 'Asia/Shanghai', '--from'), bad).toThrow(
        expect.objectContaining({ code: 'ALERTS_ERR_RANGE', message: expect.stringMatching(/^--from: .* is not a date that exists/) }),
      )
    expect(() => parseReplayInstant('yesterday', 'Asia/Shanghai', '--to')).toThrow(
      expect.objectContaining({ code: 'ALERTS_ERR_RANGE', message: expect.stringMatching(/^--to: /) }),
    )
    // 2024 is a leap year; local midnight in Shanghai is 16:00 UTC the day before.
    expect(parseReplayInstant('2024-02-29', 'Asia/Shanghai', '--from')).toBe(Date.UTC(2024, 1, 28, 16))
    expect(parseReplayInstant('2025-12-31 23:59', 'Asia/Shanghai', '--to')).toBe(Date.UTC(2025, 11, 31, 15, 59))
    expect(parseReplayInstant('2025-03-01T00:00:00Z', 'Asia/Shanghai', '--to')).toBe(Date.UTC(2025, 2, 1))
  })

  it('coded errors: a range without data, no device with enough history to learn, a backwards range', async () => {
    const s = store()
    await fill(s, T0, T0 + 2 * DAY)
    const { rules } = validateAlertsConfig({ rules: [{ id: 'anomaly', kind: 'anomaly' }] })
    // The range in the message is on the plant's wall clock (Shanghai, UTC+8), as the user typed it.
    const local = (t: number): string => new Date(t + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + 10 * DAY, to: T0 + 11 * DAY })).rejects.toSatisfy(
      (e: unknown) =>
        isPlantWattError(e, 'ALERTS_ERR_NO_DATA') &&
        (e as Error).message === `no telemetry between ${local(T0 + 10 * DAY)} and ${local(T0 + 11 * DAY)} (Asia/Shanghai)`,
    )
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + 3 * 3_600_000, to: T0 + DAY })).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'ALERTS_ERR_HISTORY') && /acme\/wuhan\/l1\/meter/.test((e as Error).message),
    )
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + DAY, to: T0 })).rejects.toSatisfy((e: unknown) => isPlantWattError(e, 'ALERTS_ERR_RANGE'))
  })

  it('range errors on the plant wall clock, naming the caller’s inputs; a scope outside the plant model says so', async () => {
    const s = store()
    await fill(s, T0, T0 + 2 * DAY)
    const { rules } = validateAlertsConfig({ rules: [{ id: 'offline', kind: 'offline' }] })
    const cli = { from: '--from', to: '--to', learnUntil: '--learn-until', device: '--device' }
    const refusal = async (o: Partial<Parameters<typeof replayAlerts>[0]>): Promise<unknown> =>
      replayAlerts({ store: s, plant, rules, from: T0, to: T0 + DAY, ...o }).then(
        () => undefined,
        (e: unknown) => e,
      )
    // (a) A backwards range: local times with the zone, not epoch ms.
    expect(await refusal({ from: T0 + DAY, to: T0 })).toMatchObject({
      code: 'ALERTS_ERR_RANGE',
      message: 'replay range: from must be before to (from 2026-01-06 00:00, to 2026-01-05 00:00; Asia/Shanghai)',
      details: { field: 'to' },
    })
    // (b) The CLI's flags, not the API's field names.
    expect(await refusal({ from: T0, learnUntil: T0 + 3_600_000, names: cli })).toMatchObject({
      code: 'ALERTS_ERR_RANGE',
      message: '--learn-until (2026-01-05 01:00) must not be after --from (2026-01-05 00:00; Asia/Shanghai): the baselines would learn the replayed data',
      details: { field: '--learn-until' },
    })
    // (c) Not in the plant model (and no telemetry of it): said so, naming the input — not "no telemetry".
    expect(await refusal({ filter: { device: ['meter', 'nope'] }, names: cli })).toMatchObject({
      code: 'ALERTS_ERR_SCOPE',
      message:
        '--device: "nope" is not a device of the plant model, and the store has no telemetry of it between 2026-01-05 00:00 and 2026-01-06 00:00 (Asia/Shanghai)',
      details: { field: '--device', value: 'nope' },
    })
    expect(await refusal({ filter: { site: 'wuhan', line: 'l9' } })).toMatchObject({
      code: 'ALERTS_ERR_SCOPE',
      message: expect.stringMatching(/^line: "l9" is not a line of the plant model within site wuhan, and the store has no telemetry of it/),
      details: { field: 'line' },
    })
    // A device of the model without data in the range: no telemetry, naming what was asked.
    expect(await refusal({ from: T0 + 5 * DAY, to: T0 + 6 * DAY, filter: { device: 'meter' } })).toMatchObject({
      code: 'ALERTS_ERR_NO_DATA',
      message: 'no telemetry between 2026-01-10 00:00 and 2026-01-11 00:00 (Asia/Shanghai) for device meter',
    })
    // The model is not strict: a device outside it that has telemetry is replayed like any other.
    await s.write([{ measurement: 'telemetry', tags: { ...tags, device: 'spare' }, fields: { active_power_kw: 5 }, ts: T0 + 3_600_000 }])
    const spare = await replayAlerts({ store: s, plant, rules, from: T0, to: T0 + DAY, filter: { device: 'spare' } })
    expect([spare.devices, spare.samples]).toEqual([1, 1])
  })
})
