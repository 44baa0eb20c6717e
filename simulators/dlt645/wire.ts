/**
 * The simulator's own DL/T 645 framing, written from the standard and not shared with the edge
 * agent (ARCHITECTURE.md: simulators never import the agent's decoding). A frame on the wire:
 * `[FE FE FE FE] 68 A0 A1 A2 A3 A4 A5 68 C L D0…Dn CS 16`, data bytes sent +33h, CS = byte sum
 * from the first 68 to the last data byte.
 */

/** Address as printed (most significant pair first, 12 digits) → the 6 bytes as sent (A0 first). */
export function wireAddress(printed: string): number[] {
  const pairs = printed.match(/../g) ?? []
  return pairs.map((p) => Number.parseInt(p, 16)).reverse()
}

export function printedAddress(bytes: ArrayLike<number>): string {
  let s = ''
  for (let i = bytes.length - 1; i >= 0; i--) s += (bytes[i] as number).toString(16).padStart(2, '0')
  return s.toUpperCase()
}

/** Builds a frame; `data` unshifted (the +33h is applied here). */
export function buildFrame(address: string, control: number, data: readonly number[], preamble: number): Buffer {
  const body = [0x68, ...wireAddress(address), 0x68, control, data.length, ...data.map((d) => (d + 0x33) % 256)]
  const sum = body.reduce((a, b) => a + b, 0) % 256
  return Buffer.from([...new Array<number>(preamble).fill(0xfe), ...body, sum, 0x16])
}

/** A request as the simulator understood it. */
export interface SimRequest {
  address: string
  control: number
  /** Unshifted data bytes. */
  data: number[]
}

/** Takes whole frames off the front of `buf`: the frames found, frames with a bad checksum, and the bytes left. */
export function takeFrames(buf: Buffer): { frames: SimRequest[]; badChecksum: number; rest: Buffer } {
  const frames: SimRequest[] = []
  let badChecksum = 0
  let at = 0
  for (;;) {
    const start = buf.indexOf(0x68, at)
    if (start < 0) return { frames, badChecksum, rest: Buffer.alloc(0) }
    if (buf.length < start + 10) return { frames, badChecksum, rest: buf.subarray(start) }
    if (buf[start + 7] !== 0x68) {
      at = start + 1
      continue
    }
    const len = buf[start + 9] as number
    const stop = start + 12 + len
    if (buf.length < stop) return { frames, badChecksum, rest: buf.subarray(start) }
    let sum = 0
    for (let i = start; i < start + 10 + len; i++) sum += buf[i] as number
    if (sum % 256 !== buf[stop - 2] || buf[stop - 1] !== 0x16) badChecksum++
    else {
      const data: number[] = []
      for (let i = 0; i < len; i++) data.push(((buf[start + 10 + i] as number) + 256 - 0x33) % 256)
      frames.push({ address: printedAddress(buf.subarray(start + 1, start + 7)), control: buf[start + 8] as number, data })
    }
    at = stop
  }
}

/**
 * A number as BCD bytes, least significant byte first: `digits` = 2 × bytes, rounded to `decimals`;
 * signed: the sign goes into the top bit of the last byte (so the top digit is at most 7).
 */
export function bcdBytes(value: number, bytes: number, decimals: number, signed: boolean): number[] {
  let n = Math.round(Math.abs(value) * 10 ** decimals)
  const out: number[] = []
  for (let i = 0; i < bytes; i++) {
    const lo = n % 10
    n = Math.floor(n / 10)
    const hi = n % 10
    n = Math.floor(n / 10)
    out.push(hi * 16 + lo)
  }
  if (signed && value < 0) out[bytes - 1] = (out[bytes - 1] as number) | 0x80
  return out
}
