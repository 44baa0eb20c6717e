import { describe, expect, it } from 'vitest'
import { FaultBook } from '../faults.ts'
import type { HistoryDevice } from './history-devices.ts'
import { HistorySampler } from './history-sampler.ts'

const T0 = Date.UTC(2026, 0, 5, 2)
const book = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set(['e/s/l/a', 'e/s/l/b']) })
book.inject({ device: 'e/s/l/b', kind: 'offline', start: new Date(T0 + 60_000).toISOString(), end: new Date(T0 + 120_000).toISOString() })
book.inject({ device: 'e/s/l/a', kind: 'clock_skew', start: new Date(T0 + 60_000).toISOString(), skewMs: 2500 })
book.inject({ device: 'e/s/l/a', kind: 'counter_reset', start: new Date(T0 + 60_000).toISOString() })

const device = (name: string, kwh: number): HistoryDevice => ({
  key: `e/s/l/${name}`,
  tags: { enterprise: 'e', site: 's', line: 'l', device: name },
  seq: 0,
  update: () => {},
  values: () => ({ active_power_kw: 50 }),
  present: book.createPresenter(`e/s/l/${name}`, ['energy_import_kwh']),
  counters: ['energy_import_kwh'],
  counterValues: () => ({ energy_import_kwh: kwh }),
})

describe('HistorySampler', () => {
  it('writes the fields of online devices with seq and skewed timestamps; counters pass the presenter first', () => {
    const a = device('a', 100)
    const b = device('b', 7)
    const sampler = new HistorySampler([a, b], book)
    expect(sampler.sample(T0)).toEqual([
      { measurement: 'telemetry', tags: a.tags, fields: { active_power_kw: 50, seq: 1 }, ts: T0 },
      { measurement: 'telemetry', tags: b.tags, fields: { active_power_kw: 50, seq: 1 }, ts: T0 },
    ])
    // b is offline, a's clock runs 2.5 s ahead.
    expect(sampler.sample(T0 + 60_000)).toEqual([{ measurement: 'telemetry', tags: a.tags, fields: { active_power_kw: 50, seq: 2 }, ts: T0 + 62_500 }])
    expect(sampler.sample(T0 + 120_000).map((p) => [p.tags.device, p.fields.seq])).toEqual([
      ['a', 3],
      ['b', 2],
    ])
    expect(sampler.samples()).toEqual({ 'e/s/l/a': 3, 'e/s/l/b': 2 })
    expect([a.seq, b.seq]).toEqual([3, 2])
    // The presenter saw the counter at the reset, so the reset restarts a's counter from there.
    expect(a.present.counters({ energy_import_kwh: 130 }, T0 + 180_000)).toEqual({ energy_import_kwh: 30 })
  })
})
