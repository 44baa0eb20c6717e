import { describe, expect, it } from 'vitest'
import { decodePayload } from './payload.ts'
import { scanPayload } from './payload-scan.ts'
import { isQuantity, QUANTITIES, QUANTITY_NAMES, quantityInfo, type QuantityInfo } from './quantities.ts'

const TS = 1_764_385_200_000

/** The unit each name suffix stands for: the unit is part of the name. */
const SUFFIX_UNITS: Record<string, string> = {
  _kwh: 'kWh',
  _gj: 'GJ',
  _kw: 'kW',
  _m3: 'm3',
  _m3h: 'm3/h',
  _c: '°C',
  _t: 't',
  _kvarh: 'kvarh',
  _v: 'V',
  _a: 'A',
  _hz: 'Hz',
}

describe('canonical quantities', () => {
  it('the quantities for heat, flow, fuels, working media and reactive energy are there with their units and kind', () => {
    const expected: Record<string, { unit: string; cumulative: boolean }> = {
      heat_kwh: { unit: 'kWh', cumulative: true },
      heat_gj: { unit: 'GJ', cumulative: true },
      heat_power_kw: { unit: 'kW', cumulative: false },
      heat_volume_m3: { unit: 'm3', cumulative: true },
      flow_m3h: { unit: 'm3/h', cumulative: false },
      supply_temp_c: { unit: '°C', cumulative: false },
      return_temp_c: { unit: '°C', cumulative: false },
      coal_t: { unit: 't', cumulative: true },
      coke_t: { unit: 't', cumulative: true },
      fuel_oil_t: { unit: 't', cumulative: true },
      diesel_t: { unit: 't', cumulative: true },
      steam_t: { unit: 't', cumulative: true },
      gas_m3: { unit: 'm3', cumulative: true },
      oxygen_m3: { unit: 'm3', cumulative: true },
      compressed_air_m3: { unit: 'm3', cumulative: true },
      reactive_energy_import_kvarh: { unit: 'kvarh', cumulative: true },
      reactive_energy_export_kvarh: { unit: 'kvarh', cumulative: true },
    }
    for (const [name, want] of Object.entries(expected)) {
      expect(isQuantity(name), name).toBe(true)
      const info = quantityInfo(name as keyof typeof QUANTITIES) as QuantityInfo
      expect({ unit: info.unit, cumulative: info.cumulative === true }, name).toEqual(want)
    }
  })

  it('every name ends in its unit, counters start at 0, and every range is a real interval', () => {
    for (const name of QUANTITY_NAMES) {
      const info: QuantityInfo = QUANTITIES[name]
      expect(info.min, name).toBeLessThan(info.max)
      if (info.cumulative) expect(info.min, name).toBe(0)
      const suffix = Object.keys(SUFFIX_UNITS)
        .filter((s) => name.endsWith(s))
        .sort((a, b) => b.length - a.length)[0]
      if (suffix !== undefined) expect(info.unit, name).toBe(SUFFIX_UNITS[suffix])
    }
    expect(new Set(QUANTITY_NAMES).size).toBe(QUANTITY_NAMES.length)
  })

  it('the decoder and the fast scanner accept the new names within range and refuse them beyond', () => {
    const raw = (v: string) => `{"seq":1,"samples":[{"ts":${TS},"values":{${v}}}]}`
    const good = raw('"heat_gj":1234.56,"supply_temp_c":85.5,"return_temp_c":-5,"flow_m3h":12.25,"coal_t":10,"reactive_energy_export_kvarh":3')
    expect(decodePayload(good).samples[0]?.values).toEqual({
      heat_gj: 1234.56,
      supply_temp_c: 85.5,
      return_temp_c: -5,
      flow_m3h: 12.25,
      coal_t: 10,
      reactive_energy_export_kvarh: 3,
    })
    expect(scanPayload(Buffer.from(good))?.fields).toEqual([
      'heat_gj=1234.56,supply_temp_c=85.5,return_temp_c=-5,flow_m3h=12.25,coal_t=10,reactive_energy_export_kvarh=3',
    ])
    for (const bad of ['"heat_kwh":-1', '"supply_temp_c":1001', '"oxygen_m3":-0.5']) {
      expect(() => decodePayload(raw(bad)), bad).toThrow()
      expect(scanPayload(Buffer.from(raw(bad))), bad).toBeUndefined()
    }
  })
})
