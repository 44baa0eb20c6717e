import { describe, expect, it } from 'vitest'
import { coalFactor, quantityToKgce, toKgce, totalKgce } from './coal.ts'
import { resolveReference } from './reference/index.ts'
import { codeOf } from './test-helpers.ts'

describe('coal equivalent (GB/T 2589-2020)', () => {
  it('converts electricity, gas and steam with the coefficient it names', () => {
    // 1000 kWh × 0.1229 = 122.9 kgce
    const e = toKgce(1000, 'electricity')
    expect(e.kgce).toBeCloseTo(122.9, 9)
    expect(e.factor).toMatchObject({ carrier: 'electricity', unit: 'kWh', kgcePerUnit: 0.1229, tableVersion: 'gbt2589-2020' })
    expect(e.factor.source).toContain('GB/T 2589-2020')
    // 100 m³ gas × 1.2143 = 121.43; steam_t 2 t = 2000 kg × 0.1286 = 257.2
    expect(quantityToKgce(100, 'gas_m3').kgce).toBeCloseTo(121.43, 9)
    expect(quantityToKgce(2, 'steam_t').kgce).toBeCloseTo(257.2, 9)
    // 综合能耗: 122.9 + 121.43 = 244.33
    expect(
      totalKgce([
        { carrier: 'electricity', amount: 1000 },
        { carrier: 'natural-gas', amount: 100 },
      ]).kgce,
    ).toBeCloseTo(244.33, 9)
  })

  it('has no shipped equal-value electricity coefficient: it must be configured', () => {
    expect(codeOf(() => coalFactor('electricity-equal-value'))).toBe('ANALYTICS_ERR_FACTOR')
    const ref = resolveReference({
      coal: { coefficients: [{ carrier: 'electricity-equal-value', unit: 'kWh', kgcePerUnit: 0.3, source: 'provincial statistics bureau 2024' }] },
    })
    // 1000 kWh × 0.3 = 300 kgce; the shipped coefficients stay.
    expect(toKgce(1000, 'electricity-equal-value', ref.coal)).toMatchObject({ kgce: 300, factor: { source: 'provincial statistics bureau 2024' } })
    expect(toKgce(10, 'diesel', ref.coal).kgce).toBeCloseTo(14.571, 9)
    // Every counter of analytics/carriers.ts converts: 3 t of coal = 3000 kg × 0.7143; water_m3 is fresh water (0.0857 kgce/t, unverified).
    expect(quantityToKgce(3, 'coal_t').kgce).toBeCloseTo(2142.9, 9)
    expect(quantityToKgce(10, 'water_m3').kgce).toBeCloseTo(0.857, 12)
    expect(codeOf(() => quantityToKgce(1, 'voltage_l1_v'))).toBe('ANALYTICS_ERR_FACTOR')
  })
})
