import { describe, expect, it } from 'vitest'
import { decodeBcd, describeErrorWord, encodeFrame, lineTimeMs, readAddressRequest, readRequest, scanFrame } from './codec.ts'
import { checkReadReply, pointValue } from './reply.ts'
import type { Dlt645Point } from './profile.ts'

// Frames worked out by hand from DL/T 645-2007 §7 (CS = byte sum from the first 68, modulo 256).
const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex')
/** Read 00010000 (forward active total) from meter 000000123456. */
const READ_FORWARD = '68 56 34 12 00 00 00 68 11 04 33 33 34 33 4E 16'
/** Its reply: 12345.67 kWh (BCD 67 45 23 01, +33h), after two FE bytes. */
const REPLY_FORWARD = 'FE FE 68 56 34 12 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 6E 16'

describe('DL/T 645 frames', () => {
  it('encodes a 2007 read request byte for byte, with the FE preamble', () => {
    expect(readRequest('000000123456', '00010000').toString('hex')).toBe(hex(READ_FORWARD).toString('hex'))
    expect(readRequest('000000123456', '00010000', 4).subarray(0, 5).toString('hex')).toBe('fefefefe68')
  })

  it('encodes the 1997 read (C=0x01, 2-byte identifier) and the read-address request (C=0x13 to AA…AA)', () => {
    // 9010 → DI0 10, DI1 90 → +33: 43 C3
    const r = readRequest('000000123456', '9010')
    expect([...r.subarray(8, 12)]).toEqual([0x01, 0x02, 0x43, 0xc3])
    expect(readAddressRequest().toString('hex')).toBe('68aaaaaaaaaaaa681300' + ((0x68 * 2 + 0xaa * 6 + 0x13) & 0xff).toString(16) + '16')
  })

  it('scans a reply after the preamble and checks it against the request', () => {
    const r = scanFrame(hex(REPLY_FORWARD))
    expect(r.kind).toBe('frame')
    if (r.kind !== 'frame') return
    expect(r.frame.address).toBe('000000123456')
    expect(r.frame.control).toBe(0x91)
    const reply = checkReadReply(r.frame, '000000123456', '00010000', '2007')
    expect('data' in reply && [...reply.data]).toEqual([0x67, 0x45, 0x23, 0x01])
    const point: Dlt645Point = { quantity: 'energy_import_kwh', di: '00010000', offset: 0, bytes: 4, decimals: 2, signed: false, scale: 1 }
    expect('data' in reply && pointValue(reply.data, point)).toEqual({ value: 12345.67 })
  })

  it('waits for the rest of a frame, refuses a bad checksum and a bad end byte; a 68 without the second 68 is no frame start', () => {
    const full = hex(REPLY_FORWARD)
    expect(scanFrame(full.subarray(0, 12)).kind).toBe('need')
    expect(scanFrame(full.subarray(0, full.length - 1)).kind).toBe('need')
    const badCs = Buffer.from(full)
    badCs[badCs.length - 2] = 0x6f
    expect(scanFrame(badCs)).toMatchObject({ kind: 'bad', code: 'EDGE_ERR_CHECKSUM' })
    const badEnd = Buffer.from(full)
    badEnd[badEnd.length - 1] = 0x17
    expect(scanFrame(badEnd)).toMatchObject({ kind: 'bad', code: 'EDGE_ERR_FRAME' })
    // No second 68: not a frame start (noise); nothing else follows, so it waits (a truncated reply at the timeout).
    const noSecond = Buffer.from(full)
    noSecond[9] = 0x00
    expect(scanFrame(noSecond)).toEqual({ kind: 'need' })
  })

  it('resynchronises on noise: a stray 68 before the reply is passed over, and a 68 whose L runs on does not hide the frame', () => {
    // 68 12 34: the 68 has no second 68 seven bytes on (byte 7 is the reply's 56).
    const strayStart = Buffer.concat([hex('68 12 34'), hex(REPLY_FORWARD)])
    const a = scanFrame(strayStart)
    expect(a).toMatchObject({ kind: 'frame', end: strayStart.length, frame: { address: '000000123456', control: 0x91, resynced: true } })
    // 68 00 00 00 00 00 00 68 91 FF: looks like a header announcing 255 data bytes; the real reply follows whole.
    const longL = Buffer.concat([hex('68 00 00 00 00 00 00 68 91 FF'), hex(REPLY_FORWARD)])
    expect(scanFrame(longL)).toMatchObject({ kind: 'frame', frame: { address: '000000123456', resynced: true } })
    // The FE preamble alone is not noise.
    expect(scanFrame(hex(REPLY_FORWARD))).toMatchObject({ kind: 'frame', frame: { address: '000000123456' } })
    expect((scanFrame(hex(REPLY_FORWARD)) as { frame?: object }).frame).not.toHaveProperty('resynced')
    // Noise and a reply still arriving: wait for it.
    expect(scanFrame(Buffer.concat([hex('68 12 34'), hex(REPLY_FORWARD).subarray(0, 15)]))).toEqual({ kind: 'need' })
  })

  it('refuses a reply from another meter, to another identifier, and maps an error reply to its error word', () => {
    const frame = (address: string, control: number, data: number[]) => {
      const r = scanFrame(encodeFrame(address, control, Uint8Array.from(data)))
      if (r.kind !== 'frame') throw new Error('no frame')
      return r.frame
    }
    expect(checkReadReply(frame('000000654321', 0x91, [0, 0, 1, 0, 1, 2, 3, 4]), '000000123456', '00010000', '2007')).toMatchObject({
      code: 'EDGE_ERR_ADDRESS',
    })
    expect(checkReadReply(frame('000000123456', 0x91, [0, 0, 2, 0, 1, 2, 3, 4]), '000000123456', '00010000', '2007')).toMatchObject({
      code: 'EDGE_ERR_FRAME',
      message: 'reply for identifier 00020000, asked 00010000',
    })
    expect(checkReadReply(frame('000000123456', 0xd1, [0x02]), '000000123456', '00010000', '2007')).toMatchObject({
      code: 'EDGE_ERR_METER_EXCEPTION',
      errorWord: 2,
      message: 'error reply to 00010000: error word 0x02 (no requested data)',
    })
    expect(checkReadReply(frame('000000123456', 0xc1, [0x02]), '000000123456', '9010', '1997')).toMatchObject({ code: 'EDGE_ERR_METER_EXCEPTION' })
    expect(describeErrorWord(0x05, '2007')).toBe('error word 0x05 (other error, password error or unauthorised)')
  })
})

describe('BCD', () => {
  it('decodes low byte first, with decimals and the sign in the top bit', () => {
    expect(decodeBcd(Uint8Array.from([0x12, 0x05, 0x80]), 0, 3, 3, true)).toEqual({ ok: true, value: -0.512 })
    expect(decodeBcd(Uint8Array.from([0x12, 0x05, 0x80]), 0, 3, 3, false)).toMatchObject({ ok: true, value: 800.512 })
    expect(decodeBcd(Uint8Array.from([0x82, 0x09]), 0, 2, 3, true)).toEqual({ ok: true, value: 0.982 })
    expect(decodeBcd(Uint8Array.from([0x01, 0x23, 0x45]), 1, 2, 1, false)).toEqual({ ok: true, value: 452.3 })
  })

  it('refuses digits above 9 (FF is "no value" on many meters) and bytes beyond the reply', () => {
    expect(decodeBcd(Uint8Array.from([0xff, 0xff]), 0, 2, 1, false)).toMatchObject({ ok: false })
    expect(decodeBcd(Uint8Array.from([0x1a, 0x00]), 0, 2, 1, false)).toMatchObject({ ok: false, message: expect.stringContaining('1a') })
    expect(decodeBcd(Uint8Array.from([0x12]), 0, 2, 1, false)).toMatchObject({ ok: false })
  })

  it('line time: 11 bits per byte on 8E1', () => {
    expect(lineTimeMs(22, 2400)).toBeCloseTo(100.83, 2)
  })
})
