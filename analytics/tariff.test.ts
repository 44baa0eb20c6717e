import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { counterIncrements } from './energy.ts'
import { HUBEI_SINGLE_PART_1_10KV, HUBEI_TWO_PART_1_10KV } from './reference/index.ts'
import type { Tariff } from './reference/schemas.ts'
import { compileTariff, periodAt, pricePieces, tariffProblems, touCost, validateTariff, type TariffProblem } from './tariff.ts'
import { MIN, sh, thrown } from './test-helpers.ts'

const single = compileTariff(HUBEI_SINGLE_PART_1_10KV)
const iv = (from: string, to: string, amount: number) => ({ start: sh(from), end: sh(to), amount })
const costOf = (r: ReturnType<typeof touCost>, period: string) => r.byPeriod.find((p) => p.period === period)

describe('Hubei 2024 TOU tariff (鄂发改价管〔2024〕77号, January 2026 1–10 kV prices)', () => {
  it('prices 100 kWh in the valley 00:00–06:00 at 0.496924 = 49.6924 yuan', () => {
    const r = touCost([iv('2026-01-05T00:00', '2026-01-05T06:00', 100)], single)
    expect(r.totalCost).toBeCloseTo(49.6924, 9)
    expect(r.byPeriod).toEqual([{ period: 'valley', energyKwh: 100, cost: expect.closeTo(49.6924, 9), pricePerKwh: 0.496924 }])
    expect(r.versions[0]).toMatchObject({ id: 'hubei-2026-01-single', effectiveFrom: '2026-01-01' })
    expect(r.versions[0]?.source).toContain('鄂发改价管〔2024〕77号')
  })

  it('splits an interval crossing 06:00: 200 kWh over 05:00–07:00 = 100 valley + 100 flat', () => {
    // 100 × 0.496924 + 100 × 0.715686 = 49.6924 + 71.5686 = 121.261
    const r = touCost([iv('2026-01-05T05:00', '2026-01-05T07:00', 200)], single)
    expect(costOf(r, 'valley')?.energyKwh).toBeCloseTo(100, 9)
    expect(costOf(r, 'flat')?.energyKwh).toBeCloseTo(100, 9)
    expect(r.totalCost).toBeCloseTo(121.261, 9)
  })

  it('uses the July–August hours in summer', () => {
    // 120 kWh over 17:00–19:00. January: 17–18 peak, 18–19 critical peak:
    //   60 × 0.910961 + 60 × 1.113999 = 54.65766 + 66.83994 = 121.4976
    // July: 16–20 is all peak: 120 × 0.910961 = 109.31532
    expect(touCost([iv('2026-01-05T17:00', '2026-01-05T19:00', 120)], single).totalCost).toBeCloseTo(121.4976, 9)
    const july = touCost([iv('2026-07-06T17:00', '2026-07-06T19:00', 120)], single)
    expect(july.totalCost).toBeCloseTo(109.31532, 9)
    expect(july.byPeriod.map((p) => p.period)).toEqual(['peak'])
    // July 20:00–22:00 is the critical peak: 10 kWh × 1.113999
    expect(touCost([iv('2026-07-06T20:00', '2026-07-06T22:00', 10)], single).totalCost).toBeCloseTo(11.13999, 9)
    expect(periodAt(sh('2026-08-31T21:59'), single).period).toBe('critical_peak')
    expect(periodAt(sh('2026-09-01T21:59'), single).period).toBe('peak')
  })

  it('a counter reset at the 06:00 valley/flat boundary', () => {
    // Counter 05:50 1000 kWh → 06:10 4 kWh → 06:20 9; a recorded reset at 06:00 (1002 before, 2 after):
    // 1002 − 1000 = 2 valley (05:50–06:00), 4 − 2 = 2 flat (06:00–06:10); then 5 flat.
    // 2 × 0.496924 + 7 × 0.715686 = 0.993848 + 5.009802 = 6.00365
    const { increments, anomalies } = counterIncrements(
      [
        { ts: sh('2026-01-05T05:50'), value: 1000 },
        { ts: sh('2026-01-05T06:10'), value: 4 },
        { ts: sh('2026-01-05T06:20'), value: 9 },
      ],
      { maxGapMs: 30 * MIN, events: [{ kind: 'reset', ts: sh('2026-01-05T06:00'), valueBefore: 1002, valueAfter: 2 }] },
    )
    expect(anomalies.map((a) => a.kind)).toEqual(['reset'])
    const r = touCost(increments, single)
    expect(costOf(r, 'valley')?.energyKwh).toBeCloseTo(2, 12)
    expect(costOf(r, 'flat')?.energyKwh).toBeCloseTo(7, 12)
    expect(r.totalCost).toBeCloseTo(6.00365, 9)
  })

  it('refuses to price energy before the first version takes effect', () => {
    const err = thrown(() => touCost([iv('2025-12-31T23:00', '2026-01-01T01:00', 10)], single))
    expect(isPlantWattError(err, 'ANALYTICS_ERR_TARIFF')).toBe(true)
  })

  it('two-part: energy at the two-part prices + monthly max 15-minute demand × 42 yuan/kW', () => {
    // 10:00–10:15 25 kWh (100 kW), 10:15–10:30 50 kWh (200 kW), both flat:
    //   75 × 0.651886 = 48.89145; demand 200 kW × 42 = 8400; total 8448.89145
    const r = touCost([iv('2026-01-05T10:00', '2026-01-05T10:15', 25), iv('2026-01-05T10:15', '2026-01-05T10:30', 50)], HUBEI_TWO_PART_1_10KV)
    expect(r.energyCost).toBeCloseTo(48.89145, 9)
    expect(r.demandCharge).toBeCloseTo(8400, 9)
    expect(r.totalCost).toBeCloseTo(8448.89145, 9)
    expect(r.byMonth[0]).toMatchObject({ month: '2026-01', maxDemand: { demandKw: 200, start: sh('2026-01-05T10:15') } })
    // A given monthly maximum (e.g. from the utility meter) takes precedence: 150 kW × 42 = 6300.
    expect(
      touCost([iv('2026-01-05T10:00', '2026-01-05T10:15', 25)], HUBEI_TWO_PART_1_10KV, { monthlyMaxDemandKw: { '2026-01': 150 } }).demandCharge,
    ).toBeCloseTo(6300, 9)
  })
})

const simple = (overrides: Partial<Tariff> = {}): Tariff => ({
  id: 'test',
  region: 'test',
  timezone: 'Asia/Shanghai',
  versions: [
    {
      id: 'v1',
      effectiveFrom: '2024-01-01',
      kind: 'single-part',
      currency: 'CNY',
      pricesPerKwh: { night: 0.1, day: 0.2 },
      seasons: [
        {
          name: 'all',
          months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
          spans: [
            { period: 'night', from: '22:00', to: '06:00' },
            { period: 'day', from: '06:00', to: '22:00' },
          ],
        },
      ],
      source: 'test',
    },
  ],
  ...overrides,
})

describe('tariff versions and zones', () => {
  it('wraps a span past midnight (22:00–06:00)', () => {
    // 23:00–07:00, 80 kWh (10 kWh/h): 7 h night 70 kWh × 0.1 = 7 + 1 h day 10 kWh × 0.2 = 2 → 9 yuan
    expect(touCost([iv('2024-05-01T23:00', '2024-05-02T07:00', 80)], simple()).totalCost).toBeCloseTo(9, 9)
  })

  it('prices each part of an interval with the version in force', () => {
    // v2 from 2024-06-01 doubles the prices. 10 kWh over 2024-05-31 23:00 → 06-01 01:00, all night:
    // 5 × 0.1 + 5 × 0.2 = 1.5
    const t = simple()
    const v1 = t.versions[0] as Tariff['versions'][number]
    t.versions.push({ ...v1, id: 'v2', effectiveFrom: '2024-06-01', pricesPerKwh: { night: 0.2, day: 0.4 } })
    const r = touCost([iv('2024-05-31T23:00', '2024-06-01T01:00', 10)], t)
    expect(r.totalCost).toBeCloseTo(1.5, 12)
    expect(r.versions.map((v) => [v.id, v.energyKwh])).toEqual([
      ['v1', 5],
      ['v2', 5],
    ])
    expect(r.byMonth.map((m) => m.month)).toEqual(['2024-05', '2024-06'])
  })

  it('follows the wall clock in a DST zone and not in Asia/Shanghai', () => {
    // Night 00:00–06:00 at 0.1, day at 0.2 (spans rewritten). 10 kWh per real hour over 7 real hours from local midnight.
    // Europe/Berlin on 2024-03-31 (clocks 02:00 → 03:00): 00:00 CET = 23:00Z, night ends 06:00 CEST = 04:00Z
    //   → 5 h night (50 kWh × 0.1 = 5) + 2 h day (20 kWh × 0.2 = 4) = 9
    // Asia/Shanghai (no DST): 6 h night (6) + 1 h day (2) = 8
    const spans = [
      { period: 'night', from: '00:00', to: '06:00' },
      { period: 'day', from: '06:00', to: '24:00' },
    ]
    const make = (timezone: string): Tariff => {
      const t = simple({ timezone })
      ;(t.versions[0] as Tariff['versions'][number]).seasons[0]!.spans = spans
      return t
    }
    const berlin = touCost([{ start: Date.parse('2024-03-30T23:00:00Z'), end: Date.parse('2024-03-31T06:00:00Z'), amount: 70 }], make('Europe/Berlin'))
    expect(berlin.totalCost).toBeCloseTo(9, 9)
    expect(berlin.byPeriod.find((p) => p.period === 'night')?.energyKwh).toBeCloseTo(50, 9)
    const shanghai = touCost([{ start: sh('2024-03-31T00:00'), end: sh('2024-03-31T07:00'), amount: 70 }], make('Asia/Shanghai'))
    expect(shanghai.totalCost).toBeCloseTo(8, 9)
    const pieces = pricePieces(
      [{ start: Date.parse('2024-03-30T23:00:00Z'), end: Date.parse('2024-03-31T06:00:00Z'), amount: 70 }],
      compileTariff(make('Europe/Berlin')),
    )
    expect(pieces.map((p) => new Date(p.end).toISOString())).toEqual(['2024-03-31T04:00:00.000Z', '2024-03-31T06:00:00.000Z'])
  })
})

describe('tariff validation', () => {
  it('lists overlapping and missing hours, unpriced periods and months without a season', () => {
    // day 06:00–13:00 overlaps lunch 12:00–14:00 for 12:00–13:00; 14:00–22:00 is in no period;
    // 'lunch' has no price; December is in no season.
    const t = simple()
    const v = t.versions[0] as Tariff['versions'][number]
    v.seasons = [
      {
        name: 'most',
        months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        spans: [
          { period: 'night', from: '22:00', to: '06:00' },
          { period: 'day', from: '06:00', to: '13:00' },
          { period: 'lunch', from: '12:00', to: '14:00' },
        ],
      },
    ]
    const problems = tariffProblems(t)
    expect(problems.map((p) => [p.problem, p.from, p.to])).toEqual([
      ['unpriced-period', undefined, undefined],
      ['overlap', '12:00', '13:00'],
      ['missing', '14:00', '22:00'],
      ['month-missing', undefined, undefined],
    ])
    expect(problems.find((p) => p.problem === 'overlap')?.periods).toEqual(['day', 'lunch'])
    expect(problems.find((p) => p.problem === 'month-missing')?.months).toEqual([12])
    const err = thrown(() => validateTariff(t))
    expect(isPlantWattError(err, 'ANALYTICS_ERR_TARIFF')).toBe(true)
    expect((err as { details: TariffProblem[] }).details).toHaveLength(4)
    expect((err as Error).message).toContain('12:00–13:00 is in more than one period (day, lunch)')
    expect(() => compileTariff(t)).toThrow(/14:00–22:00 is in no period/)
  })

  it('accepts the shipped tariffs and requires a demand charge on two-part versions', () => {
    expect(tariffProblems(HUBEI_SINGLE_PART_1_10KV)).toEqual([])
    expect(tariffProblems(HUBEI_TWO_PART_1_10KV)).toEqual([])
    const t = structuredClone(HUBEI_TWO_PART_1_10KV)
    delete (t.versions[0] as Tariff['versions'][number]).demandChargePerKwMonth
    expect(tariffProblems(t).map((p) => p.problem)).toEqual(['no-demand-charge'])
  })

  it('splits 15-minute data exactly on hour boundaries (no spurious pieces)', () => {
    const pieces = pricePieces([iv('2026-01-05T05:45', '2026-01-05T06:00', 1), iv('2026-01-05T06:00', '2026-01-05T06:15', 1)], single)
    expect(pieces.map((p) => [p.period, p.end - p.start])).toEqual([
      ['valley', 15 * MIN],
      ['flat', 15 * MIN],
    ])
  })
})
