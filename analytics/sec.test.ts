import { describe, expect, it } from 'vitest'
import { counterEnergy } from './energy.ts'
import { gapPercent, gradeSec, secKgcePerTonne, specificEnergy } from './sec.ts'
import { resolveReference } from './reference/index.ts'
import { codeOf } from './test-helpers.ts'

describe('specific energy consumption and grades', () => {
  it('computes kWh/unit and kgce/t from several carriers', () => {
    // 1200 kWh / 400 parts = 3 kWh/pcs
    expect(specificEnergy(1200, 400, 'kWh/pcs').value).toBe(3)
    // 50 000 kWh × 0.1229 = 6145 kgce + 1000 m³ × 1.2143 = 1214.3 kgce → 7359.3 kgce / 60 t = 122.655 kgce/t
    const s = secKgcePerTonne(
      [
        { carrier: 'electricity', amount: 50_000 },
        { carrier: 'natural-gas', amount: 1000 },
      ],
      60,
    )
    expect(s.value).toBeCloseTo(122.655, 9)
    expect(s.unit).toBe('kgce/t')
    expect(codeOf(() => specificEnergy(1, 0, 'kWh/t'))).toBe('ANALYTICS_ERR_INPUT')
  })

  it('grades cement clinker against 标杆 100 / 基准 117 kgce/t and the GB 16780-2021 levels', () => {
    // 105: between → compliant; gap to benchmark (105 − 100)/100 = +5 %; to baseline (105 − 117)/117 = −10.2564 %; GB level 2 (≤ 107)
    const g = gradeSec(105, 'cement-clinker')
    expect(g).toMatchObject({ grade: 'compliant', benchmark: 100, baseline: 117, gbLevel: 2, unverified: false })
    expect(g.gapToBenchmarkPct).toBeCloseTo(5, 9)
    expect(g.gapToBaselinePct).toBeCloseTo(-10.25641026, 6)
    expect(gradeSec(100, 'cement-clinker')).toMatchObject({ grade: 'benchmark', gbLevel: 1, gapToBenchmarkPct: 0 })
    expect(gradeSec(118, 'cement-clinker')).toMatchObject({ grade: 'below_baseline', gbLevel: 'none' })
  })

  it('handles the negative values of converter steelmaking (标杆 −30, 基准 −10): lower is still better', () => {
    // −32: better than −30 → benchmark; gap (−32 − (−30)) / 30 = −6.667 %; to baseline (−32 + 10)/10 = −220 %
    const best = gradeSec(-32, 'converter-steelmaking')
    expect(best.grade).toBe('benchmark')
    expect(best.gapToBenchmarkPct).toBeCloseTo(-6.6666667, 6)
    expect(best.gapToBaselinePct).toBeCloseTo(-220, 9)
    // −20: compliant; +33.33 % worse than the benchmark, 100 % better than the baseline; GB level 3 (≤ −12)
    const mid = gradeSec(-20, 'converter-steelmaking')
    expect(mid).toMatchObject({ grade: 'compliant', gbLevel: 3 })
    expect(mid.gapToBenchmarkPct).toBeCloseTo(33.333333, 5)
    expect(mid.gapToBaselinePct).toBeCloseTo(-100, 9)
    // −5: worse than −10 → below baseline, +50 %; misses the GB limit (−12)
    const worst = gradeSec(-5, 'converter-steelmaking')
    expect(worst).toMatchObject({ grade: 'below_baseline', gbLevel: 'none' })
    expect(worst.gapToBaselinePct).toBeCloseTo(50, 9)
    expect(gapPercent(1, 0)).toBeNull()
  })

  it('flags the unverified aluminium values, grades products with GB levels only, and takes configured benchmarks', () => {
    expect(gradeSec(13100, 'electrolytic-aluminium')).toMatchObject({ grade: 'compliant', unverified: true, gbLevel: 3 })
    const eaf = gradeSec(63, 'eaf-steel-70t')
    expect(eaf.grade).toBeUndefined()
    expect(eaf.gbLevel).toBe(2)
    const ref = resolveReference({
      benchmarks: {
        products: [
          {
            id: 'gearbox',
            name: 'gearbox',
            indicator: 'kWh per unit',
            unit: 'kWh/pcs',
            ndrc: { benchmark: 40, baseline: 55 },
            source: 'enterprise baseline 2024',
          },
        ],
      },
    })
    // 48 kWh/pcs: compliant; (48 − 40)/40 = +20 %
    expect(gradeSec(48, 'gearbox', ref.benchmarks)).toMatchObject({ grade: 'compliant', gapToBenchmarkPct: 20 })
    expect(codeOf(() => gradeSec(1, 'unobtainium'))).toBe('ANALYTICS_ERR_BENCHMARK')
  })

  it('composes with counters: energy and production counters over a shift give kWh/t', () => {
    // energy_import_kwh 10 000 → 12 400 (2 400 kWh), output_t 500.0 → 548.0 (48 t) over 08:00–16:00: 50 kWh/t
    const t0 = Date.parse('2024-05-01T00:00:00Z')
    const range = [{ start: t0, end: t0 + 8 * 3_600_000 }]
    const hourly = (from: number, perHour: number) => Array.from({ length: 9 }, (_, h) => ({ ts: t0 + h * 3_600_000, value: from + perHour * h }))
    const energy = counterEnergy(hourly(10_000, 300), range, { maxGapMs: 3_600_000 }).total.amount
    const tonnes = counterEnergy(hourly(500, 6), range, { maxGapMs: 3_600_000 }).total.amount
    expect(specificEnergy(energy, tonnes, 'kWh/t')).toEqual({ value: 50, unit: 'kWh/t', energy: 2400, production: 48 })
  })
})
