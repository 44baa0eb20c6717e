import { METER_PROFILES, type MeterProfileId } from './index.ts'

/** The cumulative energy counters of the meter model (load.ts), canonical names. */
export const METER_COUNTERS = ['energy_import_kwh', 'energy_export_kwh', 'energy_total_kwh'] as const
export type MeterCounter = (typeof METER_COUNTERS)[number]

/** How a counter sits in a register map: raw = kWh / (CT·PT on secondary-side maps) / scale, then encoded. */
export interface CounterEncoding {
  type: 'float32' | 'uint32'
  scale: number
}

// From the register tables in this folder (a test checks them against the served registers).
// DTSU666 serves ImpEp only: its other counters never reach a client.
const ENCODINGS: Readonly<Record<MeterProfileId, Partial<Record<MeterCounter, CounterEncoding>>>> = {
  'eastron-sdm630': {
    energy_import_kwh: { type: 'float32', scale: 1 },
    energy_export_kwh: { type: 'float32', scale: 1 },
    energy_total_kwh: { type: 'float32', scale: 1 },
  },
  'chint-dtsu666': { energy_import_kwh: { type: 'float32', scale: 1 } },
  'acrel-adl400-secondary': {
    energy_import_kwh: { type: 'uint32', scale: 0.01 },
    energy_export_kwh: { type: 'uint32', scale: 0.01 },
    energy_total_kwh: { type: 'uint32', scale: 0.01 },
  },
  'acrel-adl400-primary': {
    energy_import_kwh: { type: 'uint32', scale: 0.1 },
    energy_export_kwh: { type: 'uint32', scale: 0.1 },
    energy_total_kwh: { type: 'uint32', scale: 0.1 },
  },
}

const UINT32 = 0x100000000

/** The register encoding of a counter on a profile, or undefined when the map does not serve it. */
export function counterEncoding(profile: MeterProfileId, counter: MeterCounter): CounterEncoding | undefined {
  return ENCODINGS[profile][counter]
}

/** Smallest float32 above `x` (a float32 value). */
function nextFloat32Up(x: number): number {
  if (x === 0) return Math.fround(1.4e-45)
  const b = new DataView(new ArrayBuffer(4))
  b.setFloat32(0, x)
  const bits = b.getUint32(0)
  b.setUint32(0, x > 0 ? bits + 1 : bits - 1)
  return b.getFloat32(0)
}

/**
 * What a client decodes from the registers for a counter of `kwh` (the model's float64 value):
 * float32 rounding or the integer resolution of the map, times the scale and, on secondary-side
 * maps, CT·PT — as the edge agent computes it (raw × scale, then × ratio). Counters the profile
 * does not serve are returned unchanged.
 */
export function servedCounterKwh(profile: MeterProfileId, counter: MeterCounter, kwh: number, ratios: { ctRatio: number; ptRatio: number }): number {
  const enc = ENCODINGS[profile][counter]
  if (!enc) return kwh
  const k = METER_PROFILES[profile].side === 'secondary' ? ratios.ptRatio * ratios.ctRatio : 1
  return decoded(enc, kwh / k / enc.scale, k)
}

function decoded(enc: CounterEncoding, raw: number, k: number): number {
  const r = enc.type === 'float32' ? Math.fround(raw) : ((Math.round(raw) % UINT32) + UINT32) % UINT32
  return k === 1 ? r * enc.scale : r * enc.scale * k
}

/**
 * The counter value a meter model should start from so that what its registers serve is at least
 * `atLeastKwh` (a reading stored before, to be continued): the smallest value the map can show at or
 * above it. Within one step of the map's resolution (a float32 ulp: 4 kWh at 4·10⁷ kWh; 0.1 kWh on
 * the ADL400 primary map), so a continued counter never steps back, as a real meter's would not.
 */
export function counterStartKwh(profile: MeterProfileId, counter: MeterCounter, atLeastKwh: number, ratios: { ctRatio: number; ptRatio: number }): number {
  const enc = ENCODINGS[profile][counter]
  if (!enc || atLeastKwh <= 0) return Math.max(0, atLeastKwh)
  const k = METER_PROFILES[profile].side === 'secondary' ? ratios.ptRatio * ratios.ctRatio : 1
  let raw = enc.type === 'float32' ? Math.fround(atLeastKwh / k / enc.scale) : Math.round(atLeastKwh / k / enc.scale)
  for (let i = 0; i < 8 && decoded(enc, raw, k) < atLeastKwh; i++) raw = enc.type === 'float32' ? nextFloat32Up(raw) : raw + 1
  return raw * enc.scale * k
}

/** The smallest value a line PLC (plc.ts) serves at or above `atLeast`: a float32 for tonnes, a whole count for parts. */
export function productionStart(quantity: 'output_t' | 'output_count', atLeast: number): number {
  if (!(atLeast > 0)) return 0
  if (quantity === 'output_count') return Math.ceil(atLeast)
  const f = Math.fround(atLeast)
  return f >= atLeast ? f : nextFloat32Up(f)
}
