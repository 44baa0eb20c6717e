import { describe, expect, it } from 'vitest'
import { demandFromEnergy, demandFromPower, forecastDemand, monthlyMaxDemand } from './demand.ts'
import { codeOf, MIN, sh } from './test-helpers.ts'

const TZ = 'Asia/Shanghai'

describe('15-minute demand', () => {
  it('is energy per quarter hour × 4, aligned to the local quarter hour', () => {
    // 1-minute intervals of 2 kWh from 10:05 to 10:35 (60 kWh): 10:00–10:15 gets 10 × 2 = 20 kWh → 80 kW (coverage 10/15);
    // 10:15–10:30: 15 × 2 = 30 kWh → 120 kW; 10:30–10:45: 5 × 2 = 10 kWh → 40 kW (coverage 5/15).
    const ivs = Array.from({ length: 30 }, (_, k) => ({ start: sh('2026-01-05T10:05') + k * MIN, end: sh('2026-01-05T10:06') + k * MIN, amount: 2 }))
    const w = demandFromEnergy(ivs, TZ, { start: sh('2026-01-05T10:00'), end: sh('2026-01-05T10:45') })
    expect(w.map((x) => [x.energyKwh, x.demandKw])).toEqual([
      [20, 80],
      [30, 120],
      [10, 40],
    ])
    expect(w.map((x) => x.coverage)).toEqual([10 / 15, 1, 5 / 15])
  })

  it('from power samples: a constant 300 kW is 300 kW of demand', () => {
    const s = Array.from({ length: 16 }, (_, k) => ({ ts: sh('2026-01-05T10:00') + k * MIN, value: 300 }))
    const [w] = demandFromPower(s, TZ, { start: sh('2026-01-05T10:00'), end: sh('2026-01-05T10:15') })
    expect(w).toMatchObject({ energyKwh: 75, demandKw: 300, coverage: 1 })
  })

  it('keeps the maximum window of each local month', () => {
    // Jan 31 23:45–24:00 (Shanghai) 50 kWh → 200 kW belongs to January; Feb 1 00:00–00:15 25 kWh → 100 kW.
    const w = demandFromEnergy(
      [
        { start: sh('2026-01-31T23:30'), end: sh('2026-01-31T23:45'), amount: 10 },
        { start: sh('2026-01-31T23:45'), end: sh('2026-02-01T00:00'), amount: 50 },
        { start: sh('2026-02-01T00:00'), end: sh('2026-02-01T00:15'), amount: 25 },
      ],
      TZ,
    )
    expect(monthlyMaxDemand(w, TZ).map((m) => [m.month, m.demandKw, m.start])).toEqual([
      ['2026-01', 200, sh('2026-01-31T23:45')],
      ['2026-02', 100, sh('2026-02-01T00:00')],
    ])
  })

  it('forecasts the current window from the partial one', () => {
    // 5 of 15 min gone, 10 kWh so far. With 150 kW now: 10 + 150 × 10/60 = 35 kWh → 140 kW.
    // Without: 10 × 15/5 = 30 kWh → 120 kW.
    const base = { windowStart: sh('2026-01-05T10:00'), now: sh('2026-01-05T10:05'), energySoFarKwh: 10 }
    expect(forecastDemand({ ...base, currentPowerKw: 150 })).toMatchObject({ projectedKw: 140, projectedEnergyKwh: 35, method: 'current-power' })
    const avg = forecastDemand(base)
    expect(avg.projectedKw).toBeCloseTo(120, 9)
    expect(avg.method).toBe('average-rate')
    expect(codeOf(() => forecastDemand({ ...base, now: sh('2026-01-05T10:20') }))).toBe('ANALYTICS_ERR_INPUT')
  })
})
