import type { Quality } from '../../core/payload.ts'
import type { PointError } from '../driver.ts'

/**
 * The data of a 901F reply, decoded into canonical quantities. Values are BCD, low byte first;
 * cumulative and instantaneous values carry a unit code after their 4 BCD bytes. Layouts and unit
 * codes as given by public summaries of CJ/T 188 (edge-agent/README.md): verify against a meter's
 * own manual before relying on a field this driver does not test.
 */

export type BcdResult = { ok: true; value: number } | { ok: false; message: string }

/** `bytes` (low byte first) as a decimal number with `decimals` digits after the point. */
export function decodeBcd(bytes: Uint8Array, decimals: number): BcdResult {
  let digits = 0
  for (let i = bytes.length - 1; i >= 0; i--) {
    const b = bytes[i] as number
    const hi = b >> 4
    const lo = b & 0x0f
    if (hi > 9 || lo > 9) return { ok: false, message: `BCD byte ${b.toString(16).padStart(2, '0').toUpperCase()} has a digit above 9` }
    digits = digits * 100 + hi * 10 + lo
  }
  // Integer digits then one division: 123456.78 is exactly the double nearest 12345678/100.
  return { ok: true, value: digits / 10 ** decimals }
}

export type UnitFamily = 'energy-wh' | 'energy-j' | 'power' | 'volume' | 'flow'

/** Unit codes: family and the factor to the family's canonical unit (kWh, GJ, kW, m3, m3/h). */
export const UNIT_CODES: Readonly<Record<number, { name: string; family: UnitFamily; factor: number }>> = {
  0x02: { name: 'Wh', family: 'energy-wh', factor: 1e-3 },
  0x05: { name: 'kWh', family: 'energy-wh', factor: 1 },
  0x08: { name: 'MWh', family: 'energy-wh', factor: 1e3 },
  0x0a: { name: 'MWh×100', family: 'energy-wh', factor: 1e5 },
  0x01: { name: 'J', family: 'energy-j', factor: 1e-9 },
  0x0b: { name: 'kJ', family: 'energy-j', factor: 1e-6 },
  0x0e: { name: 'MJ', family: 'energy-j', factor: 1e-3 },
  0x11: { name: 'GJ', family: 'energy-j', factor: 1 },
  0x13: { name: 'GJ×100', family: 'energy-j', factor: 100 },
  0x14: { name: 'W', family: 'power', factor: 1e-3 },
  0x17: { name: 'kW', family: 'power', factor: 1 },
  0x1a: { name: 'MW', family: 'power', factor: 1e3 },
  0x29: { name: 'L', family: 'volume', factor: 1e-3 },
  0x2c: { name: 'm³', family: 'volume', factor: 1 },
  0x32: { name: 'L/h', family: 'flow', factor: 1e-3 },
  0x35: { name: 'm³/h', family: 'flow', factor: 1 },
}

/** 1 kWh = 3.6 MJ = 0.0036 GJ. */
const GJ_PER_KWH = 0.0036

export type HeatQuantity = 'auto' | 'heat_kwh' | 'heat_gj'

/** One field of a reply's data (offsets after DI and SER). */
export interface Field {
  quantity: string
  offset: number
  /** BCD bytes. */
  bytes: number
  decimals: number
  /** The family the unit code after the value must be in; absent: no unit byte, value in `quantity`'s unit. */
  unit?: 'energy' | 'power' | 'volume' | 'flow'
}

export interface Layout {
  /** DATA bytes of the reply after DI (2) and SER (1). */
  length: number
  fields: Field[]
  /** Offset of the status bytes ST1 ST2. */
  statusOffset: number
}

/** Water and gas meters: current cumulative flow, settlement-day flow, time, status (L = 0x16). */
export function volumeLayout(quantity: 'water_m3' | 'gas_m3'): Layout {
  return { length: 19, statusOffset: 17, fields: [{ quantity, offset: 0, bytes: 4, decimals: 2, unit: 'volume' }] }
}

/**
 * Heat meters: settlement-day heat, current heat, heat power, flow, cumulative flow, supply and
 * return temperature (XXXX.XX °C), working hours, time, status (L = 0x2E).
 */
export const HEAT_LAYOUT: Layout = {
  length: 43,
  statusOffset: 41,
  fields: [
    { quantity: 'heat', offset: 5, bytes: 4, decimals: 2, unit: 'energy' },
    { quantity: 'heat_power_kw', offset: 10, bytes: 4, decimals: 2, unit: 'power' },
    { quantity: 'flow_m3h', offset: 15, bytes: 4, decimals: 4, unit: 'flow' },
    { quantity: 'heat_volume_m3', offset: 20, bytes: 4, decimals: 2, unit: 'volume' },
    { quantity: 'supply_temp_c', offset: 25, bytes: 3, decimals: 2 },
    { quantity: 'return_temp_c', offset: 28, bytes: 3, decimals: 2 },
  ],
}

export interface DecodedReading {
  values: Record<string, number>
  quality: Record<string, Quality>
  errors: PointError[]
  /** ST1 | ST2 << 8. */
  status: number
}

/** The quantity a field is published as: heat follows the meter's unit unless one is configured. */
export function quantityOf(field: Field, heat: HeatQuantity, unit?: UnitFamily): string {
  if (field.quantity !== 'heat') return field.quantity
  if (heat !== 'auto') return heat
  return unit === 'energy-j' ? 'heat_gj' : 'heat_kwh'
}

function decodeField(
  field: Field,
  data: Uint8Array,
  heat: HeatQuantity,
): { quantity: string; value: number } | { quantity: string; code: string; message: string } {
  const raw = decodeBcd(data.subarray(field.offset, field.offset + field.bytes), field.decimals)
  if (field.unit === undefined)
    return raw.ok ? { quantity: field.quantity, value: raw.value } : { quantity: field.quantity, code: 'EDGE_ERR_BCD', message: raw.message }
  const code = data[field.offset + field.bytes] as number
  const unit = UNIT_CODES[code]
  const wanted = field.unit === 'energy' ? ['energy-wh', 'energy-j'] : [field.unit]
  const quantity = quantityOf(field, heat, unit?.family)
  if (!unit || !wanted.includes(unit.family)) {
    return { quantity, code: 'EDGE_ERR_UNIT', message: `unit code ${code.toString(16).padStart(2, '0').toUpperCase()} is not a ${field.unit} unit` }
  }
  if (!raw.ok) return { quantity, code: 'EDGE_ERR_BCD', message: raw.message }
  let value = raw.value * unit.factor
  if (quantity === 'heat_gj' && unit.family === 'energy-wh') value *= GJ_PER_KWH
  if (quantity === 'heat_kwh' && unit.family === 'energy-j') value /= GJ_PER_KWH
  return { quantity, value }
}

/** Decodes the data after DI and SER; each field on its own, so one bad field spoils only itself. */
export function decodeReading(layout: Layout, data: Uint8Array, heat: HeatQuantity, where: string): DecodedReading {
  const out: DecodedReading = { values: {}, quality: {}, errors: [], status: (data[layout.statusOffset] ?? 0) | ((data[layout.statusOffset + 1] ?? 0) << 8) }
  for (const field of layout.fields) {
    const r = decodeField(field, data, heat)
    if ('value' in r) {
      out.values[r.quantity] = r.value
    } else {
      out.quality[r.quantity] = 'bad'
      out.errors.push({ point: r.quantity, code: r.code, message: `${where} offset ${field.offset}: ${r.message}` })
    }
  }
  return out
}

/** Whether a meter's valve bits mean anything: `none` for meters without a valve (their D1–D0 stay 00, "open"). */
export type ValveReport = 'report' | 'none'

/** The quantities the status bytes are published as. */
export const STATUS_QUANTITIES = ['valve_state', 'battery_low', 'meter_status_word'] as const

/**
 * The status bytes as values: ST1 D1–D0 the valve (00 open, 01 closed, 11 abnormal; 10 is not
 * defined), D2 the battery (1: voltage low), D3–D7 and ST2 manufacturer-defined — published whole as
 * `meter_status_word` so a plant can watch its own meters' bits. An abnormal or undefined valve
 * state is `valve_state` bad, never a guessed position. (Public summaries of CJ/T 188-2004, see
 * edge-agent/README.md; some vendors' firmware is said to put these bits elsewhere: check the manual.)
 */
export function statusReading(status: number, valve: ValveReport, where: string): Omit<DecodedReading, 'status'> {
  const out: Omit<DecodedReading, 'status'> = {
    values: { battery_low: (status >> 2) & 1, meter_status_word: status },
    quality: {},
    errors: [],
  }
  if (valve === 'none') return out
  const bits = status & 0x03
  if (bits <= 1) out.values.valve_state = bits
  else {
    out.quality.valve_state = 'bad'
    out.errors.push({
      point: 'valve_state',
      code: 'EDGE_ERR_METER_STATUS',
      message: `${where}: ${bits === 3 ? 'valve abnormal' : 'valve bits 10 (not defined)'} (status ${status.toString(16).padStart(4, '0')})`,
    })
  }
  return out
}
