import { describe, expect, it } from 'vitest'
import { decodePayload, encodePayload } from '../core/payload.ts'
import { toSample } from './sample.ts'

const ts = 1_764_385_200_000

describe('toSample', () => {
  it('keeps good values and bad qualities, and never publishes a bad value as a number', () => {
    const { sample, rejected } = toSample({
      ts,
      values: { voltage_l1_v: 230, frequency_hz: 50, power_factor: 0.9 },
      quality: { power_factor: 'bad', current_l1_a: 'bad', active_power_kw: 'uncertain' },
      errors: [],
    })
    expect(sample).toEqual({
      ts,
      values: { voltage_l1_v: 230, frequency_hz: 50 },
      quality: { power_factor: 'bad', current_l1_a: 'bad', active_power_kw: 'uncertain' },
    })
    expect(rejected).toEqual([])
  })

  it('marks non-finite and implausible values bad so ingest never rejects the whole message', () => {
    const { sample, rejected } = toSample({
      ts,
      values: { voltage_l1_v: Number.NaN, power_factor: 1.5, frequency_hz: Number.POSITIVE_INFINITY, energy_import_kwh: -3, current_l1_a: 12, volts: 3 },
      quality: { amps: 'bad' },
      errors: [],
    })
    expect(sample).toEqual({
      ts,
      values: { current_l1_a: 12 },
      quality: { voltage_l1_v: 'bad', power_factor: 'bad', frequency_hz: 'bad', energy_import_kwh: 'bad' },
    })
    expect(rejected.map((r) => [r.point, r.code])).toEqual([
      ['amps', 'EDGE_ERR_QUANTITY_UNKNOWN'],
      ['voltage_l1_v', 'EDGE_ERR_RANGE'],
      ['power_factor', 'EDGE_ERR_RANGE'],
      ['frequency_hz', 'EDGE_ERR_RANGE'],
      ['energy_import_kwh', 'EDGE_ERR_RANGE'],
      ['volts', 'EDGE_ERR_QUANTITY_UNKNOWN'],
    ])
    // what is left passes ingest's own validation
    const payload = decodePayload(encodePayload({ seq: 0, samples: [sample!] }))
    expect(payload.samples[0]?.values).toEqual({ current_l1_a: 12 })
  })

  it('publishes nothing for an empty read or a clock outside 2000…2100', () => {
    expect(toSample({ ts, values: {}, quality: {}, errors: [] }).sample).toBeUndefined()
    const r = toSample({ ts: 12, values: { voltage_l1_v: 230 }, quality: {}, errors: [] })
    expect(r.sample).toBeUndefined()
    expect(r.rejected[0]?.code).toBe('EDGE_ERR_CLOCK')
    expect(toSample({ ts: ts + 0.4, values: { voltage_l1_v: 230 }, quality: {}, errors: [] }).sample).toEqual({ ts, values: { voltage_l1_v: 230 } })
  })
})
