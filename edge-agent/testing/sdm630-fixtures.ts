/**
 * Literal input-register words of an Eastron SDM630 (float32, ABCD), written from IEEE 754 tables,
 * and the values the shipped profile must publish for them (W/var/VA already in k-units).
 */
export const SDM630_WORDS: Record<number, number> = {
  0x00: 0x4366,
  0x01: 0x0000, // V L1 230.0
  0x02: 0x4367,
  0x03: 0x0000, // V L2 231.0
  0x04: 0x4368,
  0x05: 0x0000, // V L3 232.0
  0x06: 0x4128,
  0x07: 0x0000, // I L1 10.5
  0x08: 0x41ca,
  0x09: 0x0000, // I L2 25.25
  0x0a: 0x42c8,
  0x0b: 0x0000, // I L3 100.0
  0x0c: 0x4500,
  0x0d: 0x0000, // P L1 2048 W
  0x0e: 0x447a,
  0x0f: 0x0000, // P L2 1000 W
  0x10: 0xc461,
  0x11: 0x0000, // P L3 -900 W
  0x1e: 0x3f00,
  0x1f: 0x0000, // PF L1 0.5
  0x20: 0xbf00,
  0x21: 0x0000, // PF L2 -0.5
  0x22: 0x3f80,
  0x23: 0x0000, // PF L3 1.0
  0x34: 0x4580,
  0x35: 0x0000, // P total 4096 W
  0x38: 0x4561,
  0x39: 0x0000, // VA total 3600
  0x3c: 0x44bb,
  0x3d: 0x8000, // var total 1500
  0x3e: 0x3f40,
  0x3f: 0x0000, // PF total 0.75
  0x46: 0x4248,
  0x47: 0x0000, // 50.0 Hz
  0x48: 0x449a,
  0x49: 0x5000, // import 1234.5 kWh
  0x4a: 0x41ca,
  0x4b: 0x0000, // export 25.25 kWh
  0x4c: 0x43fa,
  0x4d: 0x0000, // import 500.0 kvarh
  0x4e: 0x4148,
  0x4f: 0x0000, // export 12.5 kvarh
  0x156: 0x449d,
  0x157: 0x7800, // total 1259.75 kWh
}

export const SDM630_VALUES: Record<string, number> = {
  voltage_l1_v: 230,
  voltage_l2_v: 231,
  voltage_l3_v: 232,
  current_l1_a: 10.5,
  current_l2_a: 25.25,
  current_l3_a: 100,
  active_power_l1_kw: 2.048,
  active_power_l2_kw: 1,
  active_power_l3_kw: -0.9,
  power_factor_l1: 0.5,
  power_factor_l2: -0.5,
  power_factor_l3: 1,
  active_power_kw: 4.096,
  apparent_power_kva: 3.6,
  reactive_power_kvar: 1.5,
  power_factor: 0.75,
  frequency_hz: 50,
  energy_import_kwh: 1234.5,
  energy_export_kwh: 25.25,
  energy_total_kwh: 1259.75,
  reactive_energy_import_kvarh: 500,
  reactive_energy_export_kvarh: 12.5,
}

/** Compares numerically with float tolerance (scaling by 0.001 is not exact in binary). */
export function closeTo(actual: Record<string, number>, expected: Record<string, number>): string[] {
  const diffs: string[] = []
  for (const [k, v] of Object.entries(expected)) {
    const a = actual[k]
    if (a === undefined || Math.abs(a - v) > 1e-9 * Math.max(1, Math.abs(v))) diffs.push(`${k}: expected ${v}, got ${a}`)
  }
  for (const k of Object.keys(actual)) if (!(k in expected)) diffs.push(`${k}: unexpected value ${actual[k]}`)
  return diffs
}
