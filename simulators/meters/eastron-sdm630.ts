import type { RegisterField } from '../modbus/registers.ts'
import type { MeterFrame, MeterProfile } from './profile.ts'

// Eastron SDM630 Modbus Protocol (input registers 3xxxx, holding 4xxxx): every parameter is an
// IEEE 754 float32 over two registers, high word first (ABCD), in SI units with no scaling, so
// powers are W / var / VA and energies kWh / kvarh. Address = reference number − 30001 (or 40001).
const f = (address: number, name: string, value: (m: MeterFrame) => number): RegisterField<MeterFrame> => ({ address, name, type: 'float32', value })

const input: RegisterField<MeterFrame>[] = [
  f(0x00, 'Phase 1 line to neutral volts (V)', (m) => m.reading.values.voltage_l1_v),
  f(0x02, 'Phase 2 line to neutral volts (V)', (m) => m.reading.values.voltage_l2_v),
  f(0x04, 'Phase 3 line to neutral volts (V)', (m) => m.reading.values.voltage_l3_v),
  f(0x06, 'Phase 1 current (A)', (m) => m.reading.values.current_l1_a),
  f(0x08, 'Phase 2 current (A)', (m) => m.reading.values.current_l2_a),
  f(0x0a, 'Phase 3 current (A)', (m) => m.reading.values.current_l3_a),
  f(0x0c, 'Phase 1 power (W)', (m) => m.reading.values.active_power_l1_kw * 1000),
  f(0x0e, 'Phase 2 power (W)', (m) => m.reading.values.active_power_l2_kw * 1000),
  f(0x10, 'Phase 3 power (W)', (m) => m.reading.values.active_power_l3_kw * 1000),
  f(0x12, 'Phase 1 volt amps (VA)', (m) => m.reading.extra.apparent_power_l1_kva * 1000),
  f(0x14, 'Phase 2 volt amps (VA)', (m) => m.reading.extra.apparent_power_l2_kva * 1000),
  f(0x16, 'Phase 3 volt amps (VA)', (m) => m.reading.extra.apparent_power_l3_kva * 1000),
  f(0x18, 'Phase 1 volt amps reactive (var)', (m) => m.reading.extra.reactive_power_l1_kvar * 1000),
  f(0x1a, 'Phase 2 volt amps reactive (var)', (m) => m.reading.extra.reactive_power_l2_kvar * 1000),
  f(0x1c, 'Phase 3 volt amps reactive (var)', (m) => m.reading.extra.reactive_power_l3_kvar * 1000),
  f(0x1e, 'Phase 1 power factor', (m) => m.reading.values.power_factor_l1),
  f(0x20, 'Phase 2 power factor', (m) => m.reading.values.power_factor_l2),
  f(0x22, 'Phase 3 power factor', (m) => m.reading.values.power_factor_l3),
  f(0x2a, 'Average line to neutral volts (V)', (m) => (m.reading.values.voltage_l1_v + m.reading.values.voltage_l2_v + m.reading.values.voltage_l3_v) / 3),
  f(0x2e, 'Average line current (A)', (m) => (m.reading.values.current_l1_a + m.reading.values.current_l2_a + m.reading.values.current_l3_a) / 3),
  f(0x30, 'Sum of line currents (A)', (m) => m.reading.values.current_l1_a + m.reading.values.current_l2_a + m.reading.values.current_l3_a),
  f(0x34, 'Total system power (W)', (m) => m.reading.values.active_power_kw * 1000),
  f(0x38, 'Total system volt amps (VA)', (m) => m.reading.values.apparent_power_kva * 1000),
  f(0x3c, 'Total system VAr (var)', (m) => m.reading.values.reactive_power_kvar * 1000),
  f(0x3e, 'Total system power factor', (m) => m.reading.values.power_factor),
  f(0x46, 'Frequency of supply voltages (Hz)', (m) => m.reading.values.frequency_hz),
  f(0x48, 'Import active energy (kWh)', (m) => m.reading.values.energy_import_kwh),
  f(0x4a, 'Export active energy (kWh)', (m) => m.reading.values.energy_export_kwh),
  f(0x4c, 'Import reactive energy (kvarh)', (m) => m.reading.extra.reactive_energy_import_kvarh),
  f(0x4e, 'Export reactive energy (kvarh)', (m) => m.reading.extra.reactive_energy_export_kvarh),
  f(0xc8, 'Line 1 to line 2 volts (V)', (m) => m.reading.values.voltage_l12_v),
  f(0xca, 'Line 2 to line 3 volts (V)', (m) => m.reading.values.voltage_l23_v),
  f(0xcc, 'Line 3 to line 1 volts (V)', (m) => m.reading.values.voltage_l31_v),
  f(0xce, 'Average line to line volts (V)', (m) => (m.reading.values.voltage_l12_v + m.reading.values.voltage_l23_v + m.reading.values.voltage_l31_v) / 3),
  f(0xe0, 'Neutral current (A)', (m) => m.reading.extra.current_n_a),
  f(0x156, 'Total active energy (kWh)', (m) => m.reading.values.energy_total_kwh),
  f(0x158, 'Total reactive energy (kvarh)', (m) => m.reading.extra.reactive_energy_total_kvarh),
]

// Holding registers: the meter's settings, answered with the factory defaults of a three-phase
// four-wire meter; writes are not simulated yet.
const holding: RegisterField<MeterFrame>[] = [
  f(0x02, 'Demand period (min)', () => 60),
  f(0x0a, 'System type (3 = 3P4W)', () => 3),
  f(0x0c, 'Pulse 1 width (ms)', () => 100),
  f(0x12, 'Network parity stop (0 = 1 stop bit, no parity)', () => 0),
  f(0x14, 'Network node (Modbus address)', (m) => m.unitId),
  f(0x1c, 'Network baud rate (2 = 9600)', () => 2),
]

export const eastronSdm630: MeterProfile = {
  id: 'eastron-sdm630',
  description: 'Eastron SDM630 three-phase multifunction meter (Modbus, float32 SI values)',
  source: 'Eastron SDM630 Modbus Protocol: input registers 30001–30345, holding registers 40003–40029',
  // Integrations bulk-read SDM meters across the gaps of the input map (up to 80 registers at a
  // time), so the gaps read as zeros rather than failing the whole read.
  gaps: 'zero',
  input,
  holding,
}
