import { describe, expect, it } from 'vitest'
import { evaluateCondition, qualify, type QualificationInput } from './qualification.ts'
import { DEFAULT_DIGITAL_WORKSHOP, DEFAULT_SMART_FACTORY } from './commission.ts'

const base: QualificationInput = {
  ncRate: 0.8,
  networkingRate: 0.75,
  openAlerts: 2,
  keyEquipment: 10,
  grades: [
    { line: 'e/s/a', product: 'clinker', grade: 'benchmark' },
    { line: 'e/s/b', product: 'clinker', grade: 'compliant' },
  ],
  attributes: { mesDeployed: true, digitalWorkshops: 2, tier: 'advanced' },
}

describe('qualification conditions', () => {
  it('metric bounds pass and fail with the value found', () => {
    expect(evaluateCondition({ metric: 'ncRate', min: 0.7 }, base)).toEqual({ condition: 'ncRate ≥ 0.7', passed: true, reason: 'ncRate 0.8' })
    expect(evaluateCondition({ metric: 'networkingRate', min: 0.8 }, base)).toEqual({
      condition: 'networkingRate ≥ 0.8',
      passed: false,
      reason: 'networkingRate 0.75 < 0.8',
    })
    expect(evaluateCondition({ metric: 'openAlerts', max: 1 }, base)).toMatchObject({ passed: false, reason: 'openAlerts 2 > 1' })
    // Equality reaches the bound.
    expect(evaluateCondition({ metric: 'ncRate', min: 0.8, max: 0.8 }, base).passed).toBe(true)
    expect(evaluateCondition({ metric: 'ncRate', min: 0.5 }, { ...base, ncRate: null })).toMatchObject({
      passed: false,
      reason: 'ncRate unknown: the enterprise has no key equipment',
    })
  })

  it('grades: every graded product at least the level; none graded passes unless required', () => {
    expect(evaluateCondition({ grades: 'compliant' }, base).passed).toBe(true)
    const strict = evaluateCondition({ grades: 'benchmark' }, base)
    expect(strict).toMatchObject({ passed: false, reason: 'e/s/b (clinker): compliant' })
    const missing = evaluateCondition({ grades: 'compliant' }, { ...base, grades: [{ line: 'e/s/c', product: 'steel', grade: null }] })
    expect(missing).toMatchObject({ passed: false, reason: 'e/s/c (steel): no SEC in the period' })
    expect(evaluateCondition({ grades: 'compliant' }, { ...base, grades: [] })).toMatchObject({ passed: true, reason: 'no graded product: nothing to check' })
    expect(evaluateCondition({ grades: 'compliant', requireGraded: true }, { ...base, grades: [] })).toMatchObject({
      passed: false,
      reason: 'no graded product',
    })
  })

  it('attributes: equals, min, and a missing attribute fails', () => {
    expect(evaluateCondition({ attribute: 'mesDeployed', equals: true }, base)).toMatchObject({ passed: true, reason: 'mesDeployed is true' })
    expect(evaluateCondition({ attribute: 'digitalWorkshops', min: 3 }, base)).toMatchObject({
      passed: false,
      reason: 'digitalWorkshops is 2, not a number ≥ 3',
    })
    expect(evaluateCondition({ attribute: 'tier', equals: 'advanced' }, base).passed).toBe(true)
    expect(evaluateCondition({ attribute: 'erpDeployed', equals: true }, base)).toMatchObject({
      passed: false,
      reason: 'erpDeployed not declared in enterprise.attributes',
    })
  })

  it('qualify: smart factory first, then digital workshop, both rules reported', () => {
    const rules = { smartFactory: DEFAULT_SMART_FACTORY, digitalWorkshop: DEFAULT_DIGITAL_WORKSHOP }
    // networking 0.75: ≥ 0.7 (workshop) but < 0.8 (smart factory).
    const q = qualify(rules, base)
    expect(q.qualifiedAs).toBe('digital_workshop')
    expect(q.rules.map((r) => [r.rule, r.passed])).toEqual([
      ['smart_factory', false],
      ['digital_workshop', true],
    ])
    expect(q.rules[0]?.conditions.filter((c) => !c.passed).map((c) => c.reason)).toEqual(['networkingRate 0.75 < 0.8'])
    expect(qualify(rules, { ...base, networkingRate: 0.9 }).qualifiedAs).toBe('smart_factory')
    expect(qualify(rules, { ...base, ncRate: 0.5 }).qualifiedAs).toBe('none')
    // An empty rule asks nothing and so never qualifies anyone.
    expect(qualify({ smartFactory: [], digitalWorkshop: [] }, base).qualifiedAs).toBe('none')
  })
})
