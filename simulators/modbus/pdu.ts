import { ModbusException, type ModbusExceptionCode } from './registers.ts'

/** What a simulated Modbus device answers; transport-free so TCP and (later) RTU share it. */
export interface ModbusUnit {
  /** FC 04. Register bytes, big-endian per register, or the exception to answer. */
  readInputRegisters(address: number, count: number): Buffer | ModbusExceptionCode
  /** FC 03. */
  readHoldingRegisters(address: number, count: number): Buffer | ModbusExceptionCode
  /** False while the device is offline: the transport sends no answer at all. Default true. */
  responding?(): boolean
}

// Modbus Application Protocol V1.1b3 §6.3/§6.4: 1..125 (0x7D) registers per read.
const MAX_READ_REGISTERS = 125

export function exceptionPdu(functionCode: number, code: ModbusExceptionCode): Buffer {
  return Buffer.from([(functionCode | 0x80) & 0xff, code])
}

/**
 * Answers one request PDU (function code + data). Never throws on bad input: a malformed request
 * gets the exception the spec prescribes (§7: 01 unsupported function, 03 bad length or quantity,
 * 02 bad address).
 */
export function handlePdu(unit: ModbusUnit, pdu: Buffer): Buffer {
  const fc = pdu[0]
  if (fc === undefined) return exceptionPdu(0, ModbusException.IllegalFunction)
  if (fc !== 0x03 && fc !== 0x04) return exceptionPdu(fc, ModbusException.IllegalFunction)
  if (pdu.length !== 5) return exceptionPdu(fc, ModbusException.IllegalDataValue)
  const address = pdu.readUInt16BE(1)
  const count = pdu.readUInt16BE(3)
  if (count < 1 || count > MAX_READ_REGISTERS) return exceptionPdu(fc, ModbusException.IllegalDataValue)
  if (address + count > 0x10000) return exceptionPdu(fc, ModbusException.IllegalDataAddress)
  let data: Buffer | ModbusExceptionCode
  try {
    data = fc === 0x04 ? unit.readInputRegisters(address, count) : unit.readHoldingRegisters(address, count)
  } catch {
    return exceptionPdu(fc, ModbusException.ServerDeviceFailure)
  }
  if (typeof data === 'number') return exceptionPdu(fc, data)
  const out = Buffer.allocUnsafe(2 + data.length)
  out[0] = fc
  out[1] = data.length
  data.copy(out, 2)
  return out
}
