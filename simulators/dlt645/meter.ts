import { bcdBytes } from './wire.ts'

/** What a simulated meter measures, in canonical quantities. */
export type SimValues = Record<string, number>

/** One value inside an identifier's reply: which quantity, in how many BCD bytes and decimals. */
interface Field {
  quantity?: string
  bytes: number
  decimals: number
  signed?: boolean
  /** Fixed raw bytes (e.g. the time of a maximum demand), instead of a quantity. */
  raw?: number[]
}

const f = (quantity: string, bytes: number, decimals: number, signed = false): Field => ({ quantity, bytes, decimals, signed })
const energy = (q: string) => f(q, 4, 2)
/** A block's quantities: the total, then tariffs 1–4 (`energy_export` → energy_export_kwh, energy_export_tariff1_kwh …). */
const tariffs = (stem: string, unit: string) => [`${stem}_${unit}`, ...[1, 2, 3, 4].map((t) => `${stem}_tariff${t}_${unit}`)]
const TIME_2026_01_12_09_45 = [0x45, 0x09, 0x12, 0x01, 0x26] // mm hh DD MM YY, low byte first

/** DL/T 645-2007 Appendix A, the identifiers this simulator serves (DI3…DI0 as printed). */
export const TABLE_2007: Readonly<Record<string, readonly Field[]>> = {
  '00010000': [energy('energy_import_kwh')],
  '00010100': [energy('energy_import_tariff1_kwh')],
  '00010200': [energy('energy_import_tariff2_kwh')],
  '00010300': [energy('energy_import_tariff3_kwh')],
  '00010400': [energy('energy_import_tariff4_kwh')],
  '0001FF00': ['energy_import_kwh', 'energy_import_tariff1_kwh', 'energy_import_tariff2_kwh', 'energy_import_tariff3_kwh', 'energy_import_tariff4_kwh'].map(
    energy,
  ),
  '00020000': [energy('energy_export_kwh')],
  '0002FF00': tariffs('energy_export', 'kwh').map(energy),
  '00030000': [f('reactive_energy_import_kvarh', 4, 2, true)],
  '0003FF00': tariffs('reactive_energy_import', 'kvarh').map((q) => f(q, 4, 2, true)),
  '00040000': [f('reactive_energy_export_kvarh', 4, 2, true)],
  '0004FF00': tariffs('reactive_energy_export', 'kvarh').map((q) => f(q, 4, 2, true)),
  '02010100': [f('voltage_l1_v', 2, 1)],
  '02010200': [f('voltage_l2_v', 2, 1)],
  '02010300': [f('voltage_l3_v', 2, 1)],
  '0201FF00': [f('voltage_l1_v', 2, 1), f('voltage_l2_v', 2, 1), f('voltage_l3_v', 2, 1)],
  '02020100': [f('current_l1_a', 3, 3, true)],
  '0202FF00': [f('current_l1_a', 3, 3, true), f('current_l2_a', 3, 3, true), f('current_l3_a', 3, 3, true)],
  '02030000': [f('active_power_kw', 3, 4, true)],
  '0203FF00': [f('active_power_kw', 3, 4, true), f('active_power_l1_kw', 3, 4, true), f('active_power_l2_kw', 3, 4, true), f('active_power_l3_kw', 3, 4, true)],
  '02040000': [f('reactive_power_kvar', 3, 4, true)],
  '02060000': [f('power_factor', 2, 3, true)],
  '02800002': [f('frequency_hz', 2, 2)],
  '01010000': [f('max_demand_import_kw', 3, 4), { bytes: 5, decimals: 0, raw: TIME_2026_01_12_09_45 }],
}

/** DL/T 645-1997: 2-byte identifiers, coarser formats (voltage XXX V, current XX.XX A). */
export const TABLE_1997: Readonly<Record<string, readonly Field[]>> = {
  '9010': [energy('energy_import_kwh')],
  '901F': ['energy_import_kwh', 'energy_import_tariff1_kwh', 'energy_import_tariff2_kwh', 'energy_import_tariff3_kwh', 'energy_import_tariff4_kwh'].map(energy),
  '9020': [energy('energy_export_kwh')],
  '902F': tariffs('energy_export', 'kwh').map(energy),
  '9110': [energy('reactive_energy_import_kvarh')],
  '911F': tariffs('reactive_energy_import', 'kvarh').map(energy),
  '9120': [energy('reactive_energy_export_kvarh')],
  '912F': tariffs('reactive_energy_export', 'kvarh').map(energy),
  B611: [f('voltage_l1_v', 2, 0)],
  B621: [f('current_l1_a', 2, 2)],
  B630: [f('active_power_kw', 3, 4)],
  B640: [f('reactive_power_kvar', 2, 2)],
  B650: [f('power_factor', 2, 3)],
  A010: [f('max_demand_import_kw', 3, 4)],
}

/** Faults a meter can be told to make, for some identifiers or all (`dis` empty). */
export type SimFault =
  /** The reply's checksum is off by one. */
  | { kind: 'checksum' }
  /** Only the first half of the reply is sent. */
  | { kind: 'truncate' }
  /** The reply carries this address instead of the meter's own. */
  | { kind: 'wrong-address'; address: string }
  /** An error reply (2007 0xD1, 1997 0xC1) with this error word. */
  | { kind: 'error-word'; word: number }
  /** The value bytes are FF (BCD digits out of range). */
  | { kind: 'bad-bcd' }
  /** No reply at all. */
  | { kind: 'silent' }
  /** These bytes (line noise, e.g. a stray 68) go out before the reply. */
  | { kind: 'noise'; bytes: readonly number[] }

export interface SimMeterOptions {
  /** 12 digits as printed on the meter. */
  address: string
  protocol?: '2007' | '1997'
  /** Starting values; anything not given gets a plausible default. */
  values?: SimValues
}

const DEFAULTS: SimValues = {
  energy_import_kwh: 12345.67,
  energy_import_tariff1_kwh: 1000.01,
  energy_import_tariff2_kwh: 4000.02,
  energy_import_tariff3_kwh: 5000.03,
  energy_import_tariff4_kwh: 2345.61,
  energy_export_kwh: 12.34,
  energy_export_tariff1_kwh: 1.01,
  energy_export_tariff2_kwh: 5.02,
  energy_export_tariff3_kwh: 4.03,
  energy_export_tariff4_kwh: 2.28,
  reactive_energy_import_kvarh: 3456.78,
  reactive_energy_import_tariff1_kvarh: 300.11,
  reactive_energy_import_tariff2_kvarh: 1500.22,
  reactive_energy_import_tariff3_kvarh: 1200.33,
  reactive_energy_import_tariff4_kvarh: 456.12,
  reactive_energy_export_kvarh: 123.45,
  reactive_energy_export_tariff1_kvarh: 10.01,
  reactive_energy_export_tariff2_kvarh: 50.02,
  reactive_energy_export_tariff3_kvarh: 40.03,
  reactive_energy_export_tariff4_kvarh: 23.39,
  voltage_l1_v: 230.1,
  voltage_l2_v: 229.8,
  voltage_l3_v: 231.2,
  current_l1_a: 10.123,
  current_l2_a: 9.876,
  current_l3_a: -0.512,
  active_power_kw: 6.5432,
  active_power_l1_kw: 2.3456,
  active_power_l2_kw: 2.2222,
  active_power_l3_kw: 1.9754,
  reactive_power_kvar: -1.2345,
  power_factor: 0.982,
  frequency_hz: 50.01,
  max_demand_import_kw: 12.3456,
}

/** One simulated DL/T 645 meter: its address, values, identifier table and faults. */
export class SimMeter {
  readonly address: string
  readonly protocol: '2007' | '1997'
  readonly values: SimValues
  private readonly faults = new Map<string, SimFault>()
  private ticks = 0

  constructor(options: SimMeterOptions) {
    this.address = options.address
    this.protocol = options.protocol ?? '2007'
    this.values = { ...DEFAULTS, ...options.values }
  }

  /** The identifier table of this meter's protocol. */
  get table(): Readonly<Record<string, readonly Field[]>> {
    return this.protocol === '2007' ? TABLE_2007 : TABLE_1997
  }

  /** Moves the values on: counters grow, instantaneous values wander a little. */
  tick(): void {
    this.ticks++
    const v = this.values
    const add = (q: string, d: number) => (v[q] = Math.round(((v[q] ?? 0) + d) * 1e4) / 1e4)
    add('energy_import_kwh', 0.11)
    add('energy_import_tariff2_kwh', 0.11)
    add('energy_export_kwh', 0.01)
    add('reactive_energy_import_kvarh', 0.05)
    add('voltage_l1_v', this.ticks % 2 === 0 ? 0.3 : -0.2)
    add('current_l1_a', 0.011)
    add('active_power_kw', 0.0123)
    add('frequency_hz', this.ticks % 2 === 0 ? 0.01 : -0.01)
  }

  /** The value of `quantity` as the meter's format for `di` rounds it: what a reader must decode. */
  served(di: string, quantity: string): number | undefined {
    const field = this.table[di]?.find((x) => x.quantity === quantity)
    const value = this.values[quantity]
    if (!field || value === undefined) return undefined
    return Math.round(value * 10 ** field.decimals) / 10 ** field.decimals
  }

  setFault(fault: SimFault, dis: readonly string[] = []): void {
    if (dis.length === 0) this.faults.set('*', fault)
    for (const di of dis) this.faults.set(di.toUpperCase(), fault)
  }

  clearFaults(): void {
    this.faults.clear()
  }

  faultFor(di: string): SimFault | undefined {
    return this.faults.get(di) ?? this.faults.get('*')
  }

  /** The value bytes of `di` (unshifted), or undefined when the meter has no such item. */
  valueBytes(di: string): number[] | undefined {
    const fields = this.table[di]
    if (!fields) return undefined
    return fields.flatMap((x) => x.raw ?? bcdBytes(this.values[x.quantity ?? ''] ?? 0, x.bytes, x.decimals, x.signed ?? false))
  }
}
