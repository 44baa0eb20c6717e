import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { dlt645CounterModuli, modbusCounterModuli } from './counter-modulus.ts'
import { planDevices } from './describe-plan.ts'
import { loadDlt645Profile } from './dlt645/profile.ts'
import { loadProfile } from './modbus/profile.ts'

describe('counter modulus from the profile', () => {
  it('Modbus: unsigned registers × scale; × the CT×PT ratio when configured; none for floats', () => {
    // acrel-adl400-primary: uint32 × 0.1 kWh → 4,294,967,296 × 0.1 = 429,496,729.6 kWh
    const primary = modbusCounterModuli(loadProfile('acrel-adl400-primary').points).find((m) => m.quantity === 'energy_import_kwh')
    expect(primary?.modulus).toBeCloseTo(429_496_729.6, 6)
    expect(primary?.basis).toBe('uint32 × 0.1')
    // acrel-adl400-secondary: uint32 × 0.01 × CT×PT: unknown until the ratios are known; CT 80, PT 1 → 42,949,672.96 × 80
    const secondary = loadProfile('acrel-adl400-secondary').points
    expect(modbusCounterModuli(secondary).find((m) => m.quantity === 'energy_import_kwh')).toEqual({
      quantity: 'energy_import_kwh',
      basis: 'uint32 × 0.01 × the CTPT ratio read at connect (42949672.96 × ratio)',
    })
    expect(modbusCounterModuli(secondary, { ct: 80, pt: 1 }).find((m) => m.quantity === 'energy_import_kwh')?.modulus).toBeCloseTo(42_949_672.96 * 80, 4)
    // eastron-sdm630 reads float32 counters: no modulus a counter reaches.
    expect(modbusCounterModuli(loadProfile('eastron-sdm630').points)).toEqual([])
  })

  it('DL/T 645: 10^(BCD digits − decimals) × scale — XXXXXX.XX kWh wraps at 1,000,000', () => {
    const m = dlt645CounterModuli(loadDlt645Profile('dlt645-2007-generic').points).find((x) => x.quantity === 'energy_import_kwh')
    expect(m).toEqual({ quantity: 'energy_import_kwh', modulus: 1_000_000, basis: 'BCD 8 digits, 2 decimals × 1' })
  })

  it('plantwatt edge plan carries it per device', () => {
    const config = validateConfig(
      EdgeConfigSchema,
      {
        devices: [{ enterprise: 'e', site: 's', line: 'l', device: 'p', driver: 'modbus', profile: 'acrel-adl400-primary', connection: { host: '10.0.0.5' } }],
      },
      't',
    ) as EdgeConfig
    const [plan] = planDevices(config)
    expect(plan?.counterModuli?.map((m) => m.quantity)).toContain('energy_import_kwh')
  })
})
