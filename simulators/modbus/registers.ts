import { PlantWattError } from '../../core/errors.ts'

/** Modbus exception codes a simulated device answers with (Modbus Application Protocol V1.1b3 §7). */
export const ModbusException = {
  IllegalFunction: 0x01,
  IllegalDataAddress: 0x02,
  IllegalDataValue: 0x03,
  ServerDeviceFailure: 0x04,
  GatewayTargetFailedToRespond: 0x0b,
} as const
export type ModbusExceptionCode = (typeof ModbusException)[keyof typeof ModbusException]

export type RegisterType = 'float32' | 'int32' | 'uint32' | 'int16' | 'uint16'
/** Order of the bytes of a 32-bit value over its two registers, A = most significant byte. */
export type WordOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA'

/**
 * One parameter of a device's register map. The raw register value is `value(reading) / scale`
 * (e.g. a DTSU666 voltage "×0.1 V" has scale 0.1), rounded for integer types.
 */
export interface RegisterField<R> {
  /** 0-based register address (protocol address, not the 3xxxx/4xxxx reference number). */
  address: number
  /** What it holds, as named in the vendor table; for logs and tests. */
  name: string
  type: RegisterType
  /** Default 1. */
  scale?: number
  /** Default ABCD (big-endian). Ignored for 16-bit types. */
  wordOrder?: WordOrder
  value: (reading: R) => number
}

export function registerCount(type: RegisterType): 1 | 2 {
  return type === 'int16' || type === 'uint16' ? 1 : 2
}

// Byte positions in the big-endian (ABCD) encoding for each order.
const ORDER: Record<WordOrder, readonly [number, number, number, number]> = {
  ABCD: [0, 1, 2, 3],
  CDAB: [2, 3, 0, 1],
  BADC: [1, 0, 3, 2],
  DCBA: [3, 2, 1, 0],
}

/** Encodes one field's value into `out` at byte offset `at` (register address × 2). */
export function encodeField(out: Buffer, at: number, type: RegisterType, raw: number, wordOrder: WordOrder = 'ABCD'): void {
  if (type === 'int16' || type === 'uint16') {
    const lo = type === 'int16' ? -0x8000 : 0
    const hi = type === 'int16' ? 0x7fff : 0xffff
    const v = Math.min(hi, Math.max(lo, Math.round(raw)))
    if (type === 'int16') out.writeInt16BE(v, at)
    else out.writeUInt16BE(v, at)
    return
  }
  const be = Buffer.alloc(4)
  if (type === 'float32') be.writeFloatBE(raw, 0)
  else if (type === 'int32') be.writeInt32BE(Math.min(0x7fffffff, Math.max(-0x80000000, Math.round(raw))), 0)
  // A uint32 energy counter rolls over like the meter's does.
  else be.writeUInt32BE(((Math.round(raw) % 0x100000000) + 0x100000000) % 0x100000000, 0)
  const o = ORDER[wordOrder]
  for (let k = 0; k < 4; k++) out[at + k] = be[o[k] as number] as number
}

const UNMAPPED = 0
const FIRST = 1
const REST = 2

/**
 * How a device answers a block read that spans unmapped registers between mapped ones:
 * 'exception' (Illegal Data Address for the whole read) or 'zero' (the gap reads as zeros, as
 * meters that are commonly bulk-read across their gaps do). Either way a read must start and end
 * on whole parameters, and a read of unmapped registers only is an Illegal Data Address.
 */
export type GapPolicy = 'exception' | 'zero'

/**
 * A device's register space (input or holding): a dense image of every register up to the highest
 * mapped one, rebuilt as a whole on each update so that a read never mixes two updates. Reads must
 * cover whole parameters: starting on an unmapped register or cutting a 32-bit value in half is an
 * Illegal Data Address, so a client off by one register gets an exception, not a plausible number.
 */
export class RegisterSpace<R> {
  readonly fields: readonly RegisterField<R>[]
  private readonly layout: Uint8Array
  private image: Buffer
  private readonly gaps: GapPolicy

  constructor(fields: readonly RegisterField<R>[], label = 'register map', gaps: GapPolicy = 'exception') {
    this.gaps = gaps
    const end = fields.reduce((m, f) => Math.max(m, f.address + registerCount(f.type)), 0)
    if (end > 0x10000) throw new PlantWattError('SIM_ERR_REGISTER_MAP', `${label}: address beyond 0xFFFF`)
    this.layout = new Uint8Array(end)
    for (const f of fields) {
      for (let k = 0; k < registerCount(f.type); k++) {
        if (this.layout[f.address + k] !== UNMAPPED) {
          throw new PlantWattError('SIM_ERR_REGISTER_MAP', `${label}: ${f.name} at 0x${f.address.toString(16)} overlaps another field`)
        }
        this.layout[f.address + k] = k === 0 ? FIRST : REST
      }
    }
    this.fields = fields
    this.image = Buffer.alloc(end * 2)
  }

  /** Re-encodes every field from `reading` into a fresh image and swaps it in. */
  update(reading: R): void {
    const next = Buffer.alloc(this.image.length)
    for (const f of this.fields) encodeField(next, f.address * 2, f.type, f.value(reading) / (f.scale ?? 1), f.wordOrder)
    this.image = next
  }

  /** The register bytes for a read of `count` registers at `address`, or the exception to answer. */
  read(address: number, count: number): Buffer | ModbusExceptionCode {
    const end = address + count
    if (end > this.layout.length || this.layout[address] !== FIRST) return ModbusException.IllegalDataAddress
    if (end < this.layout.length && this.layout[end] === REST) return ModbusException.IllegalDataAddress
    if (this.gaps === 'exception') {
      for (let a = address; a < end; a++) if (this.layout[a] === UNMAPPED) return ModbusException.IllegalDataAddress
    }
    return this.image.subarray(address * 2, end * 2)
  }
}
