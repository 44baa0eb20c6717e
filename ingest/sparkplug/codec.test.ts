import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js'
import { decodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { describe, expect, it } from 'vitest'
import { DATATYPES, decodeSparkplug, metricNumber, rebirthCommand } from './codec.ts'
import { qualityOfCode } from './host.ts'

const Payload = proto.org.eclipse.tahu.protobuf.Payload
const metricOf = (m: Record<string, unknown>) => {
  const decoded = decodeSparkplug(Payload.encode(Payload.create({ seq: 1, metrics: [m] })).finish()).metrics[0]
  if (decoded === undefined) throw new Error('no metric')
  return decoded
}

describe('Sparkplug payload decoding', () => {
  it('reads values by the birth’s datatype when DATA leaves it out; signed integers from two’s complement', () => {
    expect(metricNumber(metricOf({ alias: 3, intValue: 0xfffffffb }), DATATYPES.Int32)).toBe(-5)
    expect(metricNumber(metricOf({ alias: 3, intValue: 0xfb }), DATATYPES.Int8)).toBe(-5) // 8-bit encoding
    expect(metricNumber(metricOf({ alias: 3, intValue: 0xfffffffb }), DATATYPES.Int8)).toBe(-5) // 32-bit encoding
    expect(metricNumber(metricOf({ alias: 3, intValue: 0xff38 }), DATATYPES.Int16)).toBe(-200)
    expect(metricNumber(metricOf({ alias: 3, intValue: 65535 }), DATATYPES.UInt16)).toBe(65535)
    expect(metricNumber(metricOf({ alias: 3, longValue: 4_000_000_000 }), DATATYPES.UInt32)).toBe(4_000_000_000)
    expect(metricNumber(metricOf({ alias: 3, longValue: -7 }), DATATYPES.Int64)).toBe(-7)
    expect(metricNumber(metricOf({ alias: 3, floatValue: 1.5 }), DATATYPES.Float)).toBe(1.5)
    expect(metricNumber(metricOf({ alias: 3, booleanValue: true }), DATATYPES.Boolean)).toBe(1)
    expect(metricNumber(metricOf({ alias: 3, stringValue: 'x' }), DATATYPES.String)).toBeUndefined()
    expect(metricNumber(metricOf({ alias: 3, isNull: true }), DATATYPES.Double)).toBeUndefined()
  })

  it('reads the Quality property; OPC DA codes: 192 good, 64–191 uncertain, below 64 bad', () => {
    const m = metricOf({
      alias: 1,
      doubleValue: 2,
      properties: {
        keys: ['engUnit', 'Quality'],
        values: [
          { type: 12, stringValue: 'kW' },
          { type: 3, intValue: 64 },
        ],
      },
    })
    expect(m.quality).toBe(64)
    expect([undefined, 192, 64, 191, 0, 63, 500].map(qualityOfCode)).toEqual(['good', 'good', 'uncertain', 'uncertain', 'bad', 'bad', 'bad'])
  })

  it('INGEST_ERR_SPARKPLUG_PAYLOAD for bytes that are not protobuf', () => {
    expect(() => decodeSparkplug(Buffer.from('hello'))).toThrow(/^not a Sparkplug B payload \(protobuf\): invalid wire type 4 at offset 3$/)
  })

  it('the rebirth command is NCMD Node Control/Rebirth = true', () => {
    expect(decodePayload(rebirthCommand(1_764_385_200_000)).metrics).toEqual([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }])
  })
})
