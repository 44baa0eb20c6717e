import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { createEmbeddedStore, type TelemetryStore } from '../storage/index.ts'
import { D0, DAY, H, MIN, PLANT, TQ, qualityHour } from './testing/efficiency-fixtures.ts'
import type { ReportDeps } from './energy.ts'
import { qualityReportOf } from './quality.ts'
import { parseScope } from './scope.ts'

let store: TelemetryStore
let deps: ReportDeps
const hour = { start: TQ, end: TQ + H }

beforeAll(async () => {
  store = createEmbeddedStore({ path: ':memory:' })
  await store.write(qualityHour())
  deps = { store, model: PLANT, now: () => D0 + 40 * DAY }
})

afterAll(async () => {
  await store?.close()
})

describe('data-quality report (embedded store)', () => {
  it('completeness, gap, reset, stuck run, bad and uncertain samples of a counter, by hand', async () => {
    const r = await qualityReportOf(deps, parseScope('acme/w1/l3'), hour, { limit: 10_000 })
    const a = r.rows[0]
    // 54 values (60 minutes − 5 missing − 1 bad) + 1 bad marker = 55 samples; median spacing 60 s.
    expect(a).toMatchObject({
      line: 'acme/w1/l3',
      device: 'a',
      quantity: 'energy_import_kwh',
      expectedIntervalS: 60,
      intervalSource: 'median',
      samples: 55,
      expectedSamples: 60,
      // 9 → 15 is 6 minutes (> 2 × 60 s): one gap, 5 missing; 19 → 21 (bad 20 between) is 2 min: no gap.
      gaps: 1,
      missingSamples: 5,
      longestGapS: 360,
      duplicates: 0,
      outOfOrder: 0,
      // 9.5 from minute 39 to 59: 21 samples.
      stuckRuns: 1,
      stuckSamples: 21,
      // 129 → 0.5 at minute 30 (≤ half): a reset; the bad sample's missing value is not one.
      resets: 1,
      rollovers: 0,
      badSamples: 1,
      uncertainSamples: 2,
      truncated: false,
      coveredUntil: TQ + H,
    })
    expect(a?.completeness).toBeCloseTo(54 / 60, 12)
    expect(a?.badShare).toBeCloseTo(1 / 55, 12)
    expect(a?.uncertainShare).toBeCloseTo(2 / 55, 12)
    expect(r.details[0]).toEqual({
      device: 'acme/w1/l3/a',
      quantity: 'energy_import_kwh',
      gaps: [{ from: TQ + 9 * MIN, to: TQ + 15 * MIN, missingSamples: 5 }],
      stuck: [{ from: TQ + 39 * MIN, to: TQ + 59 * MIN, value: 9.5, samples: 21 }],
    })
    // b sent nothing: completeness 0, the whole hour one gap.
    expect(r.rows[1]).toMatchObject({ device: 'b', samples: 0, completeness: 0, gaps: 1, longestGapS: 3600, intervalSource: 'none', expectedIntervalS: null })
  })

  it('a given interval: 30 s doubles the expected samples', async () => {
    const r = await qualityReportOf(deps, parseScope('acme/w1/l3/a'), hour, { limit: 10_000, expectedIntervalMs: 30_000 })
    expect(r.rows).toHaveLength(1)
    expect(r.rows[0]).toMatchObject({ expectedSamples: 120, intervalSource: 'given' })
    expect(r.rows[0]?.completeness).toBeCloseTo(54 / 120, 12)
  })

  it('reads at most limit samples per report: more in the scope is refused before any raw read', async () => {
    // 54 values of a in the hour (b has none): limit 54 passes, 53 does not.
    const ok = await qualityReportOf(deps, parseScope('acme/w1/l3'), hour, { limit: 54 })
    expect(ok.rows[0]).toMatchObject({ samples: 55, truncated: false })
    const err = await qualityReportOf(deps, parseScope('acme/w1/l3'), hour, { limit: 53 }).catch((e: unknown) => e)
    expect(isPlantWattError(err, 'REPORTS_ERR_INPUT')).toBe(true)
    expect((err as { details?: unknown }).details).toEqual({ samples: 54, limit: 53 })
  })

  it('refuses a range over 7 days, an unknown quantity and an unknown scope', async () => {
    const long = await qualityReportOf(deps, parseScope('acme'), { start: D0, end: D0 + 8 * DAY }, { limit: 10 }).catch((e: unknown) => e)
    expect(isPlantWattError(long, 'REPORTS_ERR_INPUT')).toBe(true)
    const quantity = await qualityReportOf(deps, parseScope('acme'), hour, { limit: 10, quantity: 'volts' }).catch((e: unknown) => e)
    expect(isPlantWattError(quantity, 'REPORTS_ERR_INPUT')).toBe(true)
    const scope = await qualityReportOf(deps, parseScope('nope'), hour, { limit: 10 }).catch((e: unknown) => e)
    expect(isPlantWattError(scope, 'REPORTS_ERR_SCOPE')).toBe(true)
  })
})
