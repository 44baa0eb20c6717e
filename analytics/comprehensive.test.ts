import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { comprehensiveEnergy, entryFlows, mergeFlows, meterFlow, type EntryAmount } from './comprehensive.ts'
import { findBenchmark, gradeIndicator, gradeProduct } from './sec.ts'

const DAY = 86_400_000
const day = { start: 0, end: DAY }
// 23 446.08 kJ/kg ÷ 29 307.6 kJ/kgce = 0.8 kgce/kg exactly
const COAL: EntryAmount = { id: 'c1', carrier: 'raw-coal', direction: 'import', amount: 125, unit: 't', start: 0, end: DAY, ncvKjPerUnit: 23_446_080 }

describe('comprehensive energy (GB/T 2589-2020)', () => {
  it('adds a metered carrier and an entered fuel with its measured NCV', () => {
    const flows = [meterFlow({ carrier: 'electricity', direction: 'import', amount: 55_000, coverage: 1, refs: ['a/s/kiln/m1'] }), ...entryFlows([COAL], day)]
    const e = comprehensiveEnergy(flows)
    // 55 000 kWh × 0.1229 = 6 759.5 kgce; 125 000 kg × 0.8 = 100 000 kgce
    expect(e.kgce).toBeCloseTo(106_759.5, 6)
    expect(e.tce).toBeCloseTo(106.7595, 9)
    const coal = e.flows.find((f) => f.carrier === 'raw-coal')
    expect(coal).toMatchObject({ source: 'entry', amount: 125_000, unit: 'kg', coverage: 1, conversion: { method: 'measured-ncv' } })
    expect(coal?.conversion.kgcePerUnit).toBeCloseTo(0.8, 12)
    expect(e.basis).toMatchObject({ standard: 'GB/T 2589-2020', tableVersion: 'gbt2589-2020', kjPerKgce: 29307.6 })
  })

  it('splits an entry pro rata by time and reports its coverage', () => {
    const twoDays: EntryAmount = { ...COAL, id: 'c2', amount: 200, end: 2 * DAY, ncvKjPerUnit: undefined }
    const [f] = entryFlows([twoDays], { start: DAY, end: 2 * DAY })
    // half of 200 t = 100 000 kg × 0.7143
    expect(f?.amount).toBeCloseTo(100_000, 6)
    expect(f?.kgce).toBeCloseTo(71_430, 6)
    expect(f?.conversion.method).toBe('coefficient')
    const [g] = entryFlows([{ ...COAL, end: DAY / 4 }], day)
    expect(g?.coverage).toBeCloseTo(0.25, 12)
  })

  it('merges flows keeping the measured-NCV share exact', () => {
    const a = entryFlows([COAL], day)
    const b = entryFlows([{ ...COAL, id: 'c3', ncvKjPerUnit: undefined }], day)
    const [m] = mergeFlows([...a, ...b])
    // 100 000 + 125 000 × 0.7143 = 189 287.5 kgce over 250 000 kg
    expect(m?.kgce).toBeCloseTo(189_287.5, 6)
    expect(m?.conversion).toMatchObject({ method: 'mixed', ncvAmount: 125_000 })
    expect(m?.conversion.ncvKjPerUnit).toBeCloseTo(23_446.08, 6)
  })

  it('codes bad entries naming the entry and field', () => {
    const bad = (e: Partial<EntryAmount>): string => {
      try {
        entryFlows([{ ...COAL, ...e }], day)
        return 'no error'
      } catch (err) {
        return isPlantWattError(err, 'ANALYTICS_ERR_INPUT') ? (err as Error).message : 'other'
      }
    }
    expect(bad({ carrier: 'moon-dust' })).toMatch(/^entry c1: entry\.carrier: unknown carrier "moon-dust"/)
    expect(bad({ amount: -3 })).toMatch(/^entry c1: entry\.amount:/)
    expect(bad({ ncvKjPerUnit: 40_000_000 })).toMatch(/ncvKjPerUnit: .*outside the physical range/)
  })
})

describe('grades that cannot mislead', () => {
  const electricity = meterFlow({ carrier: 'electricity', direction: 'import', amount: 55_000, coverage: 1, refs: ['m1'] })

  it('grades a clinker line with coal entries on 综合能耗 and on 综合电耗', () => {
    const [ce, el] = gradeProduct('cement-clinker', comprehensiveEnergy([electricity, ...entryFlows([COAL], day)]), 1000)
    // 106 759.5 kgce / 1000 t
    expect(ce?.value).toBeCloseTo(106.7595, 9)
    expect(ce?.ungraded).toBeNull()
    expect(ce?.ndrc).toMatchObject({ level: 'compliant', labelZh: '达到基准水平', benchmark: 100, baseline: 117 })
    expect(ce?.ndrc?.gapToBenchmarkPct).toBeCloseTo(6.7595, 9)
    expect(ce?.gb).toMatchObject({ level: 2, withinLimit: true, standard: 'GB 16780-2021' })
    expect(ce?.basis).toMatch(/GB\/T 2589-2020.*当量值.*0\.1229/)
    expect(ce?.carriersCounted.sort()).toEqual(['electricity', 'raw-coal'])
    // 55 000 kWh / 1000 t = 55 kWh/t: GB level 2 (48 < 55 ≤ 57), no NDRC levels
    expect(el).toMatchObject({ product: 'cement-clinker-electricity', kind: 'electricity', unit: 'kWh/t', value: 55, ndrc: null, gb: { level: 2 } })
  })

  it('leaves the same line ungraded on 综合能耗 without coal, with the reason', () => {
    const [ce, el] = gradeProduct('cement-clinker', comprehensiveEnergy([electricity]), 1000)
    expect(ce?.value).toBeNull()
    expect(ce?.ndrc).toBeNull()
    expect(ce?.gb).toBeNull()
    expect(ce?.ungraded?.code).toBe('CARRIER_NOT_METERED')
    expect(ce?.ungraded?.reason).toMatch(/^燃料未计量 \/ fuel not metered: raw-coal/)
    expect(el?.value).toBe(55)
  })

  it('grades a converter that exports recovered gas below zero (NDRC and GB apart)', () => {
    const flows = [
      meterFlow({ carrier: 'electricity', direction: 'import', amount: 25_000, coverage: 1, refs: ['m'] }),
      meterFlow({ carrier: 'oxygen', direction: 'import', amount: 50_000, coverage: 1, refs: ['o2'] }),
      // 7 326.9 kJ/m3 ÷ 29 307.6 = 0.25 kgce/m3
      ...entryFlows([{ id: 'g1', carrier: 'converter-gas', direction: 'export', amount: 140_000, unit: 'm3', start: 0, end: DAY, ncvKjPerUnit: 7326.9 }], day),
    ]
    const g = gradeIndicator(findBenchmark('converter-steelmaking'), comprehensiveEnergy(flows), 1000)
    // 3 072.5 + 20 000 − 35 000 = −11 927.5 kgce / 1000 t
    expect(g.value).toBeCloseTo(-11.9275, 9)
    expect(g.ndrc?.level).toBe('compliant') // ≤ −10 基准, > −30 标杆
    expect(g.gb).toMatchObject({ level: null, withinLimit: false, labelZh: '超过限定值 (3级)' }) // > −12 限定值
    expect(g.warnings).toContain('UNVERIFIED_COEFFICIENT: oxygen (not traced to the GB/T 2589-2020 text)')
    // without the recovered gas it is not graded (it would always read "未达基准")
    const none = gradeIndicator(findBenchmark('converter-steelmaking'), comprehensiveEnergy(flows.slice(0, 2)), 1000)
    expect(none.ungraded).toMatchObject({ code: 'CARRIER_NOT_METERED', carriers: ['converter-gas'] })
  })

  it('says why when there is no output', () => {
    const g = gradeIndicator(findBenchmark('cement-clinker-electricity'), comprehensiveEnergy([electricity]), 0)
    expect(g.ungraded?.code).toBe('NO_OUTPUT')
  })
})
