/**
 * CJ/T 188 link-layer frames: `FE… 68 T A0..A6 C L DATA CS 16`. T is the meter type, A0..A6 the
 * address (7 bytes, A0 first on the wire, usually BCD), C the control code, L the length of DATA,
 * CS the sum modulo 256 of every byte from 68 up to the last DATA byte. Followed here: public
 * summaries of CJ/T 188-2004/-2018 (see edge-agent/README.md, "CJ/T 188"), not the standard's text.
 */

export const FRAME_START = 0x68
export const FRAME_END = 0x16
/** Wake-up / preamble byte sent before a request and skipped before a reply. */
export const PREAMBLE = 0xfe
/** Control code: read data (master → meter). The reply sets D7 (direction) and, on failure, D6. */
export const CONTROL_READ_DATA = 0x01
export const CONTROL_REPLY = 0x80
export const CONTROL_ABNORMAL = 0x40
/** Data identifier of the meter's current data (计量数据). */
export const DI_METER_DATA = 0x901f
/** 68 T A0..A6 C L */
const HEADER_BYTES = 11
/** HEADER + CS + 16 */
const OVERHEAD_BYTES = 13

/** One decoded frame. `address` is in wire order (A0 first). */
export interface Cjt188Frame {
  meterType: number
  address: Uint8Array
  control: number
  data: Uint8Array
}

export type DiOrder = 'low-first' | 'high-first'

/** What the receive buffer holds: not yet a whole frame, a frame, or a frame that cannot be right. */
export type ParseOutcome =
  | { kind: 'incomplete'; received: number; expected?: number }
  | { kind: 'frame'; frame: Cjt188Frame; end: number /** Bytes other than FE came before it: noise passed over. */; resynced?: boolean }
  | { kind: 'bad'; code: 'EDGE_ERR_CHECKSUM' | 'EDGE_ERR_FRAME'; message: string }

export function checksum(bytes: Uint8Array, from: number, to: number): number {
  let sum = 0
  for (let i = from; i < to; i++) sum = (sum + (bytes[i] as number)) & 0xff
  return sum
}

/** The address as printed on a meter (14 hex digits, A6 first) → wire order (A0 first). */
export function addressToWire(printed: string): Uint8Array {
  return Uint8Array.from(Buffer.from(printed, 'hex')).reverse()
}

/** Wire order → printed form (A6 first, upper-case hex). */
export function addressToText(wire: Uint8Array): string {
  return Buffer.from(Uint8Array.from(wire).reverse()).toString('hex').toUpperCase()
}

export function encodeFrame(frame: Cjt188Frame, preambleBytes: number): Buffer {
  const body = Buffer.alloc(OVERHEAD_BYTES + frame.data.length)
  body[0] = FRAME_START
  body[1] = frame.meterType
  body.set(frame.address, 2)
  body[9] = frame.control
  body[10] = frame.data.length
  body.set(frame.data, HEADER_BYTES)
  body[body.length - 2] = checksum(body, 0, body.length - 2)
  body[body.length - 1] = FRAME_END
  return Buffer.concat([Buffer.alloc(preambleBytes, PREAMBLE), body])
}

/** DI as sent: 2018-style low byte first (1F 90), or high byte first (90 1F) as some 2004 meters do. */
export function encodeDi(di: number, order: DiOrder): [number, number] {
  return order === 'low-first' ? [di & 0xff, di >> 8] : [di >> 8, di & 0xff]
}

export function readDataRequest(meterType: number, address: Uint8Array, ser: number, order: DiOrder, preambleBytes: number): Buffer {
  return encodeFrame({ meterType, address, control: CONTROL_READ_DATA, data: Uint8Array.from([...encodeDi(DI_METER_DATA, order), ser & 0xff]) }, preambleBytes)
}

type Candidate = ParseOutcome | { kind: 'noise' }

/** What one 68 at `start` begins: a frame, a bad frame, too few bytes yet, or noise. */
function frameAt(buf: Uint8Array, start: number): Candidate {
  const received = buf.length - start
  if (received < HEADER_BYTES) return { kind: 'incomplete', received }
  const length = buf[start + 10] as number
  const total = OVERHEAD_BYTES + length
  if (received < total) return { kind: 'incomplete', received, expected: total }
  const endByte = buf[start + total - 1] as number
  const cs = buf[start + total - 2] as number
  const sum = checksum(buf, start, start + total - 2)
  // Neither end byte nor checksum: a 68 in noise (its "L" is noise too), not a frame start.
  if (endByte !== FRAME_END && cs !== sum) return { kind: 'noise' }
  if (endByte !== FRAME_END) return { kind: 'bad', code: 'EDGE_ERR_FRAME', message: `frame of L=${length} does not end in 16 (got ${hex(endByte)})` }
  if (cs !== sum) return { kind: 'bad', code: 'EDGE_ERR_CHECKSUM', message: `checksum ${hex(cs)}, computed ${hex(sum)}` }
  let resynced = false
  for (let i = 0; i < start; i++) if (buf[i] !== PREAMBLE) resynced = true
  return {
    kind: 'frame',
    end: start + total,
    ...(resynced ? { resynced } : {}),
    frame: {
      meterType: buf[start + 1] as number,
      address: Uint8Array.from(buf.subarray(start + 2, start + 9)),
      control: buf[start + 9] as number,
      data: Uint8Array.from(buf.subarray(start + HEADER_BYTES, start + HEADER_BYTES + length)),
    },
  }
}

/**
 * Finds the first frame in `buf`, trying every 68 in turn as its start: preamble and noise before
 * it are skipped — a stray 68 whose length byte runs past the bytes received does not hide a whole
 * frame after it, and one whose end byte and checksum are both wrong is passed over. A frame with a
 * wrong end byte or checksum is `bad` unless a good one follows; fewer bytes than the first
 * candidate's L announces is `incomplete`.
 */
export function parseFrame(buf: Uint8Array): ParseOutcome {
  let first: ParseOutcome | undefined
  let bad: ParseOutcome | undefined
  for (let s = buf.indexOf(FRAME_START); s >= 0; s = buf.indexOf(FRAME_START, s + 1)) {
    const c = frameAt(buf, s)
    if (c.kind === 'frame') return c
    if (c.kind === 'bad') bad ??= c
    else if (c.kind === 'incomplete') first ??= c
  }
  return bad ?? first ?? { kind: 'incomplete', received: 0 }
}

export const hex = (b: number): string => b.toString(16).padStart(2, '0').toUpperCase()
