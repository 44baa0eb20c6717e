import { describe, expect, it } from 'vitest'
import { crc16Modbus, frameGapMs, rtuCrcOk, rtuFrame } from './rtu.ts'

describe('RTU framing', () => {
  it('computes CRC-16/Modbus like the spec example and the catalogue check value', () => {
    // Modbus over Serial Line V1.02 §6.2.2 style request: slave 1, FC 03, 0x0000, 1 register.
    expect(rtuFrame(1, Buffer.from([0x03, 0x00, 0x00, 0x00, 0x01]))).toEqual(Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0a]))
    // CRC catalogue, CRC-16/MODBUS: check value of "123456789" is 0x4B37.
    expect(crc16Modbus(Buffer.from('123456789', 'ascii'))).toBe(0x4b37)
  })

  it('accepts its own frames and rejects any single flipped bit', () => {
    const frame = rtuFrame(17, Buffer.from([0x04, 0x00, 0x34, 0x00, 0x02]))
    expect(rtuCrcOk(frame)).toBe(true)
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const bad = Buffer.from(frame)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      expect(rtuCrcOk(bad)).toBe(false)
    }
  })

  it('uses 3.5 character times up to 19200 baud and 1.75 ms above', () => {
    expect(frameGapMs(9600)).toBeCloseTo((3.5 * 11) / 9.6, 6) // ≈ 4.01 ms
    expect(frameGapMs(19200)).toBeCloseTo((3.5 * 11) / 19.2, 6)
    expect(frameGapMs(115200)).toBe(1.75)
  })
})
