/**
 * Canonical quantities: the only value names that travel on the wire, are stored, and are read by
 * analytics. Profiles map device registers/nodes onto these names. The unit is part of the name.
 * `min`/`max` are physical plausibility limits: a value outside them is dead-lettered by ingest.
 */
export interface QuantityInfo {
  unit: string
  description: string
  min: number
  max: number
  /** Cumulative counters only grow (except on reset/rollover): analytics differentiate them. */
  cumulative?: boolean
}

const LARGE = 1e12

export const QUANTITIES = {
  voltage_l1_v: { unit: 'V', description: 'phase L1 to neutral voltage', min: 0, max: 1e6 },
  voltage_l2_v: { unit: 'V', description: 'phase L2 to neutral voltage', min: 0, max: 1e6 },
  voltage_l3_v: { unit: 'V', description: 'phase L3 to neutral voltage', min: 0, max: 1e6 },
  voltage_l12_v: { unit: 'V', description: 'line L1-L2 voltage', min: 0, max: 1e6 },
  voltage_l23_v: { unit: 'V', description: 'line L2-L3 voltage', min: 0, max: 1e6 },
  voltage_l31_v: { unit: 'V', description: 'line L3-L1 voltage', min: 0, max: 1e6 },
  current_l1_a: { unit: 'A', description: 'phase L1 current', min: -1e6, max: 1e6 },
  current_l2_a: { unit: 'A', description: 'phase L2 current', min: -1e6, max: 1e6 },
  current_l3_a: { unit: 'A', description: 'phase L3 current', min: -1e6, max: 1e6 },
  active_power_kw: { unit: 'kW', description: 'total active power', min: -1e7, max: 1e7 },
  active_power_l1_kw: { unit: 'kW', description: 'phase L1 active power', min: -1e7, max: 1e7 },
  active_power_l2_kw: { unit: 'kW', description: 'phase L2 active power', min: -1e7, max: 1e7 },
  active_power_l3_kw: { unit: 'kW', description: 'phase L3 active power', min: -1e7, max: 1e7 },
  reactive_power_kvar: { unit: 'kvar', description: 'total reactive power', min: -1e7, max: 1e7 },
  apparent_power_kva: { unit: 'kVA', description: 'total apparent power', min: 0, max: 1e7 },
  power_factor: { unit: '1', description: 'total power factor (signed)', min: -1, max: 1 },
  power_factor_l1: { unit: '1', description: 'phase L1 power factor', min: -1, max: 1 },
  power_factor_l2: { unit: '1', description: 'phase L2 power factor', min: -1, max: 1 },
  power_factor_l3: { unit: '1', description: 'phase L3 power factor', min: -1, max: 1 },
  frequency_hz: { unit: 'Hz', description: 'grid frequency', min: 0, max: 1000 },
  energy_import_kwh: { unit: 'kWh', description: 'imported active energy counter', min: 0, max: LARGE, cumulative: true },
  energy_export_kwh: { unit: 'kWh', description: 'exported active energy counter', min: 0, max: LARGE, cumulative: true },
  energy_total_kwh: { unit: 'kWh', description: 'total (import + export) active energy counter', min: 0, max: LARGE, cumulative: true },
  // Per tariff period (DL/T 645 tariffs 1–4, as programmed in the meter: commonly sharp, peak, flat, valley) and maximum demand.
  energy_import_tariff1_kwh: { unit: 'kWh', description: 'imported active energy counter, tariff 1', min: 0, max: LARGE, cumulative: true },
  energy_import_tariff2_kwh: { unit: 'kWh', description: 'imported active energy counter, tariff 2', min: 0, max: LARGE, cumulative: true },
  energy_import_tariff3_kwh: { unit: 'kWh', description: 'imported active energy counter, tariff 3', min: 0, max: LARGE, cumulative: true },
  energy_import_tariff4_kwh: { unit: 'kWh', description: 'imported active energy counter, tariff 4', min: 0, max: LARGE, cumulative: true },
  energy_export_tariff1_kwh: { unit: 'kWh', description: 'exported active energy counter, tariff 1', min: 0, max: LARGE, cumulative: true },
  energy_export_tariff2_kwh: { unit: 'kWh', description: 'exported active energy counter, tariff 2', min: 0, max: LARGE, cumulative: true },
  energy_export_tariff3_kwh: { unit: 'kWh', description: 'exported active energy counter, tariff 3', min: 0, max: LARGE, cumulative: true },
  energy_export_tariff4_kwh: { unit: 'kWh', description: 'exported active energy counter, tariff 4', min: 0, max: LARGE, cumulative: true },
  max_demand_import_kw: { unit: 'kW', description: "imported active maximum demand of the meter's current billing period", min: 0, max: 1e7 },
  gas_m3: { unit: 'm3', description: 'natural gas volume counter', min: 0, max: LARGE, cumulative: true },
  steam_t: { unit: 't', description: 'steam mass counter', min: 0, max: LARGE, cumulative: true },
  water_m3: { unit: 'm3', description: 'water volume counter', min: 0, max: LARGE, cumulative: true },
  output_count: { unit: 'pcs', description: 'production counter (parts)', min: 0, max: LARGE, cumulative: true },
  output_t: { unit: 't', description: 'production counter (mass)', min: 0, max: LARGE, cumulative: true },
  machine_state: { unit: 'enum', description: '0 stopped, 1 idle, 2 running, 3 fault', min: 0, max: 3 },
  temperature_c: { unit: '°C', description: 'temperature', min: -273.15, max: 3000 },
  // Heat and flow (CJ/T 188 heat, water and gas meters).
  heat_kwh: { unit: 'kWh', description: 'heat energy counter (heat meter), kWh', min: 0, max: LARGE, cumulative: true },
  heat_gj: { unit: 'GJ', description: 'heat energy counter (heat meter), GJ', min: 0, max: LARGE, cumulative: true },
  heat_power_kw: { unit: 'kW', description: 'thermal power (heat meter)', min: -1e7, max: 1e7 },
  heat_volume_m3: {
    unit: 'm3',
    description: 'heat-transfer fluid volume counter through a heat meter (circulation, not consumption)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  flow_m3h: { unit: 'm3/h', description: 'instantaneous volume flow', min: -1e7, max: 1e7 },
  supply_temp_c: { unit: '°C', description: 'supply (flow) temperature', min: -273.15, max: 1000 },
  return_temp_c: { unit: '°C', description: 'return temperature', min: -273.15, max: 1000 },
  // Energy carriers and energy-carrying working media as counters (GB/T 2589; issue 15).
  coal_t: { unit: 't', description: 'raw coal mass counter', min: 0, max: LARGE, cumulative: true },
  coke_t: { unit: 't', description: 'coke mass counter', min: 0, max: LARGE, cumulative: true },
  fuel_oil_t: { unit: 't', description: 'fuel oil mass counter', min: 0, max: LARGE, cumulative: true },
  diesel_t: { unit: 't', description: 'diesel mass counter', min: 0, max: LARGE, cumulative: true },
  oxygen_m3: { unit: 'm3', description: 'oxygen volume counter', min: 0, max: LARGE, cumulative: true },
  compressed_air_m3: { unit: 'm3', description: 'compressed air volume counter', min: 0, max: LARGE, cumulative: true },
  // Meter status (CJ/T 188 water, gas and heat meters: ST1 ST2 of a 901F reply).
  valve_state: {
    unit: 'enum',
    description: "the meter's valve: 0 open, 1 closed (CJ/T 188 ST1 D1–D0 00 / 01; 11 abnormal is bad quality)",
    min: 0,
    max: 1,
  },
  battery_low: { unit: 'enum', description: "the meter's battery: 0 normal, 1 voltage low (CJ/T 188 ST1 D2)", min: 0, max: 1 },
  meter_status_word: {
    unit: 'bits',
    description: 'status bits as the meter sends them (CJ/T 188: ST1 | ST2 << 8; ST1 D3–D7 and ST2 are manufacturer-defined)',
    min: 0,
    max: 0xffff,
  },
  // Reactive energy registers (DL/T 645 combined reactive 1 / 2).
  reactive_energy_import_kvarh: { unit: 'kvarh', description: 'imported (combined reactive 1) reactive energy counter', min: 0, max: LARGE, cumulative: true },
  reactive_energy_export_kvarh: { unit: 'kvarh', description: 'exported (combined reactive 2) reactive energy counter', min: 0, max: LARGE, cumulative: true },
  reactive_energy_import_tariff1_kvarh: {
    unit: 'kvarh',
    description: 'imported reactive energy counter, tariff 1 (DL/T 645-2007 combined reactive 1, -1997 forward reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_import_tariff2_kvarh: {
    unit: 'kvarh',
    description: 'imported reactive energy counter, tariff 2 (DL/T 645-2007 combined reactive 1, -1997 forward reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_import_tariff3_kvarh: {
    unit: 'kvarh',
    description: 'imported reactive energy counter, tariff 3 (DL/T 645-2007 combined reactive 1, -1997 forward reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_import_tariff4_kvarh: {
    unit: 'kvarh',
    description: 'imported reactive energy counter, tariff 4 (DL/T 645-2007 combined reactive 1, -1997 forward reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_export_tariff1_kvarh: {
    unit: 'kvarh',
    description: 'exported reactive energy counter, tariff 1 (DL/T 645-2007 combined reactive 2, -1997 reverse reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_export_tariff2_kvarh: {
    unit: 'kvarh',
    description: 'exported reactive energy counter, tariff 2 (DL/T 645-2007 combined reactive 2, -1997 reverse reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_export_tariff3_kvarh: {
    unit: 'kvarh',
    description: 'exported reactive energy counter, tariff 3 (DL/T 645-2007 combined reactive 2, -1997 reverse reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
  reactive_energy_export_tariff4_kvarh: {
    unit: 'kvarh',
    description: 'exported reactive energy counter, tariff 4 (DL/T 645-2007 combined reactive 2, -1997 reverse reactive)',
    min: 0,
    max: LARGE,
    cumulative: true,
  },
} as const satisfies Record<string, QuantityInfo>

export type Quantity = keyof typeof QUANTITIES
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[]

export function isQuantity(name: string): name is Quantity {
  return Object.hasOwn(QUANTITIES, name)
}

export function quantityInfo(name: Quantity): QuantityInfo {
  return QUANTITIES[name]
}
