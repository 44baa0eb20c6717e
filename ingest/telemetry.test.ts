import { describe, expect, it } from 'vitest'
import { partitionOf, payloadToPoints } from './telemetry.ts'

const address = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'm1' }

describe('payloadToPoints', () => {
  it('makes one point per sample: good and uncertain values, seq, and a marker per non-good quality', () => {
    const points = payloadToPoints(address, {
      seq: 7,
      samples: [
        { ts: 1_736_121_600_000, values: { active_power_kw: 10.5 } },
        {
          ts: 1_736_121_601_000,
          values: { active_power_kw: 11.25, power_factor: 0.91, voltage_l1_v: 230 },
          quality: { power_factor: 'bad', voltage_l1_v: 'uncertain', active_power_kw: 'good', frequency_hz: 'bad' },
        },
      ],
    })
    expect(points).toEqual([
      { measurement: 'telemetry', tags: address, ts: 1_736_121_600_000, fields: { active_power_kw: 10.5, seq: 7 } },
      {
        measurement: 'telemetry',
        tags: address,
        ts: 1_736_121_601_000,
        fields: { active_power_kw: 11.25, voltage_l1_v: 230, seq: 7, q_power_factor: 2, q_voltage_l1_v: 1, q_frequency_hz: 2 },
      },
    ])
  })
})

describe('partitionOf', () => {
  it('is stable and spreads devices over the partitions', () => {
    expect(partitionOf('acme/wuhan/l1/m1', 4)).toBe(partitionOf('acme/wuhan/l1/m1', 4))
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 400; i++) counts[partitionOf(`acme/wuhan/l1/meter-${i}`, 4)]!++
    for (const c of counts) expect(c).toBeGreaterThan(60)
    expect(partitionOf('anything', 1)).toBe(0)
  })
})
