import { describe, expect, it } from 'vitest'
import { decodeValue, decodeWords } from './decode.ts'
import type { ValueSpec } from './decode.ts'

// Every expected word below is written from IEEE 754 / two's-complement tables, not produced by
// an encoder of ours, so a mistake in the decoder cannot be mirrored by the test.
const spec = (over: Partial<ValueSpec>): ValueSpec => ({ type: 'float32', wordOrder: 'ABCD', scale: 1, offset: 0, ...over })

describe('decodeWords', () => {
  it('decodes float32 from vendor-table words in all four orders', () => {
    expect(decodeWords([0x4366, 0x0000], 'float32', 'ABCD')).toBe(230)
    expect(decodeWords([0x0000, 0x4366], 'float32', 'CDAB')).toBe(230)
    expect(decodeWords([0x6643, 0x0000], 'float32', 'BADC')).toBe(230)
    expect(decodeWords([0x0000, 0x6643], 'float32', 'DCBA')).toBe(230)
    expect(decodeWords([0x4248, 0x0000], 'float32', 'ABCD')).toBe(50)
    expect(decodeWords([0xbfc0, 0x0000], 'float32', 'ABCD')).toBe(-1.5)
    expect(decodeWords([0x449a, 0x5000], 'float32', 'ABCD')).toBe(1234.5)
    // 0.1 is not representable: 0x3DCCCCCD is the nearest float32
    expect(decodeWords([0x3dcc, 0xcccd], 'float32', 'ABCD')).toBe(0.10000000149011612)
  })

  it('decodes 16-bit integers, with BADC/DCBA swapping the bytes of the word', () => {
    expect(decodeWords([0xffff], 'int16', 'ABCD')).toBe(-1)
    expect(decodeWords([0x8000], 'int16', 'ABCD')).toBe(-32768)
    expect(decodeWords([0x8000], 'uint16', 'ABCD')).toBe(32768)
    expect(decodeWords([0x00e6], 'uint16', 'CDAB')).toBe(230)
    expect(decodeWords([0xe600], 'uint16', 'BADC')).toBe(230)
    expect(decodeWords([0xe600], 'uint16', 'DCBA')).toBe(230)
  })

  it('decodes 32-bit integers in all four orders', () => {
    expect(decodeWords([0xffff, 0xffff], 'int32', 'ABCD')).toBe(-1)
    expect(decodeWords([0xffff, 0xffff], 'uint32', 'ABCD')).toBe(4294967295)
    expect(decodeWords([0x075b, 0xcd15], 'uint32', 'ABCD')).toBe(123456789)
    expect(decodeWords([0xcd15, 0x075b], 'uint32', 'CDAB')).toBe(123456789)
    expect(decodeWords([0x5b07, 0x15cd], 'uint32', 'BADC')).toBe(123456789)
    expect(decodeWords([0x15cd, 0x5b07], 'uint32', 'DCBA')).toBe(123456789)
    expect(decodeWords([0xf8a4, 0x32eb], 'int32', 'ABCD')).toBe(-123456789)
    expect(decodeWords([0x32eb, 0xf8a4], 'int32', 'CDAB')).toBe(-123456789)
  })

  it('decodes 64-bit values, word swap reversing all four words', () => {
    expect(decodeWords([0x406c, 0xc000, 0x0000, 0x0000], 'float64', 'ABCD')).toBe(230)
    expect(decodeWords([0x0000, 0x0000, 0xc000, 0x406c], 'float64', 'CDAB')).toBe(230)
    expect(decodeWords([0x0000, 0x0001, 0x0000, 0x0000], 'uint64', 'ABCD')).toBe(4294967296)
    expect(decodeWords([0x0000, 0x0000, 0x075b, 0xcd15], 'uint64', 'ABCD')).toBe(123456789)
    expect(decodeWords([0xffff, 0xffff, 0xffff, 0xfffe], 'int64', 'ABCD')).toBe(-2)
    expect(decodeWords([0xfeff, 0xffff, 0xffff, 0xffff], 'int64', 'DCBA')).toBe(-2)
  })

  it('rejects the wrong number of words and words outside 0..65535', () => {
    expect(() => decodeWords([0x4366], 'float32', 'ABCD')).toThrow(/float32 needs 2 register/)
    expect(() => decodeWords([0x10000, 0], 'float32', 'ABCD')).toThrow(/not an unsigned 16-bit/)
    expect(() => decodeWords([-1], 'int16', 'ABCD')).toThrow(/not an unsigned 16-bit/)
  })
})

describe('decodeValue', () => {
  it('applies scale and offset', () => {
    // SDM630 active power 2048 W → 2.048 kW
    expect(decodeValue([0x4500, 0x0000], spec({ scale: 0.001 }))).toEqual({ ok: true, value: 2.048 })
    // ADL400 voltage 0x08FC = 2300 × 0.1 V
    const v = decodeValue([0x08fc], spec({ type: 'uint16', scale: 0.1 }))
    expect(v.ok && v.value).toBeCloseTo(230, 10)
    // a temperature sensor with 0.1 °C steps and a −40 °C offset: 650 → 25 °C
    const t = decodeValue([0x028a], spec({ type: 'int16', scale: 0.1, offset: -40 }))
    expect(t.ok && t.value).toBeCloseTo(25, 10)
  })

  it('decodes bits as 0 or 1', () => {
    expect(decodeValue([true], spec({ type: 'bit' }))).toEqual({ ok: true, value: 1 })
    expect(decodeValue([false], spec({ type: 'bit', scale: 3 }))).toEqual({ ok: true, value: 0 })
    expect(decodeValue([0x0001], spec({ type: 'bit' })).ok).toBe(false)
  })

  it('turns NaN and Infinity registers into failures, never numbers', () => {
    const nan = decodeValue([0x7fc0, 0x0000], spec({}))
    expect(nan).toEqual({ ok: false, message: 'float32 registers hold NaN' })
    expect(decodeValue([0x7f80, 0x0000], spec({}))).toEqual({ ok: false, message: 'float32 registers hold Infinity' })
    expect(decodeValue([0xff80, 0x0000], spec({}))).toEqual({ ok: false, message: 'float32 registers hold -Infinity' })
    expect(decodeValue([0xffff, 0xffff], spec({})).ok).toBe(false) // a NaN with all bits set: typical garbage
    expect(decodeValue([0x7ff0, 0, 0, 0], spec({ type: 'float64' })).ok).toBe(false)
    expect(decodeValue([0x4366], spec({})).ok).toBe(false)
  })
})
