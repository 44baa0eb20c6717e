import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { counterEnergy } from './energy.ts'
import { bucketWindows, rollupEnergy, shiftWindows, type BucketAmount } from './rollup.ts'
import { codeOf, HOUR, sh } from './test-helpers.ts'

const TZ = 'Asia/Shanghai'

const model = validateConfig(PlantModelSchema, {
  timezone: TZ,
  enterprises: [
    {
      id: 'e1',
      sites: [
        {
          id: 's1',
          lines: [
            { id: 'l1', mainMeter: 'main', devices: [{ id: 'main' }, { id: 'press' }, { id: 'oven' }] },
            { id: 'l2', devices: [{ id: 'a' }, { id: 'b' }] },
          ],
        },
      ],
    },
  ],
})

describe('buckets', () => {
  it('labels hours, days and months in the plant zone', () => {
    const range = { start: sh('2024-05-01T00:00'), end: sh('2024-06-01T00:00') }
    const months = bucketWindows(range, 'month', TZ)
    expect(months).toEqual([{ start: Date.parse('2024-04-30T16:00:00Z'), end: Date.parse('2024-05-31T16:00:00Z'), label: '2024-05' }])
    expect(bucketWindows(range, 'day', TZ)).toHaveLength(31)
    expect(bucketWindows({ start: sh('2024-05-01T22:00'), end: sh('2024-05-02T01:00') }, 'hour', TZ).map((b) => b.label)).toEqual([
      '2024-05-01T22',
      '2024-05-01T23',
      '2024-05-02T00',
    ])
  })

  it('builds shifts that cross midnight, labelled by the date they start', () => {
    // Range: 2024-05-01 00:00–24:00 local. A 06–14, B 14–22, C 22–06:
    // C of Apr 30 (clipped to 00:00–06:00), A, B, C of May 1 (clipped to 22:00–24:00).
    const shifts = [
      { name: 'A', start: '06:00', end: '14:00' },
      { name: 'B', start: '14:00', end: '22:00' },
      { name: 'C', start: '22:00', end: '06:00' },
    ]
    const w = shiftWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-02T00:00') }, shifts, TZ)
    expect(w.map((x) => [x.label, (x.end - x.start) / HOUR])).toEqual([
      ['2024-04-30 C', 6],
      ['2024-05-01 A', 8],
      ['2024-05-01 B', 8],
      ['2024-05-01 C', 2],
    ])
    // Energy per shift from a counter rising 10 kWh/h: 60, 80, 80, 20.
    const samples = Array.from({ length: 25 }, (_, h) => ({ ts: sh('2024-05-01T00:00') + h * HOUR, value: 10 * h }))
    expect(counterEnergy(samples, w, { maxGapMs: HOUR }).windows.map((x) => x.amount)).toEqual([60, 80, 80, 20])
  })

  it('a night shift over the spring-forward night lasts 7 hours in New York', () => {
    // 2024-03-10 02:00 EST → 03:00 EDT: C from Mar 9 22:00 EST (03:00Z) to Mar 10 06:00 EDT (10:00Z) = 7 h.
    const w = shiftWindows(
      { start: Date.parse('2024-03-10T03:00:00Z'), end: Date.parse('2024-03-10T10:00:00Z') },
      [{ name: 'C', start: '22:00', end: '06:00' }],
      'America/New_York',
    )
    expect(w).toEqual([{ start: Date.parse('2024-03-10T03:00:00Z'), end: Date.parse('2024-03-10T10:00:00Z'), label: '2024-03-09 C' }])
  })

  it('rejects overlapping or empty shifts', () => {
    const range = { start: sh('2024-05-01T00:00'), end: sh('2024-05-02T00:00') }
    expect(
      codeOf(() =>
        shiftWindows(
          range,
          [
            { name: 'A', start: '06:00', end: '15:00' },
            { name: 'B', start: '14:00', end: '22:00' },
          ],
          TZ,
        ),
      ),
    ).toBe('ANALYTICS_ERR_SHIFTS')
    expect(codeOf(() => shiftWindows(range, [{ name: 'A', start: '06:00', end: '06:00' }], TZ))).toBe('ANALYTICS_ERR_SHIFTS')
  })
})

describe('rollupEnergy', () => {
  it('takes a line with a main meter from the main meter only, a line without one as the sum of its devices', () => {
    // Two days. l1: main 100/120 (press 40/50 and oven 50/60 are sub-meters: not added).
    // l2: a 10/20 + b 5/5 = 15/25. Site = enterprise = 115/145, total 260.
    const buckets = bucketWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-03T00:00') }, 'day', TZ)
    const full = (a: number, b: number): BucketAmount[] => [
      { amount: a, coverage: 1 },
      { amount: b, coverage: 1 },
    ]
    const data = new Map<string, BucketAmount[]>([
      ['e1/s1/l1/main', full(100, 120)],
      ['e1/s1/l1/press', full(40, 50)],
      ['e1/s1/l1/oven', full(50, 60)],
      ['e1/s1/l2/a', full(10, 20)],
      [
        'e1/s1/l2/b',
        [
          { amount: 5, coverage: 1 },
          { amount: 5, coverage: 0.5 },
        ],
      ],
    ])
    const [e] = rollupEnergy(model, buckets, data)
    const site = e!.children[0]!
    const [l1, l2] = site.children
    expect(l1).toMatchObject({ source: 'main-meter', energyKwh: 220 })
    expect(l1!.children.map((d) => [d.id, d.subMeter ?? false])).toEqual([
      ['main', false],
      ['press', true],
      ['oven', true],
    ])
    expect(l2).toMatchObject({ source: 'sum-of-devices', energyKwh: 40 })
    expect(l2!.buckets.map((b) => [b.label, b.energyKwh, b.coverage])).toEqual([
      ['2024-05-01', 15, 1],
      ['2024-05-02', 25, 0.5],
    ])
    expect(e).toMatchObject({ level: 'enterprise', energyKwh: 260, missing: [] })
    expect(e!.buckets.map((b) => b.energyKwh)).toEqual([115, 145])
    // Coverage over the range: day 1 full, day 2 half → 0.75.
    expect(e!.coverage).toBe(0.75)
  })

  it('lists devices without data and gives them zero coverage', () => {
    const buckets = bucketWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-02T00:00') }, 'day', TZ)
    const [e] = rollupEnergy(model, buckets, new Map([['e1/s1/l2/a', [{ amount: 7, coverage: 1 }]]]))
    expect(e!.missing).toEqual(['e1/s1/l1/main', 'e1/s1/l2/b'])
    expect(e!.energyKwh).toBe(7)
    expect(e!.coverage).toBe(0)
  })

  it('rejects a main meter that is not on its line and misaligned amounts', () => {
    const bad = structuredClone(model)
    bad.enterprises[0]!.sites[0]!.lines[0]!.mainMeter = 'ghost'
    const buckets = bucketWindows({ start: sh('2024-05-01T00:00'), end: sh('2024-05-02T00:00') }, 'day', TZ)
    expect(codeOf(() => rollupEnergy(bad, buckets, new Map()))).toBe('ANALYTICS_ERR_PLANT')
    expect(codeOf(() => rollupEnergy(model, buckets, new Map([['e1/s1/l2/a', []]])))).toBe('ANALYTICS_ERR_INPUT')
  })
})
