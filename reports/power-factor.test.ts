import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { D0, DAY, H, PLANT, T, powerFactorHour } from './testing/efficiency-fixtures.ts'
import type { ReportDeps } from './energy.ts'
import { powerFactorReport } from './power-factor.ts'
import { parseScope } from './scope.ts'

let store: TelemetryStore
let deps: ReportDeps
const hour = { start: T, end: T + H }

beforeAll(async () => {
  store = createEmbeddedStore({ path: ':memory:' })
  await store.write(powerFactorHour())
  deps = { store, model: PLANT, now: () => D0 + 40 * DAY }
})

afterAll(async () => {
  await store?.close()
})

describe('power factor report (embedded store)', () => {
  it('per device: time-weighted |PF|, time below 0.90, PF from P and Q, energy PF from counters', async () => {
    const r = await powerFactorReport(deps, parseScope('acme/w1/l1'), hour, { maxSamples: 1000 })
    expect(r.rows.map((x) => [x.device, x.source, x.resolution, x.samples])).toEqual([
      ['main', 'power_factor', 'raw', 60],
      ['sub', 'power_factor', 'raw', 60],
      ['pq', 'active_reactive_power', 'raw', 60],
      ['silent', 'none', 'raw', 0],
    ])
    const main = r.rows[0]
    // Samples hold one minute each; the last (minute 59) closes nothing: 59 covered minutes,
    // 40 at 0.95 and 19 at |−0.85| → mean (40 × 0.95 + 19 × 0.85) / 59 = 54.15 / 59.
    expect(main?.meanPf).toBeCloseTo(54.15 / 59, 12)
    expect(main?.sampleMeanPf).toBeCloseTo((40 * 0.95 + 20 * 0.85) / 60, 12)
    expect(main?.belowThresholdH).toBeCloseTo(19 / 60, 12)
    expect(main?.coveredH).toBeCloseTo(59 / 60, 12)
    expect(main?.belowThresholdShare).toBeCloseTo(19 / 59, 12)
    expect(main?.mainMeter).toBe(true)
    // P 30 kW, Q 40 kvar → 30 / 50 = 0.6 all the time; counters 300 kWh and 400 kvarh → 0.6.
    const pq = r.rows[2]
    expect(pq?.meanPf).toBeCloseTo(0.6, 12)
    expect(pq?.belowThresholdShare).toBe(1)
    expect(pq?.activeKwh).toBeCloseTo(300, 9)
    expect(pq?.reactiveKvarh).toBeCloseTo(400, 9)
    expect(pq?.energyPf).toBeCloseTo(0.6, 12)
    expect(r.rows[3]).toMatchObject({ meanPf: null, belowThresholdShare: null, energyPf: null })
  })

  it('a configurable threshold: below 0.96 all the covered time', async () => {
    const r = await powerFactorReport(deps, parseScope('acme/w1/l1/main'), hour, { maxSamples: 1000, threshold: 0.96 })
    expect(r.rows).toHaveLength(1)
    expect(r.rows[0]?.belowThresholdShare).toBe(1)
    expect(r.threshold).toBe(0.96)
  })

  it('more samples than allowed: 15-minute means, each standing for its window', async () => {
    // 60 samples > 10 → 1m gives 60 windows (> 10), 15m gives 4. sub's means: 0.95, 0.95,
    // (10 × 0.95 + 5 × 0.85) / 15 = 0.91667, 0.85 → mean 0.91667, below 0.90 only the last 15 min.
    const r = await powerFactorReport(deps, parseScope('acme/w1/l1/sub'), hour, { maxSamples: 10 })
    const sub = r.rows[0]
    expect(sub).toMatchObject({ resolution: '15m', samples: 4 })
    expect(sub?.meanPf).toBeCloseTo((0.95 + 0.95 + 13.75 / 15 + 0.85) / 4, 12)
    expect(sub?.coveredH).toBeCloseTo(1, 12)
    expect(sub?.belowThresholdH).toBeCloseTo(0.25, 12)
  })

  it('per line: the main meter stands for the line; a line without one and several meters is missing', async () => {
    const r = await powerFactorReport(deps, parseScope('acme/w1'), hour, { maxSamples: 1000, per: 'line' })
    expect(r.rows.map((x) => [x.line, x.device])).toEqual([
      ['acme/w1/l1', 'main'],
      ['acme/w1/l2', 'm'],
    ])
    expect(r.missing).toEqual(['acme/w1/l3'])
  })

  it('refuses a threshold outside (0, 1] and an unknown scope', async () => {
    const bad = await powerFactorReport(deps, parseScope('acme'), hour, { maxSamples: 10, threshold: 1.2 }).catch((e: unknown) => e)
    expect(isPlantWattError(bad, 'REPORTS_ERR_INPUT')).toBe(true)
    const unknown = await powerFactorReport(deps, parseScope('acme/w1/l9'), hour, { maxSamples: 10 }).catch((e: unknown) => e)
    expect(isPlantWattError(unknown, 'REPORTS_ERR_SCOPE')).toBe(true)
  })
})
