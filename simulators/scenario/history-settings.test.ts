import { describe, expect, it } from 'vitest'
import { historySettings } from './history-settings.ts'
import { parseScenario } from './schema.ts'

const scenario = parseScenario({
  name: 'settings',
  seed: 1,
  enterprises: [
    {
      id: 'ent',
      sites: [
        {
          id: 'site',
          lines: [
            {
              id: 'kiln',
              loadShape: 'continuous',
              ratedKw: 1000,
              lossFraction: 0.05,
              product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'benchmark' },
              productionDevice: 'dcs',
              mainMeter: { id: 'main' },
              subMeters: [{ id: 'mill', share: 0.95 }],
            },
          ],
        },
      ],
    },
  ],
})
const S = Date.UTC(2026, 0, 5)

describe('historySettings', () => {
  it('fills in the defaults: 1-minute samples in 15-second steps, batches of 5000', () => {
    expect(historySettings(scenario, { start: S, stop: S + 3_600_000 })).toEqual({
      start: S,
      stop: S + 3_600_000,
      stepMs: 60_000,
      batchSize: 5000,
      countersAt: S,
      subSteps: 4,
      dtMs: 15_000,
    })
  })

  it('rounds the integration period so it divides the sample period, and caps batches at 5000', () => {
    expect(historySettings(scenario, { start: S, stop: S + 1, stepMs: 60_000, integrationMs: 7000, batchSize: 9000, countersAt: S - 1 })).toMatchObject({
      subSteps: 9,
      dtMs: 60_000 / 9,
      batchSize: 5000,
      countersAt: S - 1,
    })
    expect(historySettings(scenario, { start: S, stop: S + 1, stepMs: 5000 })).toMatchObject({ subSteps: 1, dtMs: 5000 })
  })

  it('reports the first problem in a fixed order', () => {
    const code = (options: Parameters<typeof historySettings>[1]): string => {
      try {
        historySettings(scenario, options)
        return 'ok'
      } catch (e) {
        return `${(e as { code: string }).code}: ${(e as Error).message}`
      }
    }
    expect(code({ start: S, stop: Number.NaN, stepMs: -1 })).toBe(`SIM_ERR_BACKFILL: backfill: start (${S}) and stop (NaN) must be epoch ms`)
    expect(code({ start: S, stop: S + 1, initialCounters: new Map([['ent/site/kiln/nope', {}]]), countersAt: S + 5 })).toMatch(
      /^SIM_ERR_CONFIG: backfill: initialCounters: \/ent\/site\/kiln\/nope: no device/,
    )
    expect(code({ start: S, stop: S + 1, countersAt: S + 5, stepMs: 0 })).toBe(
      `SIM_ERR_BACKFILL: backfill: countersAt (${S + 5}) must be at or before start (${S})`,
    )
    expect(code({ start: S, stop: S + 1, stepMs: 1.5, batchSize: 0 })).toBe('SIM_ERR_BACKFILL: backfill: stepMs must be a positive integer, got 1.5')
    expect(code({ start: S, stop: S + 1, batchSize: 0 })).toBe('SIM_ERR_BACKFILL: backfill: batchSize must be a positive integer')
    // With stop before start (prepareScenarioHistory carrying counters only), countersAt may reach start.
    expect(code({ start: S, stop: S - 10, countersAt: S })).toBe('ok')
  })
})
