import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ALERT_EVENT_KIND } from '../alerts/events.ts'
import { formatReplayTable, replayAlerts } from '../alerts/replay.ts'
import { validateAlertsConfig } from '../alerts/rules.ts'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { MemoryEventLog } from '../storage/events.ts'
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
afterEach(async () => {
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
    expect(r.written).toBe(0)
    expect(await events.query({ kind: ALERT_EVENT_KIND, start: 0, stop: Date.now() + DAY })).toEqual([])
    expect(formatReplayTable(r)).toMatch(/offline\s+offline\s+1\s+1/)
    const written = await replayAlerts({ store: s, plant, rules, from: replayFrom, to: replayFrom + 7 * DAY, events, write: true })
    expect(written.written).toBeGreaterThanOrEqual(2) // opened and cleared
    expect((await events.query({ kind: ALERT_EVENT_KIND, start: 0, stop: Date.now() + DAY })).length).toBe(written.written)
  })

  it('coded errors: a range without data, no device with enough history to learn, a backwards range', async () => {
    const s = store()
    await fill(s, T0, T0 + 2 * DAY)
    const { rules } = validateAlertsConfig({ rules: [{ id: 'anomaly', kind: 'anomaly' }] })
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + 10 * DAY, to: T0 + 11 * DAY })).rejects.toSatisfy((e: unknown) =>
      isPlantWattError(e, 'ALERTS_ERR_NO_DATA'),
    )
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + 3 * 3_600_000, to: T0 + DAY })).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'ALERTS_ERR_HISTORY') && /acme\/wuhan\/l1\/meter/.test((e as Error).message),
    )
    await expect(replayAlerts({ store: s, plant, rules, from: T0 + DAY, to: T0 })).rejects.toSatisfy((e: unknown) => isPlantWattError(e, 'ALERTS_ERR_RANGE'))
  })
})
