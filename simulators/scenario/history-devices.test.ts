import { describe, expect, it } from 'vitest'
import { HOUR_MS } from '../../core/duration.ts'
import { FaultBook } from '../faults.ts'
import { createHistoryDevices, finalCounters, meterHistoryDevice, productionHistoryDevice } from './history-devices.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'

const T0 = Date.UTC(2026, 0, 5, 2)
const meter: ScenarioMeter = {
  address: { enterprise: 'e', site: 's', line: 'l', device: 'main' },
  key: 'e/s/l/main',
  role: 'main',
  name: 'main',
  profile: 'eastron-sdm630',
  ratedKw: 400,
  seed: 3,
  transport: 'tcp',
  host: '127.0.0.1',
  port: 0,
  unitId: 1,
  baudRate: 9600,
  endpoint: 'line:e/s/l',
  startEnergyKwh: 5000,
  powerKw: () => 360,
  powerFactor: () => 0.9,
}
const production = (quantity: 'output_t' | 'output_count'): ScenarioProduction => ({
  address: { enterprise: 'e', site: 's', line: 'l', device: 'plc' },
  key: 'e/s/l/plc',
  productId: 'p',
  quantity,
  secKwhPerUnit: 100,
  ratePerHour: () => 1.23456,
})
const faults = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set(['e/s/l/main', 'e/s/l/plc']) })
const plain = faults.createPresenter('none', [])

describe('meterHistoryDevice', () => {
  it('integrates energy from the scenario start (or total − export) and writes only its fields', () => {
    const d = meterHistoryDevice(meter, undefined, ['active_power_kw', 'energy_import_kwh'], plain, 'Asia/Shanghai')
    d.update(T0)
    d.update(T0 + HOUR_MS)
    expect(Object.keys(d.values())).toEqual(['active_power_kw', 'energy_import_kwh'])
    expect(d.values().energy_import_kwh).toBeCloseTo(5360, 6)
    expect(d.counterValues()).toEqual({ energy_import_kwh: d.values().energy_import_kwh, energy_export_kwh: 0, energy_total_kwh: d.values().energy_import_kwh })
    const resumed = meterHistoryDevice(meter, { energy_total_kwh: 100, energy_export_kwh: 30 }, ['energy_import_kwh'], plain, 'Asia/Shanghai')
    resumed.update(T0)
    expect(resumed.counterValues()).toEqual({ energy_import_kwh: 70, energy_export_kwh: 30, energy_total_kwh: 100 })
    expect([d.key, d.tags, d.seq, d.counters]).toEqual(['e/s/l/main', { ...meter.address }, 0, ['energy_import_kwh', 'energy_export_kwh', 'energy_total_kwh']])
  })
})

describe('productionHistoryDevice', () => {
  it('counts tonnes to the kilogram and parts whole', () => {
    const t = productionHistoryDevice(production('output_t'), { output_t: 10 }, plain)
    const n = productionHistoryDevice(production('output_count'), undefined, plain)
    for (const d of [t, n]) for (const h of [0, 1, 2]) d.update(T0 + h * HOUR_MS)
    expect(t.values()).toEqual({ output_t: 12.469 }) // 10 + 2 × 1.23456
    expect(t.counterValues()).toEqual({ output_t: 12.469 })
    expect(n.values()).toEqual({ output_count: 2 })
  })
})

describe('createHistoryDevices and finalCounters', () => {
  it('makes meters then production counters, and reads the counters with resets applied', () => {
    const book = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set(['e/s/l/main', 'e/s/l/plc']) })
    book.inject({ device: 'e/s/l/plc', kind: 'counter_reset', start: new Date(T0 + HOUR_MS).toISOString() })
    const devices = createHistoryDevices(
      { meters: [meter], production: [production('output_t')] },
      { timezone: 'Asia/Shanghai', fields: ['energy_import_kwh'], faults: book, initial: new Map([['e/s/l/plc', { output_t: 10 }]]), resumed: () => ({}) },
    )
    expect(devices.map((d) => d.key)).toEqual(['e/s/l/main', 'e/s/l/plc'])
    for (const h of [0, 1, 2]) for (const d of devices) d.update(T0 + h * HOUR_MS)
    // The reset at T0 + 1 h restarts the PLC from its count then (11.235 t).
    devices[1]!.present({ output_t: 11.235 }, T0 + HOUR_MS)
    const counters = finalCounters(devices, T0 + 2 * HOUR_MS)
    expect(counters.get('e/s/l/plc')).toEqual({ output_t: 12.469 - 11.235 })
    expect(counters.get('e/s/l/main')!.energy_import_kwh).toBeCloseTo(5720, 6)
  })
})
