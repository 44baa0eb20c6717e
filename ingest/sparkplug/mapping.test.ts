import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { SparkplugMapping } from './mapping.ts'

const to = { enterprise: 'acme', site: 'wuhan', line: '{line}', device: '{dev}', quantity: 'active_power_kw', scale: 0.001, offset: 0 }

describe('Sparkplug mapping rules', () => {
  const mapping = new SparkplugMapping(
    [
      { match: { group: 'acme', node: 'Line {line}', device: '{dev}', metric: 'Power/Active W' }, to },
      { match: { group: 'acme', node: '*', device: '*', metric: '{quantity}' }, to: { ...to, line: 'misc', device: 'all', quantity: '{quantity}', scale: 1 } },
      { match: { group: 'plant-b', node: '*', device: '*', metric: '*' }, to: { ...to, line: 'l', device: 'd', scale: 1 } },
    ],
    { 'plant-b': 'other' },
  )

  it('fills the target from the captures, as ids (lower case, other characters as -)', () => {
    expect(mapping.resolve({ group: 'acme', node: 'Line Rolling 1', device: 'Meter_7', metric: 'Power/Active W' })).toEqual({
      mapped: {
        address: { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: 'meter_7' },
        key: 'acme/wuhan/rolling-1/meter_7',
        quantity: 'active_power_kw',
        scale: 0.001,
        offset: 0,
      },
    })
  })

  it('the first matching rule wins; `*` spans /, a capture does not', () => {
    expect(mapping.resolve({ group: 'acme', node: 'Line 1', device: 'M', metric: 'frequency_hz' }).mapped?.quantity).toBe('frequency_hz')
    // {quantity} does not span the '/' of a folder: no rule takes it.
    expect(mapping.resolve({ group: 'acme', node: 'x', device: '', metric: 'Power/Active W' })).toEqual({ reason: 'no mapping rule matches it' })
    expect(mapping.resolve({ group: 'acme', node: 'x', device: '', metric: 'Active W' })).toEqual({
      reason: 'rule 1 gives quantity "active w", not a canonical quantity',
    })
  })

  it('says why a metric is not mapped: no rule, a bad id, another enterprise than its group’s', () => {
    expect(mapping.resolve({ group: 'zeta', node: 'n', device: 'd', metric: 'm' })).toEqual({ reason: 'no mapping rule matches it' })
    expect(mapping.resolve({ group: 'acme', node: 'Line ---', device: '-x', metric: 'Power/Active W' })).toEqual({
      reason: 'rule 0 gives line "---", not a valid id',
    })
    expect(mapping.resolve({ group: 'plant-b', node: 'n', device: 'd', metric: 'm' })).toEqual({
      reason: 'rule 2 gives enterprise acme, but group plant-b belongs to other',
    })
  })

  it('refuses a target capture that the match does not make (INGEST_ERR_CONFIG)', () => {
    let err: unknown
    try {
      new SparkplugMapping([{ match: { group: '*', node: '*', device: '*', metric: '*' }, to: { ...to, device: '{nope}' } }])
    } catch (e) {
      err = e
    }
    expect(isPlantWattError(err, 'INGEST_ERR_CONFIG')).toBe(true)
    expect((err as Error).message).toBe("ingest.sparkplug.mapping[0].to.line: {line} is not captured by the rule's match")
    const fixed = (to: Record<string, unknown>) => {
      try {
        new SparkplugMapping([
          {
            match: { group: '*', node: '*', device: '*', metric: '*' },
            to: { enterprise: 'e', site: 's', line: 'l', device: 'd', quantity: 'gas_m3', scale: 1, offset: 0, ...to },
          },
        ])
        return 'accepted'
      } catch (e) {
        return (e as Error).message
      }
    }
    expect(fixed({ device: 'Meter 1' })).toBe('ingest.sparkplug.mapping[0].to.device: "Meter 1" is not a valid id')
    expect(fixed({ quantity: 'gas' })).toBe('ingest.sparkplug.mapping[0].to.quantity: "gas" is not a canonical quantity')
    expect(fixed({})).toBe('accepted')
  })
})
