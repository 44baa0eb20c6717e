import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { normalizeHeader, planFromHeader } from './csv-plan.ts'
import { resolveImportOptions } from './options.ts'

const auto = resolveImportOptions({})
const layoutError = (e: unknown) => isPlantWattError(e, 'IMPORT_ERR_LAYOUT')

describe('planFromHeader', () => {
  it('detects the long layout and finds its columns case-insensitively, names trimmed', () => {
    expect(planFromHeader([' Time ', 'Device', 'QUANTITY', 'value', 'quality', 'note'], auto)).toEqual({
      layout: 'long',
      header: ['Time', 'Device', 'QUANTITY', 'value', 'quality', 'note'],
      timestamp: { name: 'Time', index: 0 },
      device: { name: 'Device', index: 1 },
      quantity: { name: 'QUANTITY', index: 2 },
      value: { name: 'value', index: 3 },
      quality: { name: 'quality', index: 4 },
      extras: [],
      meanPower: false,
    })
  })

  it('detects the interval layout from a kWh column and maps extra columns to quantities', () => {
    const options = resolveImportOptions({ device: 'meter', columns: { Gas: { quantity: 'gas_m3', scale: 1 }, PF: { quantity: 'power_factor', scale: 0.01 } } })
    expect(planFromHeader(['date', 'Usage_kWh', 'PF', 'Gas'], options)).toEqual({
      layout: 'interval',
      header: ['date', 'Usage_kWh', 'PF', 'Gas'],
      timestamp: { name: 'date', index: 0 },
      energy: { name: 'Usage_kWh', index: 1 },
      extras: [
        { name: 'Gas', index: 3, quantity: 'gas_m3', scale: 1, cumulative: true },
        { name: 'PF', index: 2, quantity: 'power_factor', scale: 0.01, cumulative: false },
      ],
      meanPower: true,
    })
  })

  it('recognises interval-start and interval-end timestamp headers and says which the stamp marks', () => {
    const options = resolveImportOptions({ device: 'meter' })
    expect(planFromHeader(['ts_start', 'kwh'], options)).toMatchObject({ timestamp: { name: 'ts_start', index: 0 }, timestampMarks: 'start', meanPower: true })
    expect(planFromHeader(['Interval_Start', 'kwh'], options)).toMatchObject({ timestamp: { name: 'Interval_Start' }, timestampMarks: 'start' })
    expect(planFromHeader(['interval_end', 'kwh'], options)).toMatchObject({ timestampMarks: 'end' })
    expect(planFromHeader(['timestamp', 'kwh'], options).timestampMarks).toBeUndefined()
    expect(planFromHeader(['ts', 'kwh'], resolveImportOptions({ device: 'meter', intervalPower: 'off' })).meanPower).toBe(false)
  })

  it('compares names normalised: case, spaces, hyphens, full-width parentheses, a (kWh) unit; the first timestamp tier present wins', () => {
    expect(['Interval Start', 'interval-start', ' INTERVAL_START '].map(normalizeHeader)).toEqual(['interval_start', 'interval_start', 'interval_start'])
    expect(['Usage (kWh)', '用电量（ kWh ）', '电量(KWH)'].map(normalizeHeader)).toEqual(['usage_kwh', '用电量_kwh', '电量_kwh'])
    const options = resolveImportOptions({ device: 'meter' })
    expect(planFromHeader(['date', 'ts_start', 'kwh'], options)).toMatchObject({ timestamp: { name: 'ts_start', index: 1 }, timestampMarks: 'start' })
    expect(planFromHeader(['ts_end', 'Start', 'kwh'], options)).toMatchObject({ timestamp: { name: 'Start', index: 1 }, timestampMarks: 'start' })
    expect(planFromHeader(['日期', '截止时间', '用电量(kWh)'], options)).toMatchObject({
      timestamp: { name: '截止时间' },
      energy: { name: '用电量(kWh)' },
      timestampMarks: 'end',
    })
    expect(planFromHeader(['date', 'timestamp', 'kwh'], options)).toMatchObject({ timestamp: { name: 'timestamp' } })
    expect(planFromHeader(['采集时间', 'kwh'], options).timestampMarks).toBeUndefined()
    expect(planFromHeader(['date', 'time', 'kwh'], resolveImportOptions({ device: 'meter', timestampColumn: 'Time' })).timestamp).toEqual({
      name: 'time',
      index: 1,
    })
  })

  it('refuses a header it cannot read, naming what is missing', () => {
    expect(() => planFromHeader(['when', 'device', 'quantity', 'value'], auto)).toThrow(
      expect.toSatisfy((e: unknown) => layoutError(e) && /^no timestamp column/.test((e as Error).message)),
    )
    expect(() => planFromHeader(['ts', 'device', 'power'], auto)).toThrow(
      expect.toSatisfy((e: unknown) => layoutError(e) && /^cannot tell the layout/.test((e as Error).message)),
    )
    expect(() => planFromHeader(['ts', 'kwh'], auto)).toThrow(
      expect.toSatisfy((e: unknown) => layoutError(e) && /needs a device column "device" or the device option/.test((e as Error).message)),
    )
    const mapped = resolveImportOptions({ device: 'm', columns: { kWh2: { quantity: 'energy_import_kwh', scale: 1 } } })
    expect(() => planFromHeader(['ts', 'kwh', 'kWh2'], mapped)).toThrow(expect.toSatisfy((e: unknown) => isPlantWattError(e, 'IMPORT_ERR_OPTIONS')))
  })
})
