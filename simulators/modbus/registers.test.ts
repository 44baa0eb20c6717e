import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../../core/errors.ts'
import { handlePdu, type ModbusUnit } from './pdu.ts'
import { encodeField, RegisterSpace, type RegisterField } from './registers.ts'

const hex = (b: Buffer): string => b.toString('hex')

describe('encodeField', () => {
  it('writes float32 1.0 (0x3F800000) in each word order', () => {
    const cases = { ABCD: '3f800000', CDAB: '00003f80', BADC: '803f0000', DCBA: '0000803f' } as const
    for (const [order, expected] of Object.entries(cases)) {
      const out = Buffer.alloc(4)
      encodeField(out, 0, 'float32', 1, order as keyof typeof cases)
      expect(hex(out), order).toBe(expected)
    }
  })

  it('rounds, clamps and rolls over integer types', () => {
    const out = Buffer.alloc(4)
    encodeField(out, 0, 'int32', -2.6)
    expect(hex(out)).toBe('fffffffd')
    encodeField(out, 0, 'uint32', 0x100000000 + 5)
    expect(hex(out)).toBe('00000005')
    encodeField(out, 0, 'uint16', 70_000)
    expect(hex(out.subarray(0, 2))).toBe('ffff')
    encodeField(out, 0, 'int16', -1)
    expect(hex(out.subarray(0, 2))).toBe('ffff')
    encodeField(out, 0, 'uint32', 123456789, 'CDAB')
    expect(hex(out)).toBe('cd15075b') // 0x075BCD15 with the words swapped
  })
})

describe('RegisterSpace', () => {
  const fields: RegisterField<number>[] = [
    { address: 0, name: 'a', type: 'float32', value: (x) => x },
    { address: 2, name: 'b', type: 'uint16', value: (x) => x * 2 },
    { address: 4, name: 'c', type: 'int32', scale: 0.1, value: (x) => x },
  ]

  it('serves whole parameters and refuses gaps, halves and the end of the map with 02', () => {
    const space = new RegisterSpace(fields)
    space.update(1.5)
    expect(hex(space.read(0, 3) as Buffer)).toBe('3fc00000' + '0003')
    expect(hex(space.read(4, 2) as Buffer)).toBe('0000000f') // 1.5 / 0.1
    expect(space.read(3, 1)).toBe(0x02) // unmapped register 3
    expect(space.read(0, 6)).toBe(0x02) // spans it
    expect(space.read(1, 1)).toBe(0x02) // second half of a float
    expect(space.read(0, 1)).toBe(0x02) // first half only
    expect(space.read(4, 4)).toBe(0x02) // past the end
    expect(hex(space.read(2, 1) as Buffer)).toBe('0003')
  })

  it('keeps an image taken before an update unchanged', () => {
    const space = new RegisterSpace(fields)
    space.update(1)
    const before = space.read(0, 2) as Buffer
    space.update(2)
    expect(before.readFloatBE(0)).toBe(1)
    expect((space.read(0, 2) as Buffer).readFloatBE(0)).toBe(2)
  })

  it('rejects overlapping fields with SIM_ERR_REGISTER_MAP', () => {
    let err: unknown
    try {
      new RegisterSpace([...fields, { address: 1, name: 'x', type: 'uint16', value: () => 0 }])
    } catch (e) {
      err = e
    }
    expect(isPlantWattError(err, 'SIM_ERR_REGISTER_MAP')).toBe(true)
  })
})

describe('handlePdu', () => {
  const space = new RegisterSpace<number>([{ address: 0x10, name: 'v', type: 'float32', value: (x) => x }])
  space.update(230)
  const unit: ModbusUnit = { readInputRegisters: (a, n) => space.read(a, n), readHoldingRegisters: () => 0x02 }
  const pdu = (...bytes: number[]): string => hex(handlePdu(unit, Buffer.from(bytes)))

  it('answers FC04 with byte count and data, FC03 with its own space', () => {
    expect(pdu(0x04, 0x00, 0x10, 0x00, 0x02)).toBe('0404' + '43660000')
    expect(pdu(0x03, 0x00, 0x10, 0x00, 0x02)).toBe('8302')
  })

  it('answers malformed requests with the exception the spec prescribes', () => {
    expect(pdu(0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x01)).toBe('9001') // write: unsupported
    expect(pdu(0x2b)).toBe('ab01')
    expect(pdu(0x04, 0x00, 0x10)).toBe('8403') // too short
    expect(pdu(0x04, 0x00, 0x10, 0x00, 0x00)).toBe('8403') // quantity 0
    expect(pdu(0x04, 0x00, 0x10, 0x00, 0x7e)).toBe('8403') // quantity 126 > 125
    expect(pdu(0x04, 0xff, 0xff, 0x00, 0x02)).toBe('8402') // beyond 0xFFFF
    expect(pdu()).toBe('8001')
  })

  it('turns a throwing device into exception 04, not a crash', () => {
    const broken: ModbusUnit = {
      readInputRegisters: () => {
        throw new Error('boom')
      },
      readHoldingRegisters: () => 0x02,
    }
    expect(hex(handlePdu(broken, Buffer.from([0x04, 0, 0, 0, 2])))).toBe('8404')
  })
})
