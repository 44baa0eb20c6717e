import { describe, expect, it } from 'vitest'
import { createMeterDevice } from '../modbus-meter.ts'
import { counterStartKwh, productionStart, servedCounterKwh } from './counters.ts'
import type { MeterProfileId } from './index.ts'

// The import counter as a client decodes it, from the registers (addresses and types typed from the
// vendor tables in DOMAIN.md, not from counters.ts): value = raw × scale, then × CT·PT.
const READ: Record<MeterProfileId, (d: ReturnType<typeof createMeterDevice>) => number> = {
  'eastron-sdm630': (d) => (d.readInputRegisters(0x48, 2) as Buffer).readFloatBE(0),
  'chint-dtsu666': (d) => (d.readHoldingRegisters(0x101e, 2) as Buffer).readFloatBE(0),
  'acrel-adl400-primary': (d) => (d.readHoldingRegisters(0x84c, 2) as Buffer).readUInt32BE(0) * 0.1,
  'acrel-adl400-secondary': (d) => {
    const ct = (d.readHoldingRegisters(0x8e, 1) as Buffer).readUInt16BE(0)
    const pt = (d.readHoldingRegisters(0x8d, 1) as Buffer).readUInt16BE(0)
    return (d.readHoldingRegisters(0x0a, 2) as Buffer).readUInt32BE(0) * 0.01 * (ct * pt)
  },
}
// One resolution step of each map at these readings: float32 ulp at 2^25..2^26 kWh is 4 kWh; 2^16..2^17: 1/128.
const CASES: [MeterProfileId, number, number][] = [
  ['eastron-sdm630', 40_000_001.7, 4],
  ['eastron-sdm630', 123_456.785, 1 / 128],
  ['chint-dtsu666', 40_000_001.7, 4],
  ['acrel-adl400-primary', 98_765_432.13, 0.1],
  ['acrel-adl400-secondary', 1_234_567.891, 0.01 * 240], // 400 kW → CT 1200/5 A = 240
]

describe('counter start at register resolution', () => {
  it.each(CASES)('%s: a meter started from counterStartKwh(%d) serves the smallest value ≥ it', (profile, reading, step) => {
    const ratios = { ctRatio: profile === 'acrel-adl400-secondary' ? 240 : 1, ptRatio: 1 }
    const start = counterStartKwh(profile, 'energy_import_kwh', reading, ratios)
    const device = createMeterDevice({
      profile,
      ratedKw: 400,
      clock: () => 0,
      startEnergyKwh: start,
      ...(profile === 'acrel-adl400-secondary' ? { ctRatio: 240 } : {}),
    })
    const served = READ[profile](device)
    expect(served).toBeGreaterThanOrEqual(reading)
    expect(served - reading).toBeLessThan(step)
    expect(served).toBe(servedCounterKwh(profile, 'energy_import_kwh', start, ratios))
    // A reading that came off the registers is its own start: no drift across restarts.
    expect(counterStartKwh(profile, 'energy_import_kwh', served, ratios)).toBe(served)
    // Plain float64 would have served less on the float32 and rounding maps (a backstep):
    if (profile !== 'acrel-adl400-secondary') expect(servedCounterKwh(profile, 'energy_import_kwh', reading, ratios)).toBeLessThan(reading)
  })

  it('production counters start at a float32 ≥ the tonnes, or the next whole part', () => {
    // 1234.5678 t: float32 rounds it down to 1234.5677490234375, the next float32 is 1234.56787109375.
    expect(Math.fround(1234.5678)).toBeLessThan(1234.5678)
    expect(productionStart('output_t', 1234.5678)).toBe(1234.56787109375)
    expect(productionStart('output_t', 1234.5)).toBe(1234.5)
    expect(productionStart('output_count', 41.2)).toBe(42)
    expect(productionStart('output_count', 41)).toBe(41)
  })
})
