import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { tariffProblems } from '../tariff.ts'
import { DEFAULT_REFERENCE, resolveReference } from './index.ts'

describe('reference data', () => {
  it('ships every table with its source, and valid tariffs', () => {
    const ref = resolveReference({})
    expect(ref.coal.source).toContain('GB/T 2589-2020')
    expect(ref.emissionFactors.factors.every((f) => f.source.length > 0)).toBe(true)
    expect(ref.benchmarks.products.every((p) => p.source.length > 0)).toBe(true)
    for (const t of ref.tariffs) {
      expect(tariffProblems(t)).toEqual([])
      expect(t.versions.every((v) => v.source.includes('鄂发改价管〔2024〕77号'))).toBe(true)
    }
    expect(ref.tariffs.map((t) => t.id)).toEqual(['hubei-industrial-single-part-1-10kv', 'hubei-industrial-two-part-1-10kv'])
  })

  it('takes overrides from YAML, replacing by key and keeping the rest', () => {
    const yaml = `
tariffs:
  tariffs:
    - id: hubei-industrial-single-part-1-10kv
      region: hubei
      versions:
        - id: flat-rate
          effectiveFrom: '2020-01-01'
          kind: single-part
          pricesPerKwh: { flat: 0.6 }
          seasons: [{ name: all, months: [1,2,3,4,5,6,7,8,9,10,11,12], spans: [{ period: flat, from: '00:00', to: '24:00' }] }]
          source: contract 2020
benchmarks:
  replace: true
  products: []
`
    const ref = resolveReference(parseConfigText(yaml, 'plantwatt.yaml'))
    expect(ref.tariffs).toHaveLength(2)
    expect(ref.tariffs[0]).toMatchObject({ timezone: 'Asia/Shanghai', versions: [{ id: 'flat-rate', currency: 'CNY' }] })
    expect(ref.benchmarks.products).toEqual([])
    expect(ref.coal).toEqual(DEFAULT_REFERENCE.coal)
  })

  it('reports every bad key of an override in one CORE_ERR_CONFIG error', () => {
    try {
      resolveReference({ coal: { coefficients: [{ carrier: 'x', unit: 'kg' }] }, tariffs: { bogus: 1 } })
      expect.unreachable()
    } catch (err) {
      expect(isPlantWattError(err, 'CORE_ERR_CONFIG')).toBe(true)
      const paths = (err as { details: Array<{ path: string }> }).details.map((d) => d.path)
      expect(paths).toEqual(expect.arrayContaining(['/coal/coefficients/0', '/tariffs/bogus']))
    }
  })
})
