import { describe, expect, it } from 'vitest'
import { HOUR_MS } from '../../core/duration.ts'
import type { ScenarioProduction } from './model.ts'
import { createProductionCounter } from './production-counter.ts'

const T0 = Date.UTC(2026, 0, 5, 2)
const production = (quantity: 'output_t' | 'output_count', ratePerHour: (t: number) => number): ScenarioProduction => ({
  address: { enterprise: 'e', site: 's', line: 'l', device: 'plc' },
  key: 'e/s/l/plc',
  productId: 'p',
  quantity,
  secKwhPerUnit: 100,
  ratePerHour,
})

describe('createProductionCounter', () => {
  it('integrates the rate in trapezoids from its start, ticking once at creation', () => {
    let now = T0
    // 10 t/h rising to 20 t/h over the hour: 15 t.
    const c = createProductionCounter(
      production('output_t', (t) => 10 + (10 * (t - T0)) / HOUR_MS),
      () => now,
      100,
    )
    expect(c.snapshot()).toEqual({ ts: T0, value: 100 })
    now = T0 + HOUR_MS
    expect(c.tick()).toEqual({ ts: T0 + HOUR_MS, value: 115 })
    expect(c.snapshot()).toEqual({ ts: T0 + HOUR_MS, value: 115 })
    expect([c.key, c.quantity, c.address.device]).toEqual(['e/s/l/plc', 'output_t', 'plc'])
  })

  it('counts parts whole and never counts back when the clock steps back', () => {
    let now = T0
    const c = createProductionCounter(
      production('output_count', () => 7),
      () => now,
      0,
    )
    now = T0 + HOUR_MS / 2
    expect(c.tick().value).toBe(3) // 3.5 parts
    now = T0
    expect(c.tick()).toEqual({ ts: T0, value: 3 })
    now = T0 + HOUR_MS
    expect(c.tick().value).toBe(7)
  })
})
