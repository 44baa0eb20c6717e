import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { planFromHeader } from './csv-plan.ts'
import { DeviceResolver } from './device-resolver.ts'
import { LongRowReader } from './long-rows.ts'
import { resolveImportOptions, type ImportOptionsInput } from './options.ts'
import type { RowVerdict } from './row-verdict.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'meter' }, { id: 'press', kind: 'machine' }] }] }] }],
})
const METER = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' }
/** 2025-11-29 00:00 in Shanghai (UTC+8). */
const D0 = Date.UTC(2025, 10, 28, 16)
const HEADER = ['timestamp', 'device', 'quantity', 'value', 'quality']

function reader(input: ImportOptionsInput = {}, header = HEADER): LongRowReader {
  const options = resolveImportOptions({ layout: 'long', ...input })
  return new LongRowReader(planFromHeader(header, options), options, new DeviceResolver({ plant: PLANT }, options.timezone))
}

const problem = (v: RowVerdict) => (v.kind === 'bad' ? [v.problem.column, v.problem.code] : v.kind)

describe('LongRowReader', () => {
  it('turns a good row into one telemetry point of its device', () => {
    const v = reader().read(['2025-11-29T00:00:00+08:00', 'meter', 'active_power_kw', ' 12.5 ', ''])
    expect(v).toEqual({
      kind: 'good',
      device: { address: METER, key: 'acme/wuhan/l1/meter', tags: METER, timezone: 'Asia/Shanghai' },
      ts: D0,
      points: [{ measurement: 'telemetry', tags: METER, fields: { active_power_kw: 12.5 }, ts: D0 }],
    })
  })

  it("places a wall time in the device's zone, or in the timezone option", () => {
    const row = ['2025-11-29 00:00', 'acme/wuhan/l1/press', 'active_power_kw', '1', '']
    expect(reader().read(row)).toMatchObject({ kind: 'good', ts: D0 })
    expect(reader({ timezone: 'UTC' }).read(row)).toMatchObject({ kind: 'good', ts: D0 + 8 * 3_600_000 })
  })

  it('stores quality like live ingest: uncertain keeps the value with q_ = 1, bad keeps only q_ = 2', () => {
    const r = reader()
    const fieldsOf = (v: RowVerdict) => (v.kind === 'good' ? v.points[0]?.fields : undefined)
    expect(fieldsOf(r.read(['2025-11-29T00:00:00Z', 'meter', 'voltage_l1_v', '230', 'Uncertain']))).toEqual({ voltage_l1_v: 230, q_voltage_l1_v: 1 })
    expect(fieldsOf(r.read(['2025-11-29T00:01:00Z', 'meter', 'voltage_l1_v', '231', 'bad']))).toEqual({ q_voltage_l1_v: 2 })
    // Without a quality column every row is good.
    const bare = reader({}, HEADER.slice(0, 4))
    expect(fieldsOf(bare.read(['2025-11-29T00:00:00Z', 'meter', 'voltage_l1_v', '230']))).toEqual({ voltage_l1_v: 230 })
  })

  it('names the column and code of the first problem of a bad row', () => {
    const r = reader()
    expect(problem(r.read(['2025-11-29T00:00:00Z', 'ghost', 'nonsense', 'x', 'x']))).toEqual(['device', 'IMPORT_ERR_DEVICE_UNKNOWN'])
    expect(problem(r.read(['2025-11-29T00:00:00Z', 'meter', 'nonsense', 'x', 'x']))).toEqual(['quantity', 'IMPORT_ERR_QUANTITY_UNKNOWN'])
    expect(problem(r.read(['31/02/2025 00:00', 'meter', 'active_power_kw', 'x', 'x']))).toEqual(['timestamp', 'IMPORT_ERR_TIMESTAMP'])
    expect(problem(r.read(['1999-12-31T00:00:00Z', 'meter', 'active_power_kw', '1', '']))).toEqual(['timestamp', 'IMPORT_ERR_TIMESTAMP'])
    expect(problem(r.read(['2025-11-29T00:00:00Z', 'meter', 'active_power_kw', 'x', 'fine']))).toEqual(['quality', 'IMPORT_ERR_QUALITY'])
    expect(problem(r.read(['2025-11-29T00:00:00Z', 'meter', 'active_power_kw', '', '']))).toEqual(['value', 'IMPORT_ERR_VALUE'])
    const range = r.read(['2025-11-29T00:00:00Z', 'meter', 'power_factor', '1.5', ''])
    expect(range).toEqual({ kind: 'bad', problem: { column: 'value', code: 'IMPORT_ERR_VALUE_RANGE', message: 'power_factor = 1.5 is outside -1…1 1' } })
  })

  it('refuses a second value of the same series at the same instant, in or out of order; other series are apart', () => {
    const r = reader()
    const at = (iso: string, quantity = 'active_power_kw', device = 'meter') => problem(r.read([iso, device, quantity, '1', '']))
    expect(at('2025-11-29T00:01:00Z')).toBe('good')
    expect(at('2025-11-29T00:02:00Z')).toBe('good')
    expect(at('2025-11-29T00:00:00Z')).toBe('good')
    expect(at('2025-11-29T00:01:00Z')).toEqual(['timestamp', 'IMPORT_ERR_DUPLICATE'])
    expect(at('2025-11-29T00:00:00Z')).toEqual(['timestamp', 'IMPORT_ERR_DUPLICATE'])
    expect(at('2025-11-29T00:01:00Z', 'voltage_l1_v')).toBe('good')
    expect(at('2025-11-29T00:01:00Z', 'active_power_kw', 'press')).toBe('good')
    const dup = r.read(['2025-11-29T00:02:00Z', 'meter', 'active_power_kw', '1', ''])
    expect(dup.kind === 'bad' && dup.problem.message).toBe('a second active_power_kw value of acme/wuhan/l1/meter at 2025-11-29T00:02:00.000Z')
  })

  it('learns nothing and takes nothing back at the end', () => {
    const r = reader()
    r.read(['2025-11-29T00:00:00Z', 'meter', 'active_power_kw', '1', ''])
    expect(r.finish()).toEqual([])
  })
})
