import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { createLoadModel, createMeterModel, localMinuteOfWeek } from './load.ts'
import { loadLoadShape } from './load-shape.ts'
import { mulberry32 } from './prng.ts'

// 2024-01-01 was a Monday; 02:07:30 UTC is 10:07:30 in Shanghai (UTC+8), the middle of slot 40.
const MONDAY_1007_SHANGHAI = Date.UTC(2024, 0, 1, 2, 7, 30)

describe('mulberry32', () => {
  it('is reproducible and spread over [0, 1)', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    const xs = Array.from({ length: 10_000 }, () => a())
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()))
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1)
    expect(mulberry32(43)()).not.toBe(mulberry32(42)())
  })
})

describe('load model', () => {
  const shape = loadLoadShape()

  it('places t in the local week of its time zone', () => {
    const t = Date.UTC(2024, 0, 1, 0, 0) // Monday 00:00 UTC = Monday 08:00 in Shanghai
    expect(localMinuteOfWeek(t, 0)).toBe(0)
    expect(localMinuteOfWeek(t, 8 * 3_600_000)).toBe(480)
    expect(localMinuteOfWeek(t, -3_600_000)).toBe(7 * 1440 - 60) // Sunday 23:00
  })

  it('follows the shape at local time: Monday 10:07 Shanghai sits in slot 40', () => {
    const model = createLoadModel({ ratedKw: 1000, seed: 7 })
    const v = model.valuesAt(MONDAY_1007_SHANGHAI)
    // ±2 % noise at most around the slot mean.
    expect(v.active_power_kw / 1000).toBeGreaterThan((shape.power[40] ?? 0) * 0.979)
    expect(v.active_power_kw / 1000).toBeLessThan((shape.power[40] ?? 0) * 1.021)
    const utc = createLoadModel({ ratedKw: 1000, seed: 7, timezone: 'UTC' }).valuesAt(MONDAY_1007_SHANGHAI)
    // In UTC that instant is Monday 02:07, a light-load slot.
    expect(utc.active_power_kw / 1000).toBeLessThan((shape.power[8] ?? 0) * 1.03)
  })

  it('keeps voltage, frequency and PF in range and the power triangle consistent', () => {
    const model = createLoadModel({ ratedKw: 750, seed: 3 })
    for (let t = MONDAY_1007_SHANGHAI; t < MONDAY_1007_SHANGHAI + 7 * 86_400_000; t += 7 * 60_000 + 13_000) {
      const v = model.valuesAt(t)
      for (const u of [v.voltage_l1_v, v.voltage_l2_v, v.voltage_l3_v]) {
        expect(u).toBeGreaterThanOrEqual(230 * 0.99)
        expect(u).toBeLessThanOrEqual(230 * 1.01)
      }
      expect(Math.abs(v.frequency_hz - 50)).toBeLessThanOrEqual(0.05)
      expect(v.power_factor).toBeGreaterThanOrEqual(0.7)
      expect(v.power_factor).toBeLessThanOrEqual(0.99)
      // P = 3·U·I·PF for the balanced load, phase by phase.
      expect(3 * v.voltage_l1_v * v.current_l1_a * v.power_factor_l1).toBeCloseTo(v.active_power_kw * 1000, 6)
      expect(3 * v.voltage_l3_v * v.current_l3_a * v.power_factor_l3).toBeCloseTo(v.active_power_kw * 1000, 6)
      expect(v.apparent_power_kva).toBeCloseTo(v.active_power_kw / v.power_factor, 9)
      expect(v.reactive_power_kvar).toBeCloseTo(Math.sqrt(v.apparent_power_kva ** 2 - v.active_power_kw ** 2), 6)
      expect(v.voltage_l12_v / Math.sqrt(3)).toBeGreaterThan(230 * 0.99)
      expect(v.voltage_l12_v / Math.sqrt(3)).toBeLessThan(230 * 1.01)
    }
  })

  it('is deterministic per seed and different across seeds', () => {
    const a = createLoadModel({ ratedKw: 500, seed: 11 }).valuesAt(MONDAY_1007_SHANGHAI)
    const b = createLoadModel({ ratedKw: 500, seed: 11 }).valuesAt(MONDAY_1007_SHANGHAI)
    const c = createLoadModel({ ratedKw: 500, seed: 12 }).valuesAt(MONDAY_1007_SHANGHAI)
    expect(b).toEqual(a)
    expect(c.active_power_kw).not.toBe(a.active_power_kw)
    expect(c.voltage_l1_v).not.toBe(a.voltage_l1_v)
  })

  it('rejects a bad rating or time zone with SIM_ERR_CONFIG', () => {
    for (const make of [() => createLoadModel({ ratedKw: 0 }), () => createLoadModel({ ratedKw: 10, timezone: 'Mars/Olympus' })]) {
      let err: unknown
      try {
        make()
      } catch (e) {
        err = e
      }
      expect(isPlantWattError(err, 'SIM_ERR_CONFIG')).toBe(true)
    }
  })
})

describe('meter model energy counter', () => {
  it('integrates power by the trapezoid rule from the start value', () => {
    const meter = createMeterModel({ ratedKw: 400, seed: 5, startEnergyKwh: 1000 })
    let prev = meter.update(MONDAY_1007_SHANGHAI)
    let expected = 1000
    for (let k = 1; k <= 120; k++) {
      const r = meter.update(MONDAY_1007_SHANGHAI + k * 30_000)
      expected += ((prev.values.active_power_kw + r.values.active_power_kw) / 2) * (30 / 3600)
      prev = r
    }
    expect(prev.values.energy_import_kwh).toBeCloseTo(expected, 9)
    expect(prev.values.energy_total_kwh).toBe(prev.values.energy_import_kwh + prev.values.energy_export_kwh)
    expect(prev.values.energy_export_kwh).toBe(0)
    // One hour at roughly 0.8 × 400 kW.
    expect(expected - 1000).toBeGreaterThan(250)
    expect(expected - 1000).toBeLessThan(400)
  })

  it('adds nothing when the clock stands still or goes back', () => {
    const meter = createMeterModel({ ratedKw: 400 })
    meter.update(MONDAY_1007_SHANGHAI)
    const e1 = meter.update(MONDAY_1007_SHANGHAI + 60_000).values.energy_import_kwh
    expect(e1).toBeGreaterThan(0)
    expect(meter.update(MONDAY_1007_SHANGHAI + 60_000).values.energy_import_kwh).toBe(e1)
    expect(meter.update(MONDAY_1007_SHANGHAI).values.energy_import_kwh).toBe(e1)
    // Resumes from the latest instant it had reached, not from the instant it was sent back to.
    const p = meter.update(MONDAY_1007_SHANGHAI + 60_000).values.energy_import_kwh
    expect(p).toBe(e1)
  })
})
