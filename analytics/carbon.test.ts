import { describe, expect, it } from 'vitest'
import { gridCo2, gridCo2ByYear, selectGridFactor } from './carbon.ts'
import { resolveReference } from './reference/index.ts'
import { codeOf } from './test-helpers.ts'

describe('grid CO2 factors (MEE/NBS)', () => {
  it('uses the newest factor of the region not after the data year, and names it', () => {
    // Hubei 2023 data: Hubei has 2021, 2022 → 2022, 0.4364 kg/kWh; 1000 kWh → 436.4 kg.
    const r = gridCo2(1000, 'hubei', 2023)
    expect(r.kgCo2).toBeCloseTo(436.4, 9)
    expect(r.factor).toMatchObject({
      region: 'hubei',
      year: 2022,
      kgCo2PerKwh: 0.4364,
      verified: true,
      requested: { region: 'hubei', year: 2023 },
      fellBackFrom: [],
    })
    expect(r.factor.source).toContain('MEE')
    // Central China 2024 → 2023, 0.5271: 2000 kWh → 1054.2 kg.
    expect(gridCo2(2000, 'central-china', 2024).kgCo2).toBeCloseTo(1054.2, 9)
  })

  it('ships the 2023 national and regional-grid factors with the 2023 announcement as source', () => {
    // Central China 2023: 0.5271 kg/kWh; 1000 kWh → 527.1 kg. North China 0.6361, Southwest 0.2472.
    const cc = gridCo2(1000, 'central-china', 2023)
    expect(cc.kgCo2).toBeCloseTo(527.1, 9)
    expect(cc.factor).toMatchObject({ region: 'central-china', year: 2023, verified: true })
    expect(cc.factor.source).toContain('2023年电力二氧化碳排放因子')
    expect(selectGridFactor('north-china', 2023).kgCo2PerKwh).toBe(0.6361)
    expect(selectGridFactor('southwest-china', 2025)).toMatchObject({ year: 2023, kgCo2PerKwh: 0.2472 })
    expect(selectGridFactor('national', 2023)).toMatchObject({ kgCo2PerKwh: 0.5306 })
    // A configured Hubei 2023 value is the one a 2023 Hubei answer uses, with its source.
    const ref = resolveReference({ emissionFactors: { factors: [{ region: 'hubei', year: 2023, kgCo2PerKwh: 0.45, source: 'configured (test value)' }] } })
    expect(selectGridFactor('hubei', 2023, ref.emissionFactors)).toMatchObject({
      region: 'hubei',
      year: 2023,
      kgCo2PerKwh: 0.45,
      source: 'configured (test value)',
    })
  })

  it('marks the unverified national 2021 value when it is used', () => {
    const f = selectGridFactor('national', 2021)
    expect(f).toMatchObject({ kgCo2PerKwh: 0.5568, verified: false })
    expect(f.note).toMatch(/unverified/)
  })

  it('falls back to the wider region, and fails when none has a factor', () => {
    // A Wuhan region (configured, parent hubei) without factors: 2022 → Hubei 0.4364.
    const ref = resolveReference({ emissionFactors: { regions: [{ id: 'wuhan', parent: 'hubei' }] } })
    const f = selectGridFactor('wuhan', 2022, ref.emissionFactors)
    expect(f).toMatchObject({ region: 'hubei', year: 2022, fellBackFrom: ['wuhan'] })
    // 2020: no Hubei, Central China or national factor ≤ 2020.
    expect(codeOf(() => selectGridFactor('hubei', 2020))).toBe('ANALYTICS_ERR_FACTOR')
    expect(() => selectGridFactor('hubei', 2020)).toThrow(
      /tried hubei → central-china → national\): configure one under reference\.emissionFactors\.factors in the config file/,
    )
    expect(codeOf(() => selectGridFactor('atlantis', 2023))).toBe('ANALYTICS_ERR_FACTOR')
  })

  it('a configured factor overrides the shipped one for its region and year', () => {
    const ref = resolveReference({ emissionFactors: { factors: [{ region: 'hubei', year: 2022, kgCo2PerKwh: 0.4, source: 'plant auditor 2024' }] } })
    expect(gridCo2(100, 'hubei', 2022, ref.emissionFactors)).toMatchObject({ kgCo2: 40, factor: { source: 'plant auditor 2024', kgCo2PerKwh: 0.4 } })
  })

  it('prices each year of a multi-year range with its own factor', () => {
    // Hubei: 1000 kWh in 2021 × 0.3672 + 1000 kWh in 2022 × 0.4364 = 367.2 + 436.4 = 803.6
    const r = gridCo2ByYear(
      [
        { year: 2021, energyKwh: 1000 },
        { year: 2022, energyKwh: 1000 },
      ],
      'hubei',
    )
    expect(r.kgCo2).toBeCloseTo(803.6, 9)
    expect(r.parts.map((p) => p.factor.year)).toEqual([2021, 2022])
  })
})
