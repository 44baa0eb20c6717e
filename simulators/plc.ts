import { PlantWattError } from '../core/errors.ts'
import type { ModbusUnit } from './modbus/pdu.ts'
import { ModbusException, RegisterSpace, type RegisterField } from './modbus/registers.ts'

/**
 * The "line PLC": the production counter of a scenario line served over Modbus, with one register
 * layout whatever the line makes (PlantWatt's own map, not a vendor's):
 *
 * | holding (FC 03) | type | quantity | |
 * |---|---|---|---|
 * | 0x0000–0x0001 | float32 ABCD (high word first) | `output_t` | tonnes, lines whose product unit is `t` |
 * | 0x0002–0x0003 | uint32 ABCD (high word first) | `output_count` | parts, lines whose product unit is `pcs` |
 *
 * A PLC serves only its line's quantity: the other register pair answers exception 02 (illegal
 * data address), like any unmapped register. FC 04 is not mapped (every read answers 02). The
 * uint32 count rolls over at 2³² like a PLC's DINT counter.
 */
export const LINE_PLC_REGISTERS = { output_t: 0x0000, output_count: 0x0002 } as const

/** Edge-agent profile ids of the line PLC, by the quantity it counts. */
export const LINE_PLC_PROFILES = { output_t: 'plantwatt-line-plc-t', output_count: 'plantwatt-line-plc-pcs' } as const
export type LinePlcProfileId = (typeof LINE_PLC_PROFILES)[keyof typeof LINE_PLC_PROFILES]

export type ProductionQuantity = keyof typeof LINE_PLC_REGISTERS

export interface LinePlcOptions {
  unitId: number
  quantity: ProductionQuantity
  /** Reads the counter: one update tick of the PLC (the production counter's tick). */
  tick: () => { ts: number; value: number }
  /** What the PLC shows for the true count at t (fault presenter); default the count itself. */
  present?: (values: Readonly<Record<string, number>>, t: number) => Record<string, number>
  /** False while offline: no Modbus answer. */
  online?: (t: number) => boolean
  clock: () => number
}

/** A line PLC without transport: its registers change only when tick() runs. */
export interface LinePlcDevice extends ModbusUnit {
  readonly unitId: number
  readonly quantity: ProductionQuantity
  readonly profile: LinePlcProfileId
  /** What the registers hold now (after faults), and the clock time of that tick. */
  snapshot(): { ts: number; value: number }
  tick(): { ts: number; value: number }
}

export function createLinePlcDevice(options: LinePlcOptions): LinePlcDevice {
  const { quantity, unitId } = options
  if (!Number.isInteger(unitId) || unitId < 1 || unitId > 247) throw new PlantWattError('SIM_ERR_CONFIG', `line PLC: unit id ${unitId} is outside 1–247`)
  const field: RegisterField<number> =
    quantity === 'output_t'
      ? { address: LINE_PLC_REGISTERS.output_t, name: 'output_t', type: 'float32', value: (v) => v }
      : { address: LINE_PLC_REGISTERS.output_count, name: 'output_count', type: 'uint32', value: (v) => v }
  const holding = new RegisterSpace<number>([field], `line PLC ${quantity} holding registers`)
  let current = { ts: 0, value: 0 }
  const tick = (): { ts: number; value: number } => {
    const raw = options.tick()
    const shown = options.present ? (options.present({ [quantity]: raw.value }, raw.ts)[quantity] ?? raw.value) : raw.value
    // What the registers really hold: float32 rounds tonnes, the counter holds whole parts.
    const value = quantity === 'output_t' ? Math.fround(shown) : ((Math.round(shown) % 0x100000000) + 0x100000000) % 0x100000000
    holding.update(value)
    current = Object.freeze({ ts: raw.ts, value })
    return current
  }
  tick()
  return {
    unitId,
    quantity,
    profile: LINE_PLC_PROFILES[quantity],
    snapshot: () => current,
    tick,
    readHoldingRegisters: (address, count) => holding.read(address, count),
    readInputRegisters: () => ModbusException.IllegalDataAddress,
    ...(options.online ? { responding: () => (options.online as (t: number) => boolean)(options.clock()) } : {}),
  }
}
