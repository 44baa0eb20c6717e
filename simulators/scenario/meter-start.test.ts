import { describe, expect, it } from 'vitest'
import type { MeterProfileId } from '../meters/index.ts'
import { meterStart } from './meter-start.ts'
import type { ScenarioMeter } from './model.ts'

const meter = (profile: MeterProfileId, ctRatio?: number): ScenarioMeter => ({
  address: { enterprise: 'e', site: 's', line: 'l', device: 'm' },
  key: 'e/s/l/m',
  role: 'main',
  name: 'm',
  profile,
  ratedKw: 400,
  seed: 1,
  transport: 'tcp',
  host: '127.0.0.1',
  port: 0,
  unitId: 1,
  baudRate: 9600,
  endpoint: 'line:e/s/l',
  startEnergyKwh: 5000,
  ...(ctRatio ? { ctRatio } : {}),
  powerKw: () => 100,
  powerFactor: () => 0.9,
})

describe('meterStart', () => {
  it("takes the scenario's start energy without readings", () => {
    expect(meterStart(meter('eastron-sdm630'), undefined)).toEqual({ startEnergyKwh: 5000 })
  })

  it('raises a reading to the next value the register map serves', () => {
    // float32 kWh: 1234567.3 lies between 1234567.25 and 1234567.375; never serve below the reading.
    expect(meterStart(meter('eastron-sdm630'), { energy_import_kwh: 1234567.3 })).toEqual({ startEnergyKwh: 1234567.375 })
    // ADL400 primary: uint32 × 0.1 kWh.
    expect(meterStart(meter('acrel-adl400-primary'), { energy_import_kwh: 1234.56 }).startEnergyKwh).toBeCloseTo(1234.6, 9)
    // ADL400 secondary side: uint32 × 0.01 kWh × CT 100 = 1 kWh steps.
    expect(meterStart(meter('acrel-adl400-secondary', 100), { energy_import_kwh: 1234.5678 })).toEqual({ startEnergyKwh: 1235 })
  })

  it('takes import as total − export, and keeps the scenario start when only export is given', () => {
    expect(meterStart(meter('eastron-sdm630'), { energy_total_kwh: 1000.5, energy_export_kwh: 0.5 })).toEqual({ startEnergyKwh: 1000, startExportKwh: 0.5 })
    expect(meterStart(meter('eastron-sdm630'), { energy_export_kwh: 10.1 })).toEqual({ startEnergyKwh: 5000, startExportKwh: Math.fround(10.1) })
  })
})
