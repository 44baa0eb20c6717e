import type { RegisterField } from '../modbus/registers.ts'
import type { MeterFrame, MeterProfile } from './profile.ts'

// CHINT DTSU666 communication table (DOMAIN.md): every measurement is an IEEE 754 float32 over two
// registers, high word first, holding a *scaled* number — the register holds value / scale, e.g.
// 0x2006 Ua = 2301.5 for 230.15 V (×0.1 V), 0x2012 Pt in 0.1 W. Most tools read it with FC 03; the
// meter answers FC 04 with the same map, so both spaces serve it.
//
// Energy: the address of the energy block differs between firmware. This profile follows the
// firmware whose forward (import) active energy ImpEp is the float32 kWh at 0x101E; no other energy
// register is served, so a client expecting another firmware's block gets exception 02.
const f = (address: number, name: string, scale: number, value: (m: MeterFrame) => number): RegisterField<MeterFrame> => ({
  address,
  name,
  type: 'float32',
  scale,
  value,
})
const v = (m: MeterFrame) => m.reading.values

const measurements: RegisterField<MeterFrame>[] = [
  f(0x101e, 'ImpEp forward active energy (kWh)', 1, (m) => v(m).energy_import_kwh),
  f(0x2000, 'Uab line voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l12_v),
  f(0x2002, 'Ubc line voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l23_v),
  f(0x2004, 'Uca line voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l31_v),
  f(0x2006, 'Ua phase voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l1_v),
  f(0x2008, 'Ub phase voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l2_v),
  f(0x200a, 'Uc phase voltage (×0.1 V)', 0.1, (m) => v(m).voltage_l3_v),
  f(0x200c, 'Ia current (×0.001 A)', 0.001, (m) => v(m).current_l1_a),
  f(0x200e, 'Ib current (×0.001 A)', 0.001, (m) => v(m).current_l2_a),
  f(0x2010, 'Ic current (×0.001 A)', 0.001, (m) => v(m).current_l3_a),
  f(0x2012, 'Pt total active power (×0.1 W)', 0.1, (m) => v(m).active_power_kw * 1000),
  f(0x2014, 'Pa active power (×0.1 W)', 0.1, (m) => v(m).active_power_l1_kw * 1000),
  f(0x2016, 'Pb active power (×0.1 W)', 0.1, (m) => v(m).active_power_l2_kw * 1000),
  f(0x2018, 'Pc active power (×0.1 W)', 0.1, (m) => v(m).active_power_l3_kw * 1000),
  f(0x201a, 'Qt total reactive power (×0.1 var)', 0.1, (m) => v(m).reactive_power_kvar * 1000),
  f(0x202a, 'PFt total power factor (×0.001)', 0.001, (m) => v(m).power_factor),
  f(0x2044, 'Freq frequency (×0.01 Hz)', 0.01, (m) => v(m).frequency_hz),
]

// Settings: IrAt (CT ratio) at 6 and UrAt (PT ratio) at 7, int16 in steps of 0.1 as the table
// gives them. The served values above are primary-side (the meter applies the ratios itself).
const settings: RegisterField<MeterFrame>[] = [
  { address: 0x0006, name: 'IrAt current transformer ratio (×0.1)', type: 'int16', scale: 0.1, value: (m) => m.ctRatio },
  { address: 0x0007, name: 'UrAt voltage transformer ratio (×0.1)', type: 'int16', scale: 0.1, value: (m) => m.ptRatio },
]

export const chintDtsu666: MeterProfile = {
  id: 'chint-dtsu666',
  description: 'CHINT DTSU666 three-phase meter (Modbus, scaled float32; energy block of the 0x101E firmware)',
  source: 'CHINT DTSU666 communication address table: 0x2000–0x2044 measurements, 0x0006/0x0007 ratios, 0x101E ImpEp',
  input: measurements,
  holding: [...settings, ...measurements],
}
