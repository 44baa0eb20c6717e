import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { CARRIERS, KJ_PER_KGCE, carrierInputProblems, carrierKgce, carrierOfQuantity } from './carriers.ts'
import { DEFAULT_REFERENCE } from './reference/index.ts'

describe('carriers', () => {
  it('every carrier has a coefficient in the shipped table, in its own unit', () => {
    for (const c of CARRIERS) {
      const row = DEFAULT_REFERENCE.coal.coefficients.find((x) => x.carrier === c.id)
      expect(row, c.id).toBeDefined()
      expect(row?.unit, c.id).toBe(c.unit)
    }
  })

  it('maps counters to carriers with their scale and direction', () => {
    expect(carrierOfQuantity('coal_t')).toMatchObject({ carrier: { id: 'raw-coal' }, meter: { direction: 'import', toCarrierUnit: 1000 } })
    expect(carrierOfQuantity('energy_export_kwh')).toMatchObject({ carrier: { id: 'electricity' }, meter: { direction: 'export' } })
    expect(carrierOfQuantity('heat_kwh')?.meter.toCarrierUnit).toBe(3.6)
    expect(carrierOfQuantity('voltage_l1_v')).toBeUndefined()
  })

  it('converts with the table coefficient: 12 t raw coal = 12 000 kg × 0.7143 = 8571.6 kgce', () => {
    const r = carrierKgce({ carrier: 'raw-coal', amount: 12, unit: 't' })
    expect(r.amount).toBe(12_000)
    expect(r.kgce).toBeCloseTo(8571.6, 6)
    expect(r.conversion).toMatchObject({ method: 'coefficient', kgcePerUnit: 0.7143, tableVersion: 'gbt2589-2020', verified: true })
  })

  it('a measured NCV replaces the coefficient: 10 t at 23 446 080 kJ/t = 10 000 kg × 23 446.08 / 29 307.6 = 8000 kgce', () => {
    expect(KJ_PER_KGCE).toBe(29307.6)
    const r = carrierKgce({ carrier: 'raw-coal', amount: 10, unit: 't', ncvKjPerUnit: 23_446_080 })
    expect(r.kgce).toBeCloseTo(8000, 6)
    expect(r.conversion.method).toBe('measured-ncv')
    expect(r.conversion.kgcePerUnit).toBeCloseTo(0.8, 12)
    expect(r.conversion.ncvKjPerUnit).toBeCloseTo(23_446.08, 6)
  })

  it('unverified coefficients say so', () => {
    const r = carrierKgce({ carrier: 'oxygen', amount: 1000, unit: 'm3' })
    expect(r.kgce).toBeCloseTo(400, 9)
    expect(r.conversion.verified).toBe(false)
  })

  it('codes bad input naming the field', () => {
    expect(carrierInputProblems({ carrier: 'unobtainium', amount: 1, unit: 't' }).map((p) => [p.field, p.code])).toEqual([['carrier', 'UNKNOWN_CARRIER']])
    expect(carrierInputProblems({ carrier: 'raw-coal', amount: -1, unit: 't' }).map((p) => p.code)).toEqual(['BAD_AMOUNT'])
    expect(carrierInputProblems({ carrier: 'raw-coal', amount: 1, unit: 'm3' }).map((p) => p.code)).toEqual(['BAD_UNIT'])
    // 50 000 kJ/kg is no coal
    expect(carrierInputProblems({ carrier: 'raw-coal', amount: 1, unit: 't', ncvKjPerUnit: 50_000_000 }).map((p) => p.code)).toEqual(['NCV_OUT_OF_RANGE'])
    expect(carrierInputProblems({ carrier: 'electricity', amount: 1, unit: 'kWh', ncvKjPerUnit: 3600 }).map((p) => p.code)).toEqual(['NCV_NOT_ACCEPTED'])
    try {
      carrierKgce({ carrier: 'raw-coal', amount: -5, unit: 't' })
      expect.unreachable()
    } catch (e) {
      expect(isPlantWattError(e, 'ANALYTICS_ERR_INPUT')).toBe(true)
      expect((e as Error).message).toMatch(/^entry\.amount:/)
    }
  })
})
