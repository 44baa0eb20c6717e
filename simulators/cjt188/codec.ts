/**
 * The simulator's own CJ/T 188 encoding, written apart from the edge agent's decoder (ARCHITECTURE:
 * simulators never import the agent's codec), from the same public summaries: frame
 * `FE… 68 T A0..A6 C L DATA CS 16`, CS = sum mod 256 from 68 to the last DATA byte, values BCD low
 * byte first.
 */

/** BCD of a non-negative integer in `bytes` bytes, low byte first (throws when it does not fit). */
export function bcd(value: number, bytes: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value >= 100 ** bytes) throw new Error(`${value} does not fit ${bytes} BCD byte(s)`)
  const out: number[] = []
  let v = value
  for (let i = 0; i < bytes; i++) {
    const two = v % 100
    out.push(((two / 10) | 0) * 16 + (two % 10))
    v = Math.floor(v / 100)
  }
  return out
}

export function sum8(bytes: readonly number[]): number {
  return bytes.reduce((a, b) => (a + b) % 256, 0)
}

/** The printed address (A6 first, 14 hex digits) as the 7 bytes sent, A0 first. */
export function wireAddress(printed: string): number[] {
  const out: number[] = []
  for (let i = 12; i >= 0; i -= 2) out.push(Number.parseInt(printed.slice(i, i + 2), 16))
  return out
}

export function frame(meterType: number, address: readonly number[], control: number, data: readonly number[], preamble = 2): Buffer {
  const body = [0x68, meterType, ...address, control, data.length, ...data]
  return Buffer.from([...new Array<number>(preamble).fill(0xfe), ...body, sum8(body), 0x16])
}

/** A request as a meter sees it; `undefined` while incomplete. */
export type Request =
  | { ok: true; meterType: number; address: number[]; control: number; data: number[]; end: number }
  | { ok: false; reason: string; end: number }

export function takeRequest(buf: Buffer): Request | undefined {
  const start = buf.indexOf(0x68)
  if (start < 0 || buf.length - start < 11) return undefined
  const length = buf[start + 10] as number
  const end = start + 13 + length
  if (buf.length < end) return undefined
  const body = [...buf.subarray(start, end - 2)]
  if (buf[end - 1] !== 0x16 || buf[end - 2] !== sum8(body)) return { ok: false, reason: 'bad checksum or end byte', end }
  return { ok: true, meterType: body[1] as number, address: body.slice(2, 9), control: body[9] as number, data: body.slice(11), end }
}
