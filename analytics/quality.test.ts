import { describe, expect, it } from 'vitest'
import { qualityReport } from './quality.ts'
import { MIN } from './test-helpers.ts'

describe('data-quality report', () => {
  it('counts gaps, duplicates, out-of-order, bad samples and stuck values against the expected interval', () => {
    // Expected every minute over [0, 20 min): 20 samples.
    // Received: 0,1,2 then 2 again (duplicate), 6 (gap 2→6: 3 missing), 4 arriving late (out of order),
    // 7 (bad), 8..19 with the value stuck at 42 from 8 to 19 (12 samples).
    const s = [
      { ts: 0, value: 1 },
      { ts: MIN, value: 2 },
      { ts: 2 * MIN, value: 3 },
      { ts: 2 * MIN, value: 3 },
      { ts: 6 * MIN, value: 5 },
      { ts: 4 * MIN, value: 4 },
      { ts: 7 * MIN, value: 9, quality: 'bad' as const },
      ...Array.from({ length: 12 }, (_, k) => ({ ts: (8 + k) * MIN, value: 42 })),
    ]
    const r = qualityReport(s, { start: 0, end: 20 * MIN }, { expectedIntervalMs: MIN })
    expect(r).toMatchObject({ samples: 19, expectedSamples: 20, duplicates: 1, outOfOrder: 1, badQuality: 1 })
    // Distinct good samples: 0,1,2,4,6,8..19 = 17 → completeness 17/20; bad share 1/19.
    expect(r.completeness).toBeCloseTo(17 / 20, 12)
    expect(r.badShare).toBeCloseTo(1 / 19, 12)
    // 2→4 (1 missing) is within 2 × interval; 6→8 (bad 7 dropped) likewise; no gap.
    expect(r.gaps).toEqual([])
    expect(r.stuck).toEqual([{ from: 8 * MIN, to: 19 * MIN, value: 42, samples: 12 }])
  })

  it('reports a silent stretch, also at the end of the range, and counter resets', () => {
    // Counter every minute 0..4 (values 10..14), reset to 0.2 at 5, then silent until 20.
    const s = [10, 11, 12, 13, 14, 0.2].map((value, i) => ({ ts: i * MIN, value }))
    const r = qualityReport(s, { start: 0, end: 20 * MIN }, { expectedIntervalMs: MIN, cumulative: {} })
    expect(r.resets).toBe(1)
    expect(r.unexplainedResets).toEqual([{ from: 4 * MIN, to: 5 * MIN, detail: '14 → 0.2' }])
    // Recorded (a reset at 4.5 min from 14.1 to 0): explained, still a reset.
    const rec = qualityReport(
      s,
      { start: 0, end: 20 * MIN },
      { expectedIntervalMs: MIN, cumulative: { events: [{ kind: 'reset', ts: 4.5 * MIN, valueAfter: 0 }] } },
    )
    expect(rec).toMatchObject({ resets: 1, unexplainedResets: [], meterEvents: 1 })
    expect(r.gaps).toEqual([{ from: 5 * MIN, to: 20 * MIN, missingSamples: 14 }])
    expect(r.completeness).toBeCloseTo(6 / 20, 12)
  })
})
