import type { RegisterField, RegisterType } from '../modbus/registers.ts'
import type { MeterFrame, MeterProfile } from './profile.ts'

// Acrel ADL400 guide-rail meter, holding registers (FC 03), big-endian (ABCD), from the vendor
// table in DOMAIN.md. The meter has two maps: integer registers on the secondary side of its
// transformers (the master multiplies by PT·CT from 0x8D/0x8E), and float32 registers already on
// the primary side. They are two profiles so that a client configured for one cannot pass on the other.
const v = (m: MeterFrame) => m.reading.values
const field = (address: number, name: string, type: RegisterType, scale: number, value: (m: MeterFrame) => number): RegisterField<MeterFrame> => ({
  address,
  name,
  type,
  scale,
  value,
})

// Secondary side: V / PT, A / CT, power and energy / (PT·CT).
const perV = (m: MeterFrame) => m.ptRatio
const perA = (m: MeterFrame) => m.ctRatio
const perW = (m: MeterFrame) => m.ptRatio * m.ctRatio

const secondary: RegisterField<MeterFrame>[] = [
  field(0x00, 'combined active energy (uint32, ×0.01 kWh)', 'uint32', 0.01, (m) => v(m).energy_total_kwh / perW(m)),
  field(0x0a, 'forward active energy (uint32, ×0.01 kWh)', 'uint32', 0.01, (m) => v(m).energy_import_kwh / perW(m)),
  field(0x14, 'reverse active energy (uint32, ×0.01 kWh)', 'uint32', 0.01, (m) => v(m).energy_export_kwh / perW(m)),
  field(0x61, 'Ua (uint16, ×0.1 V)', 'uint16', 0.1, (m) => v(m).voltage_l1_v / perV(m)),
  field(0x62, 'Ub (uint16, ×0.1 V)', 'uint16', 0.1, (m) => v(m).voltage_l2_v / perV(m)),
  field(0x63, 'Uc (uint16, ×0.1 V)', 'uint16', 0.1, (m) => v(m).voltage_l3_v / perV(m)),
  field(0x64, 'Ia (uint16, ×0.01 A)', 'uint16', 0.01, (m) => v(m).current_l1_a / perA(m)),
  field(0x65, 'Ib (uint16, ×0.01 A)', 'uint16', 0.01, (m) => v(m).current_l2_a / perA(m)),
  field(0x66, 'Ic (uint16, ×0.01 A)', 'uint16', 0.01, (m) => v(m).current_l3_a / perA(m)),
  field(0x77, 'frequency (uint16, ×0.01 Hz)', 'uint16', 0.01, (m) => v(m).frequency_hz),
  field(0x8d, 'PT ratio', 'uint16', 1, (m) => m.ptRatio),
  field(0x8e, 'CT ratio', 'uint16', 1, (m) => m.ctRatio),
  field(0x164, 'Pa (int32, ×0.001 kW)', 'int32', 0.001, (m) => v(m).active_power_l1_kw / perW(m)),
  field(0x166, 'Pb (int32, ×0.001 kW)', 'int32', 0.001, (m) => v(m).active_power_l2_kw / perW(m)),
  field(0x168, 'Pc (int32, ×0.001 kW)', 'int32', 0.001, (m) => v(m).active_power_l3_kw / perW(m)),
  field(0x16a, 'P total (int32, ×0.001 kW)', 'int32', 0.001, (m) => v(m).active_power_kw / perW(m)),
  field(0x172, 'Q total (int32, ×0.001 kvar)', 'int32', 0.001, (m) => v(m).reactive_power_kvar / perW(m)),
  field(0x17a, 'S total (int32, ×0.001 kVA)', 'int32', 0.001, (m) => v(m).apparent_power_kva / perW(m)),
  field(0x17f, 'PF total (int16, ×0.001)', 'int16', 0.001, (m) => v(m).power_factor),
]

const primary: RegisterField<MeterFrame>[] = [
  field(0x800, 'Ua (float, V)', 'float32', 1, (m) => v(m).voltage_l1_v),
  field(0x802, 'Ub (float, V)', 'float32', 1, (m) => v(m).voltage_l2_v),
  field(0x804, 'Uc (float, V)', 'float32', 1, (m) => v(m).voltage_l3_v),
  field(0x80c, 'Ia (float, A)', 'float32', 1, (m) => v(m).current_l1_a),
  field(0x80e, 'Ib (float, A)', 'float32', 1, (m) => v(m).current_l2_a),
  field(0x810, 'Ic (float, A)', 'float32', 1, (m) => v(m).current_l3_a),
  field(0x814, 'Pa (float, kW)', 'float32', 1, (m) => v(m).active_power_l1_kw),
  field(0x816, 'Pb (float, kW)', 'float32', 1, (m) => v(m).active_power_l2_kw),
  field(0x818, 'Pc (float, kW)', 'float32', 1, (m) => v(m).active_power_l3_kw),
  field(0x81a, 'P total (float, kW)', 'float32', 1, (m) => v(m).active_power_kw),
  field(0x822, 'Q total (float, kvar)', 'float32', 1, (m) => v(m).reactive_power_kvar),
  field(0x82a, 'S total (float, kVA)', 'float32', 1, (m) => v(m).apparent_power_kva),
  field(0x832, 'PF total (float)', 'float32', 1, (m) => v(m).power_factor),
  field(0x834, 'frequency (float, Hz)', 'float32', 1, (m) => v(m).frequency_hz),
  field(0x842, 'combined active energy (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => v(m).energy_total_kwh),
  field(0x84c, 'forward active energy (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => v(m).energy_import_kwh),
  field(0x84e, 'forward energy, critical peak (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => m.touImportKwh[0]),
  field(0x850, 'forward energy, peak (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => m.touImportKwh[1]),
  field(0x852, 'forward energy, flat (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => m.touImportKwh[2]),
  field(0x854, 'forward energy, valley (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => m.touImportKwh[3]),
  field(0x856, 'reverse active energy (uint32, ×0.1 kWh)', 'uint32', 0.1, (m) => v(m).energy_export_kwh),
]

export const acrelAdl400Secondary: MeterProfile = {
  id: 'acrel-adl400-secondary',
  description: 'Acrel ADL400 guide-rail meter, integer secondary-side map (multiply by PT·CT)',
  source: 'Acrel ADL400 Modbus table: 0x00–0x17F secondary-side integer registers, PT 0x8D, CT 0x8E',
  side: 'secondary',
  input: [],
  holding: secondary,
}

export const acrelAdl400Primary: MeterProfile = {
  id: 'acrel-adl400-primary',
  description: 'Acrel ADL400 guide-rail meter, float32 primary-side map with TOU energy',
  source: 'Acrel ADL400 Modbus table: 0x800–0x856 primary-side float32 and uint32 energy registers',
  side: 'primary',
  input: [],
  holding: primary,
}
