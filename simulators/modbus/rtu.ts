/**
 * Modbus RTU framing (Modbus over Serial Line V1.02): address byte + PDU + CRC-16/Modbus, low byte
 * first. Transport-free: the serial server feeds bytes and silences in, frames come out.
 */

const CRC_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    // Reflected polynomial 0xA001 (x^16 + x^15 + x^2 + 1), init 0xFFFF — §6.2.2.
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1
    table[n] = c
  }
  return table
})()

/** CRC-16/Modbus of `bytes`. */
export function crc16Modbus(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const b of bytes) crc = (crc >>> 8) ^ (CRC_TABLE[(crc ^ b) & 0xff] as number)
  return crc
}

/** Builds an RTU frame: address, PDU, CRC (low byte first). */
export function rtuFrame(address: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pdu.length + 3)
  out[0] = address
  pdu.copy(out, 1)
  out.writeUInt16LE(crc16Modbus(out.subarray(0, pdu.length + 1)), pdu.length + 1)
  return out
}

/** True when the last two bytes are the CRC of the rest. */
export function rtuCrcOk(frame: Buffer): boolean {
  if (frame.length < 4) return false
  return frame.readUInt16LE(frame.length - 2) === crc16Modbus(frame.subarray(0, frame.length - 2))
}

// §2.5.1.1: an RTU ADU is at most 256 bytes.
export const MAX_RTU_FRAME = 256

/**
 * The silence that ends a frame, t3.5, in ms: 3.5 characters of 11 bits at the baud rate, and a
 * fixed 1.75 ms above 19200 baud (§2.5.1.1).
 */
export function frameGapMs(baudRate: number): number {
  return baudRate > 19_200 ? 1.75 : (3.5 * 11 * 1000) / baudRate
}

/**
 * Length of a complete request whose length the function code fixes (FC 01–06: 8 bytes), or
 * undefined. Lets a slave answer without waiting out t3.5, as most do; anything else waits for it.
 */
export function fixedRequestLength(frame: Buffer): number | undefined {
  const fc = frame[1]
  return fc !== undefined && fc >= 0x01 && fc <= 0x06 ? 8 : undefined
}
