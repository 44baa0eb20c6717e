import { type Dlt645Protocol, decodeBcd, describeErrorWord, diBytes, type Frame, replyCodes } from './codec.ts'
import type { Dlt645Point } from './profile.ts'

/** Why a reply frame cannot serve the request it came for, in the driver's error codes. */
export interface ReplyFault {
  code: 'EDGE_ERR_ADDRESS' | 'EDGE_ERR_METER_EXCEPTION' | 'EDGE_ERR_FRAME'
  message: string
  /** The error word of an error reply. */
  errorWord?: number
}

/**
 * Checks a reply against its read request: the meter's own address (a meter answering for another
 * address is refused, never decoded), a normal reply control code or an error reply with its error
 * word, and the same data identifier. Returns the value bytes after the identifier.
 */
export function checkReadReply(frame: Frame, address: string, di: string, protocol: Dlt645Protocol): { data: Uint8Array } | ReplyFault {
  if (frame.address !== address) return { code: 'EDGE_ERR_ADDRESS', message: `reply from meter ${frame.address}, expected meter ${address}` }
  const codes = replyCodes(protocol)
  if (frame.control === codes.error) {
    const word = frame.data[0] ?? 0
    return { code: 'EDGE_ERR_METER_EXCEPTION', message: `error reply to ${di}: ${describeErrorWord(word, protocol)}`, errorWord: word }
  }
  if (frame.control !== codes.normal && frame.control !== codes.more) {
    return {
      code: 'EDGE_ERR_FRAME',
      message: `reply control code 0x${frame.control.toString(16).padStart(2, '0')} to a read of ${di} (expected 0x${codes.normal.toString(16)})`,
    }
  }
  const want = diBytes(di)
  if (frame.data.length < want.length || want.some((b, i) => frame.data[i] !== b)) {
    const got = [...frame.data.subarray(0, want.length)]
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase()
    return { code: 'EDGE_ERR_FRAME', message: `reply for identifier ${got || '(none)'}, asked ${di}` }
  }
  return { data: frame.data.subarray(want.length) }
}

/** One point's value from the value bytes of its identifier, or why it has none (EDGE_ERR_BCD). */
export function pointValue(data: Uint8Array, point: Dlt645Point): { value: number } | { code: 'EDGE_ERR_BCD' | 'EDGE_ERR_FRAME'; message: string } {
  if (point.offset + point.bytes > data.length) {
    return {
      code: 'EDGE_ERR_FRAME',
      message: `${point.di}: reply holds ${data.length} value byte(s), the point needs bytes ${point.offset}..${point.offset + point.bytes - 1}`,
    }
  }
  const r = decodeBcd(data, point.offset, point.bytes, point.decimals, point.signed)
  if (!r.ok) return { code: 'EDGE_ERR_BCD', message: `${point.di}: ${r.message}` }
  return { value: r.value * point.scale }
}
