/**
 * DL/T 645-2007 and DL/T 645-1997 frames: `[FE…] 68 A0..A5 68 C L DATA CS 16`. The address is six
 * BCD bytes, low byte first; every DATA byte travels +0x33; CS is the sum of every byte from the
 * first 68 to the last DATA byte, modulo 256. Values are BCD, low byte first, with the sign in the
 * top bit of the most significant byte where the item is signed.
 */

export type Dlt645Protocol = '2007' | '1997'

/** Control codes (DL/T 645-2007 §7.1, DL/T 645-1997 §6.1). */
export const CONTROL = {
  /** 2007: read data. Reply 0x91 (0xB1 with follow-up frames), error reply 0xD1. */
  read2007: 0x11,
  /** 2007: read the communication address (only with the AA…AA wildcard address). Reply 0x93. */
  readAddress: 0x13,
  /** 1997: read data. Reply 0x81 (0xA1 with follow-up frames), error reply 0xC1. */
  read1997: 0x01,
} as const

/** The wildcard address: every meter answers it (one meter on the bus only). */
export const WILDCARD_ADDRESS = 'AAAAAAAAAAAA'
const START = 0x68
const END = 0x16
const PREAMBLE = 0xfe
/** L is one byte: at most 200 data bytes for a read reply (2007 §7.2), 255 as the hard bound. */
const HEADER = 10

/** A parsed frame: the address as printed (A5 first, 12 characters), control code, data with 0x33 removed. */
export interface Frame {
  address: string
  control: number
  data: Uint8Array
  /** Bytes other than the FE preamble came before it: noise on the line, passed over. */
  resynced?: boolean
}

/** Address text (as printed on the meter, A5 first) → wire bytes (A0 first). Hex digits allow the AA wildcard. */
export function addressBytes(address: string): Uint8Array {
  const out = new Uint8Array(6)
  for (let i = 0; i < 6; i++) out[i] = Number.parseInt(address.slice(10 - 2 * i, 12 - 2 * i), 16)
  return out
}

function addressText(buf: Uint8Array, at: number): string {
  let s = ''
  for (let i = 5; i >= 0; i--) s += (buf[at + i] as number).toString(16).padStart(2, '0')
  return s.toUpperCase()
}

/** Data identifier text ('00010000', or '9010' for 1997) → wire bytes, low byte first, unshifted. */
export function diBytes(di: string): Uint8Array {
  const n = di.length / 2
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Number.parseInt(di.slice(di.length - 2 - 2 * i, di.length - 2 * i), 16)
  return out
}

/** Encodes one frame, with `preamble` FE wake-up bytes in front (2007 §7.3: up to 4). */
export function encodeFrame(address: string, control: number, data: Uint8Array, preamble = 0): Buffer {
  const frame = Buffer.alloc(preamble + 12 + data.length)
  frame.fill(PREAMBLE, 0, preamble)
  let i = preamble
  frame[i++] = START
  frame.set(addressBytes(address), i)
  i += 6
  frame[i++] = START
  frame[i++] = control
  frame[i++] = data.length
  for (const b of data) frame[i++] = (b + 0x33) & 0xff
  let cs = 0
  for (let j = preamble; j < i; j++) cs += frame[j] as number
  frame[i++] = cs & 0xff
  frame[i] = END
  return frame
}

/** The read request of one data identifier (8 hex digits: 2007, C=0x11; 4 hex digits: 1997, C=0x01). */
export function readRequest(address: string, di: string, preamble = 0): Buffer {
  return encodeFrame(address, di.length === 8 ? CONTROL.read2007 : CONTROL.read1997, diBytes(di), preamble)
}

/** The request that asks the single meter on a bus for its address (2007: C=0x13 to AA…AA). */
export function readAddressRequest(preamble = 0): Buffer {
  return encodeFrame(WILDCARD_ADDRESS, CONTROL.readAddress, new Uint8Array(0), preamble)
}

/** What scanning received bytes found. `end`: bytes consumed (the frame, or the bad bytes to skip). */
export type ScanResult =
  | { kind: 'need' }
  | { kind: 'frame'; frame: Frame; end: number }
  | { kind: 'bad'; code: 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME'; message: string; end: number }

const hex = (buf: Uint8Array) => [...buf].map((b) => b.toString(16).padStart(2, '0')).join(' ')

/** What one 68 at `s` starts: a frame, a bad frame, too few bytes yet, or not a frame at all (noise). */
function frameAt(buf: Uint8Array, s: number): ScanResult | { kind: 'noise' } {
  if (buf.length - s < HEADER) return { kind: 'need' }
  if (buf[s + 7] !== START) return { kind: 'noise' }
  const length = buf[s + 9] as number
  const end = s + 12 + length
  if (buf.length < end) return { kind: 'need' }
  let cs = 0
  for (let i = s; i < s + HEADER + length; i++) cs += buf[i] as number
  const csOk = (cs & 0xff) === buf[end - 2]
  const endOk = buf[end - 1] === END
  // Neither the checksum nor the end byte: a 68 in noise, not the start of a frame.
  if (!csOk && !endOk) return { kind: 'noise' }
  if (!csOk)
    return {
      kind: 'bad',
      code: 'EDGE_ERR_CHECKSUM',
      message: `checksum ${hex(buf.subarray(end - 2, end - 1))}, computed ${(cs & 0xff).toString(16).padStart(2, '0')}`,
      end,
    }
  if (!endOk) return { kind: 'bad', code: 'EDGE_ERR_FRAME', message: `frame ends with ${hex(buf.subarray(end - 1, end))}, not 16`, end }
  const data = new Uint8Array(length)
  for (let i = 0; i < length; i++) data[i] = ((buf[s + HEADER + i] as number) - 0x33) & 0xff
  let resynced = false
  for (let i = 0; i < s; i++) if (buf[i] !== PREAMBLE) resynced = true
  return { kind: 'frame', frame: { address: addressText(buf, s + 1), control: buf[s + 8] as number, data, ...(resynced ? { resynced } : {}) }, end }
}

/**
 * Looks for one frame in `buf`: skips the FE preamble and any noise, trying every 68 in turn as a
 * frame start — a stray 68 before a reply (no second 68 after the address, or neither checksum nor
 * end byte right) is passed over, and a 68 whose L runs past the bytes received does not hide a
 * whole frame after it. A frame with a wrong checksum or end byte is `bad` unless a good one follows.
 */
export function scanFrame(buf: Uint8Array): ScanResult {
  let bad: ScanResult | undefined
  for (let s = buf.indexOf(START); s >= 0; s = buf.indexOf(START, s + 1)) {
    const r = frameAt(buf, s)
    if (r.kind === 'frame') return r
    if (r.kind === 'bad') bad ??= r
  }
  return bad ?? { kind: 'need' }
}

/** A BCD value, or why it is not one. */
export type BcdResult = { ok: true; value: number } | { ok: false; message: string }

/**
 * Decodes `length` BCD bytes at `offset` of `data` (low byte first) into a number with `decimals`
 * decimal places; `signed`: the top bit of the most significant byte is the sign. A nibble above 9
 * (FF: "no value" on many meters) is an error, never a number.
 */
export function decodeBcd(data: Uint8Array, offset: number, length: number, decimals: number, signed: boolean): BcdResult {
  if (offset + length > data.length) return { ok: false, message: `needs bytes ${offset}..${offset + length - 1}, the reply has ${data.length}` }
  let value = 0
  let negative = false
  for (let i = offset + length - 1; i >= offset; i--) {
    let b = data[i] as number
    if (signed && i === offset + length - 1) {
      negative = (b & 0x80) !== 0
      b &= 0x7f
    }
    const hi = b >> 4
    const lo = b & 0x0f
    if (hi > 9 || lo > 9)
      return {
        ok: false,
        message: `BCD digit out of range in byte ${(data[i] as number).toString(16).padStart(2, '0')} (bytes ${hex(data.subarray(offset, offset + length))})`,
      }
    value = value * 100 + hi * 10 + lo
  }
  const scaled = value / 10 ** decimals
  return { ok: true, value: negative ? -scaled : scaled }
}

const ERROR_BITS_2007 = [
  'other error',
  'no requested data',
  'password error or unauthorised',
  'baud rate cannot be changed',
  'too many year time zones',
  'too many day periods',
  'too many tariffs',
  'reserved bit 7',
]
const ERROR_BITS_1997 = [
  'illegal data',
  'wrong data identifier',
  'password error',
  'reserved bit 3',
  'too many year time zones',
  'too many day periods',
  'too many tariffs',
  'reserved bit 7',
]

/** The error word of an error reply (2007 §7.4.3 ERR; 1997 status word), in words. */
export function describeErrorWord(word: number, protocol: Dlt645Protocol): string {
  const names = protocol === '2007' ? ERROR_BITS_2007 : ERROR_BITS_1997
  const set = names.filter((_, bit) => (word & (1 << bit)) !== 0)
  return `error word 0x${word.toString(16).padStart(2, '0')}${set.length > 0 ? ` (${set.join(', ')})` : ''}`
}

/** Control code expectations per protocol: the normal reply, the reply with follow-up frames, the error reply. */
export function replyCodes(protocol: Dlt645Protocol): { normal: number; more: number; error: number } {
  return protocol === '2007' ? { normal: 0x91, more: 0xb1, error: 0xd1 } : { normal: 0x81, more: 0xa1, error: 0xc1 }
}

/** Time on an asynchronous serial line for `bytes` bytes: start + data + parity + stop bits each, ms. */
export function lineTimeMs(bytes: number, baudRate: number, bitsPerByte = 11): number {
  return (bytes * bitsPerByte * 1000) / baudRate
}
