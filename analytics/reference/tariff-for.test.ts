import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { tariffFor } from './tariff-for.ts'
import type { Tariff } from './schemas.ts'

const flat = (id: string, effectiveFrom: string, price: number) => ({
  id,
  effectiveFrom,
  kind: 'single-part' as const,
  currency: 'CNY',
  pricesPerKwh: { flat: price },
  seasons: [{ name: 'all', months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], spans: [{ period: 'flat', from: '00:00', to: '24:00' }] }],
  source: 'test',
})

const ROWS: Tariff[] = [
  {
    id: 'lv',
    region: 'r',
    voltageKv: { min: 1, max: 35 },
    pricing: 'single-part',
    timezone: 'Asia/Shanghai',
    versions: [flat('a', '2021-01-01', 0.6), flat('b', '2023-07-01', 0.7)],
  },
  { id: 'mv', region: 'r', voltageKv: { min: 35, max: 110 }, pricing: 'single-part', timezone: 'Asia/Shanghai', versions: [flat('c', '2021-01-01', 0.5)] },
  { id: 'any', region: 'r', timezone: 'Asia/Shanghai', versions: [flat('d', '2021-01-01', 0.9)] },
]

describe('tariffFor', () => {
  it('picks the row by region, pricing and voltage, and the version in force (local midnight, UTC+8)', () => {
    // 2023-07-01 00:00 in Shanghai = 2023-06-30T16:00Z: one minute before is still version a.
    expect(tariffFor({ region: 'r', voltageKv: 10, pricing: 'single-part', at: Date.parse('2023-06-30T15:59:00Z') }, ROWS).version.id).toBe('a')
    const b = tariffFor({ region: 'r', voltageKv: 10, pricing: 'single-part', at: Date.parse('2023-06-30T16:00:00Z') }, ROWS)
    expect(b).toMatchObject({ tariff: { id: 'lv' }, version: { id: 'b' }, validFrom: Date.parse('2023-06-30T16:00:00Z'), validUntil: null })
    expect(tariffFor({ region: 'r', voltageKv: 35, pricing: 'single-part', at: Date.parse('2022-01-01T00:00:00Z') }, ROWS).tariff.id).toBe('mv')
    // 110 kV: no explicit row covers it, the voltage-less row does.
    expect(tariffFor({ region: 'r', voltageKv: 110, pricing: 'single-part', at: Date.parse('2022-01-01T00:00:00Z') }, ROWS).tariff.id).toBe('any')
  })

  it('names the config key when there is no tariff or no version in force', () => {
    const missing = () => tariffFor({ region: 'r', voltageKv: 10, pricing: 'two-part', at: 0 }, ROWS)
    expect(missing).toThrow(/reference\.tariffs\.tariffs/)
    try {
      tariffFor({ region: 'r', voltageKv: 10, pricing: 'single-part', at: Date.parse('2020-06-01T00:00:00Z') }, ROWS)
      expect.unreachable()
    } catch (err) {
      expect(isPlantWattError(err, 'ANALYTICS_ERR_TARIFF')).toBe(true)
      expect((err as Error).message).toMatch(/tariff lv: no version in force at 2020-06-01.*first takes effect 2021-01-01.*reference\.tariffs\.tariffs/)
    }
  })

  it('finds the shipped Hubei rows', () => {
    const t = tariffFor({ region: 'hubei', voltageKv: 10, pricing: 'two-part', at: Date.parse('2026-02-01T00:00:00Z') })
    expect(t.tariff.id).toBe('hubei-industrial-two-part-1-10kv')
    expect(t.version.demandChargePerKwMonth).toBe(42)
  })
})
