import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { tariffProblems, touCost } from '../tariff.ts'
import { tariffFor } from './tariff-for.ts'
import { HUBEI_TOU_2021, hubeiTouLayoutOn, versionOnLayout } from './tariff-hubei-periods.ts'
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

describe('Hubei TOU layouts (periods without prices)', () => {
  it('a configured 2021 version on the 2021 layout is valid and prices a day period by period', () => {
    expect(hubeiTouLayoutOn('2021-06-01')?.id).toBe('hubei-tou-2021')
    expect(hubeiTouLayoutOn('2024-06-01')?.id).toBe('hubei-tou-2024-77')
    expect(hubeiTouLayoutOn('2020-12-31')).toBeUndefined()
    const prices = { critical_peak: 1.1, peak: 0.9, flat: 0.6, valley: 0.3 } // test prices, not Hubei's
    const tariff: Tariff = {
      id: 'hubei-history',
      region: 'hubei',
      timezone: 'Asia/Shanghai',
      versions: [versionOnLayout(HUBEI_TOU_2021, { id: 'h2021', effectiveFrom: '2021-01-01', kind: 'single-part', pricesPerKwh: prices, source: 'test' })],
    }
    expect(tariffProblems(tariff)).toEqual([])
    // 100 kW over 2021-06-01 (local): valley 23–07 = 800 kWh × 0.3 = 240; flat 07–09, 15–20, 22–23 = 800 × 0.6 = 480;
    // peak 09–15 = 600 × 0.9 = 540; critical peak 20–22 = 200 × 1.1 = 220 → 1480.
    const start = Date.parse('2021-05-31T16:00:00Z')
    const r = touCost([{ start, end: start + 86_400_000, amount: 2400 }], tariff)
    expect(Object.fromEntries(r.byPeriod.map((p) => [p.period, p.energyKwh]))).toEqual({
      valley: expect.closeTo(800, 9),
      flat: expect.closeTo(800, 9),
      peak: expect.closeTo(600, 9),
      critical_peak: expect.closeTo(200, 9),
    })
    expect(r.totalCost).toBeCloseTo(1480, 9)
    expect(r.versions[0]?.id).toBe('h2021')
  })
})

describe('versions older than 12 months', () => {
  it('touCost names a version that priced energy 12 or more months after it took effect', () => {
    const tariff = ROWS[0] as Tariff // versions a (2021-01-01), b (2023-07-01), flat 0.6 / 0.7
    // 2021-12-31 local (11 months after a): not flagged. 2022-01-01 local (12 months): flagged.
    const dec31 = Date.parse('2021-12-30T16:00:00Z')
    expect(touCost([{ start: dec31, end: dec31 + 3_600_000, amount: 1 }], tariff).staleVersions).toEqual([])
    const jan1 = Date.parse('2021-12-31T16:00:00Z')
    const r = touCost([{ start: jan1, end: jan1 + 3_600_000, amount: 1 }], tariff)
    expect(r.staleVersions).toEqual([
      {
        versionId: 'a',
        effectiveFrom: '2021-01-01',
        pricedUntil: jan1 + 3_600_000,
        monthsOld: 12,
        message: 'tariff lv: version a (from 2021-01-01) priced energy 12 months later; add a newer version under reference.tariffs.tariffs in the config file',
      },
    ])
    expect(r.totalCost).toBeCloseTo(0.6, 12)
  })
})
