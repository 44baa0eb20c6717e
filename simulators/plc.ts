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
 * and, in input registers, the fuels and working media the line's PLC / DCS counts (its coal scale,
 * gas and oxygen flow totalisers; the scenario's product carriers):
 *
 * | input (FC 04) | type | quantity | |
 * |---|---|---|---|
 * | 0x0000–0x0001 | float32 ABCD | `coal_t` | raw coal, tonnes |
 * | 0x0002–0x0003 | uint32 ABCD | `gas_m3` | natural gas, whole m3 |
 * | 0x0004–0x0005 | uint32 ABCD | `oxygen_m3` | oxygen, whole m3 |
 *
 * A PLC serves only its line's quantities: any other register answers exception 02 (illegal data
 * address), like any unmapped register; a PLC without carriers answers 02 to every FC 04 read. The
 * uint32 counters roll over at 2³² like a PLC's DINT counter.
 */
export const LINE_PLC_REGISTERS = { output_t: 0x0000, output_count: 0x0002 } as const
/** Input registers (FC 04) of the carrier counters. */
export const LINE_PLC_CARRIER_REGISTERS = { coal_t: 0x0000, gas_m3: 0x0002, oxygen_m3: 0x0004 } as const
export type LinePlcCarrier = keyof typeof LINE_PLC_CARRIER_REGISTERS

/**
 * Edge-agent profiles of the line PLC: by the quantity it counts, and for the carrier sets shipped
 * (the Hubei scenario's kilns: coal; its EAF shop: oxygen and gas). A PLC counting another set of
 * carriers still serves them, but its profile reads the output only (copy a profile to read them).
 */
export const LINE_PLC_PROFILES = { output_t: 'plantwatt-line-plc-t', output_count: 'plantwatt-line-plc-pcs' } as const
export const LINE_PLC_CARRIER_PROFILES = {
  'output_t+coal_t': 'plantwatt-line-plc-t-coal',
  'output_t+gas_m3+oxygen_m3': 'plantwatt-line-plc-t-oxygen-gas',
} as const
export type LinePlcProfileId =
  | (typeof LINE_PLC_PROFILES)[keyof typeof LINE_PLC_PROFILES]
  | (typeof LINE_PLC_CARRIER_PROFILES)[keyof typeof LINE_PLC_CARRIER_PROFILES]

/** The profile that reads a line PLC counting `quantity` and `carriers` (see LINE_PLC_CARRIER_PROFILES). */
export function linePlcProfile(quantity: ProductionQuantity, carriers: readonly LinePlcCarrier[]): LinePlcProfileId {
  if (carriers.length === 0) return LINE_PLC_PROFILES[quantity]
  const key = [quantity, ...[...carriers].sort()].join('+')
  return (LINE_PLC_CARRIER_PROFILES as Record<string, LinePlcProfileId>)[key] ?? LINE_PLC_PROFILES[quantity]
}

export type ProductionQuantity = keyof typeof LINE_PLC_REGISTERS

export interface LinePlcOptions {
  unitId: number
  quantity: ProductionQuantity
  /** Carrier counters the PLC serves in input registers (none by default). */
  carriers?: readonly LinePlcCarrier[]
  /** Reads the counters: one update tick of the PLC (the production counter's tick, and each carrier's count). */
  tick: () => LinePlcReading
  /** What the PLC shows for the true count at t (fault presenter); default the count itself. */
  present?: (values: Readonly<Record<string, number>>, t: number) => Record<string, number>
  /** False while offline: no Modbus answer. */
  online?: (t: number) => boolean
  clock: () => number
}

/** A PLC reading: the output count, and the carrier counts (only those the PLC serves). */
export interface LinePlcReading {
  ts: number
  value: number
  carriers?: Readonly<Partial<Record<LinePlcCarrier, number>>>
}

/** A line PLC without transport: its registers change only when tick() runs. */
export interface LinePlcDevice extends ModbusUnit {
  readonly unitId: number
  readonly quantity: ProductionQuantity
  readonly carriers: readonly LinePlcCarrier[]
  readonly profile: LinePlcProfileId
  /** What the registers hold now (after faults), and the clock time of that tick. */
  snapshot(): LinePlcReading
  tick(): LinePlcReading
}

/** What a carrier's registers hold: float32 tonnes of coal, whole m3 (uint32, rolling over) of gas and oxygen. */
function registerValue(quantity: ProductionQuantity | LinePlcCarrier, v: number): number {
  if (quantity === 'output_t' || quantity === 'coal_t') return Math.fround(v)
  return ((Math.round(v) % 0x100000000) + 0x100000000) % 0x100000000
}

export function createLinePlcDevice(options: LinePlcOptions): LinePlcDevice {
  const { quantity, unitId } = options
  if (!Number.isInteger(unitId) || unitId < 1 || unitId > 247) throw new PlantWattError('SIM_ERR_CONFIG', `line PLC: unit id ${unitId} is outside 1–247`)
  const field: RegisterField<number> =
    quantity === 'output_t'
      ? { address: LINE_PLC_REGISTERS.output_t, name: 'output_t', type: 'float32', value: (v) => v }
      : { address: LINE_PLC_REGISTERS.output_count, name: 'output_count', type: 'uint32', value: (v) => v }
  const carriers = [...(options.carriers ?? [])]
  const holding = new RegisterSpace<number>([field], `line PLC ${quantity} holding registers`)
  const input =
    carriers.length > 0
      ? new RegisterSpace<Readonly<Partial<Record<LinePlcCarrier, number>>>>(
          carriers.map((c) => ({ address: LINE_PLC_CARRIER_REGISTERS[c], name: c, type: c === 'coal_t' ? 'float32' : 'uint32', value: (r) => r[c] ?? 0 })),
          `line PLC ${quantity} input registers`,
        )
      : undefined
  let current: LinePlcReading = { ts: 0, value: 0 }
  const tick = (): LinePlcReading => {
    const raw = options.tick()
    const counts: Record<string, number> = { [quantity]: raw.value }
    for (const c of carriers) counts[c] = raw.carriers?.[c] ?? 0
    const shown = options.present ? { ...counts, ...options.present(counts, raw.ts) } : counts
    // What the registers really hold: float32 tonnes, whole parts and m3.
    const value = registerValue(quantity, shown[quantity] ?? raw.value)
    holding.update(value)
    const held: Partial<Record<LinePlcCarrier, number>> = {}
    for (const c of carriers) held[c] = registerValue(c, shown[c] ?? 0)
    input?.update(held)
    current = Object.freeze({ ts: raw.ts, value, ...(carriers.length > 0 ? { carriers: Object.freeze(held) } : {}) })
    return current
  }
  tick()
  return {
    unitId,
    quantity,
    carriers,
    profile: linePlcProfile(quantity, carriers),
    snapshot: () => current,
    tick,
    readHoldingRegisters: (address, count) => holding.read(address, count),
    readInputRegisters: (address, count) => (input ? input.read(address, count) : ModbusException.IllegalDataAddress),
    ...(options.online ? { responding: () => (options.online as (t: number) => boolean)(options.clock()) } : {}),
  }
}
