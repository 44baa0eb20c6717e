import { describe, expect, it } from 'vitest'
import { fitBaseline, predict, reviseBaseline, savings, tTestPValue, baselineAt, type Observation } from './baseline.ts'
import { codeOf } from './test-helpers.ts'

const obs = (rows: Array<[number, Record<string, number>]>): Observation[] => rows.map(([energy, variables], i) => ({ period: `p${i + 1}`, energy, variables }))

/** Student t, df = 3, two-sided p — closed form, independent of the incomplete beta: 1 − (2/π)(θ + sinθ cosθ), θ = atan(|t|/√3). */
const pDf3 = (t: number): number => {
  const th = Math.atan(Math.abs(t) / Math.sqrt(3))
  return 1 - (2 / Math.PI) * (th + Math.sin(th) * Math.cos(th))
}

describe('fitBaseline (ISO 50006 regression)', () => {
  it('recovers an exact fit E = 100 + 2·production + 5·hours with R² = 1', () => {
    const P = [10, 20, 30, 40, 50, 60, 70, 80, 90]
    const H = [5, 3, 8, 6, 9, 4, 7, 2, 10]
    const m = fitBaseline(obs(P.map((p, i) => [100 + 2 * p + 5 * (H[i] as number), { production: p, hours: H[i] as number }])), ['production', 'hours'])
    expect(m.intercept.value).toBeCloseTo(100, 9)
    expect(m.coefficients.map((c) => c.value)).toEqual([expect.closeTo(2, 9), expect.closeTo(5, 9)])
    expect(m.r2).toBeCloseTo(1, 12)
    expect(m.cvRmse).toBeCloseTo(0, 9)
    expect(m).toMatchObject({ n: 9, degreesOfFreedom: 6 })
    expect(m.validity.valid).toBe(true)
    // 100 + 2·55 + 5·6 = 240
    expect(predict(m, { production: 55, hours: 6 })).toBeCloseTo(240, 9)
  })

  it('fits noisy data as computed by hand', () => {
    // x = 1..5, y = 2.1 3.9 6.2 7.8 10.1; x̄ = 3, ȳ = 6.02; Sxx = 10
    // Sxy = (−2)(−3.92) + (−1)(−2.12) + 0 + (1)(1.78) + (2)(4.08) = 19.9 → b = 1.99, a = 6.02 − 3·1.99 = 0.05
    // fitted 2.04 4.03 6.02 8.01 10.00; residuals .06 −.13 .18 −.21 .10; SSE = 0.107
    // SST = 3.92² + 2.12² + 0.18² + 1.78² + 4.08² = 39.708 → R² = 1 − 0.107/39.708 = 0.99730533
    // adj R² = 1 − (1 − R²)·4/3 = 0.99640711; RMSE = √(0.107/3) = 0.18885621; CV = 0.18885621/6.02 = 0.03137147
    // SE(b) = √(0.0356667/10) = 0.05972158, t = 33.3213
    const m = fitBaseline(obs([2.1, 3.9, 6.2, 7.8, 10.1].map((y, i) => [y, { x: i + 1 }])), ['x'])
    const b = m.coefficients[0]!
    expect(b.value).toBeCloseTo(1.99, 12)
    expect(m.intercept.value).toBeCloseTo(0.05, 12)
    expect(m.r2).toBeCloseTo(1 - 0.107 / 39.708, 12)
    expect(m.adjustedR2).toBeCloseTo(1 - ((0.107 / 39.708) * 4) / 3, 12)
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.107 / 3), 12)
    expect(m.cvRmse).toBeCloseTo(Math.sqrt(0.107 / 3) / 6.02, 12)
    expect(b.stdError).toBeCloseTo(Math.sqrt(0.107 / 3 / 10), 12)
    expect(b.tStat).toBeCloseTo(1.99 / Math.sqrt(0.107 / 3 / 10), 9)
    // SE(a) = σ·√(1/n + x̄²/Sxx) = 0.18885621·√(0.2 + 0.9) = 0.19807406
    expect(m.intercept.stdError).toBeCloseTo(Math.sqrt(0.107 / 3) * Math.sqrt(1.1), 12)
    expect(b.pValue).toBeCloseTo(pDf3(b.tStat), 12)
    expect(m.intercept.pValue).toBeCloseTo(pDf3(m.intercept.tStat), 12)
    // Passes R², CV(RMSE) and |t| of x, but 5 points < 3 per parameter (6). (The intercept's |t| of
    // 0.25 is not judged: the t rule applies to the relevant variables.)
    expect(Math.abs(m.intercept.tStat)).toBeCloseTo(0.05 / (Math.sqrt(0.107 / 3) * Math.sqrt(1.1)), 9)
    expect(m.validity.valid).toBe(false)
    expect(m.validity.reasons).toEqual(['5 observations < 3 per parameter (6)'])
    expect(fitBaseline(obs([2.1, 3.9, 6.2, 7.8, 10.1].map((y, i) => [y, { x: i + 1 }])), ['x'], { minPointsPerVariable: 2 }).validity.valid).toBe(true)
  })

  it('p-values match closed forms (df = 1: Cauchy, 1 − (2/π)·atan|t|)', () => {
    expect(tTestPValue(1, 1)).toBeCloseTo(0.5, 12)
    expect(tTestPValue(2.5, 1)).toBeCloseTo(1 - (2 / Math.PI) * Math.atan(2.5), 12)
    expect(tTestPValue(3.182446, 3)).toBeCloseTo(0.05, 6) // t(0.975, 3) = 3.182446
    expect(tTestPValue(0, 7)).toBeCloseTo(1, 12)
  })

  it('reports a model that fails validity as such, with the reasons', () => {
    // Energy unrelated to production: R² near 0, CV(RMSE) large.
    const m = fitBaseline(
      obs([
        [100, { p: 1 }],
        [40, { p: 2 }],
        [120, { p: 3 }],
        [30, { p: 4 }],
        [110, { p: 5 }],
        [50, { p: 6 }],
        [90, { p: 7 }],
      ]),
      ['p'],
    )
    expect(m.validity.valid).toBe(false)
    expect(m.validity.reasons.some((r) => r.startsWith('R² '))).toBe(true)
    expect(m.validity.reasons.some((r) => r.startsWith('CV(RMSE) '))).toBe(true)
    // Thresholds are configurable: with none required it passes.
    expect(
      fitBaseline(
        obs([
          [100, { p: 1 }],
          [40, { p: 2 }],
          [120, { p: 3 }],
          [30, { p: 4 }],
        ]),
        ['p'],
        { minR2: 0, maxCvRmse: 10, minAbsTStat: 0, minPointsPerVariable: 1 },
      ).validity.valid,
    ).toBe(true)
  })

  it('rejects collinear variables and too few points', () => {
    expect(
      codeOf(() =>
        fitBaseline(
          obs([
            [1, { a: 1, b: 2 }],
            [2, { a: 2, b: 4 }],
            [3, { a: 3, b: 6 }],
            [5, { a: 4, b: 8 }],
          ]),
          ['a', 'b'],
        ),
      ),
    ).toBe('ANALYTICS_ERR_REGRESSION')
    expect(
      codeOf(() =>
        fitBaseline(
          obs([
            [1, { a: 1 }],
            [2, { a: 2 }],
          ]),
          ['a'],
        ),
      ),
    ).toBe('ANALYTICS_ERR_REGRESSION')
    expect(
      codeOf(() =>
        fitBaseline(
          obs([
            [1, { a: 1 }],
            [2, {}],
            [3, { a: 3 }],
          ]),
          ['a'],
        ),
      ),
    ).toBe('ANALYTICS_ERR_REGRESSION')
  })
})

describe('savings, CUSUM and revisions', () => {
  const model = fitBaseline(obs([0, 10, 20, 30, 40, 50, 60, 70, 80].map((p) => [100 + 2 * p, { p }])), ['p'])

  it('savings = predicted − actual, accumulated as CUSUM; EnPI = actual / predicted', () => {
    // E = 100 + 2p. p = 10, 20, 30: predicted 120, 140, 160; actual 115, 130, 165
    // savings 5, 10, −5; CUSUM 5, 15, 10; total 420 − 410 = 10 → share 10/420
    const r = savings(
      model,
      obs([
        [115, { p: 10 }],
        [130, { p: 20 }],
        [165, { p: 30 }],
      ]),
    )
    expect(r.periods.map((x) => [x.predicted, x.savings, x.cusum].map((v) => Math.round(v * 1e9) / 1e9))).toEqual([
      [120, 5, 5],
      [140, 10, 15],
      [160, -5, 10],
    ])
    expect(r.periods[0]!.enpiRatio).toBeCloseTo(115 / 120, 12)
    expect(r.totalSavings).toBeCloseTo(10, 9)
    expect(r.savingsShare).toBeCloseTo(10 / 420, 12)
    expect(r.modelValid).toBe(true)
  })

  it('records revisions with their reason, in order', () => {
    const t1 = Date.parse('2024-01-01T00:00:00Z')
    const t2 = Date.parse('2025-01-01T00:00:00Z')
    const h1 = reviseBaseline({ revisions: [] }, model, 'initial baseline 2023', t1)
    const h2 = reviseBaseline(h1, model, 'kiln 2 commissioned (static factor)', t2)
    expect(h2.revisions.map((r) => [r.revision, r.reason, r.supersedes])).toEqual([
      [1, 'initial baseline 2023', undefined],
      [2, 'kiln 2 commissioned (static factor)', 1],
    ])
    expect(h1.revisions).toHaveLength(1)
    expect(baselineAt(h2, t2 - 1)?.revision).toBe(1)
    expect(baselineAt(h2, t2)?.revision).toBe(2)
    expect(baselineAt(h2, t1 - 1)).toBeUndefined()
    expect(codeOf(() => reviseBaseline(h2, model, ' ', t2))).toBe('ANALYTICS_ERR_INPUT')
    expect(codeOf(() => reviseBaseline(h2, model, 'late', t1))).toBe('ANALYTICS_ERR_INPUT')
  })
})
