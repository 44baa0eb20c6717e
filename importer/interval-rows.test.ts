import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import type { TelemetryPoint } from '../storage/store.ts'
import { planFromHeader } from './csv-plan.ts'
import { DeviceResolver, resolveFixedDevice } from './device-resolver.ts'
import { IntervalRowReader, type IntervalPass } from './interval-rows.ts'
import { resolveImportOptions, type ImportOptionsInput } from './options.ts'
import type { RowVerdict, ScanLearned } from './row-verdict.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'meter' }, { id: 'press', kind: 'machine' }] }] }] }],
})
const METER = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' }
const METER_KEY = 'acme/wuhan/l1/meter'
/** 2025-11-29 00:00 in Shanghai (UTC+8). */
const D0 = Date.UTC(2025, 10, 28, 16)
const MIN = 60_000

interface Setup {
  options?: ImportOptionsInput
  header?: string[]
  pass?: IntervalPass['pass']
  learned?: ScanLearned
  withPoints?: boolean
}

function reader(s: Setup = {}): { rows: IntervalRowReader; learned: ScanLearned } {
  // The counter tests read counters alone; mean power (the default) has its own tests below.
  const options = resolveImportOptions({ layout: 'interval', intervalPower: 'off', ...s.options })
  const resolver = new DeviceResolver({ plant: PLANT }, options.timezone)
  const fixedDevice = resolveFixedDevice(resolver, options.device)
  const learned = s.learned ?? { intervalMs: new Map() }
  const pass: IntervalPass = { pass: s.pass ?? 'validate', learned, withPoints: s.withPoints ?? false, ...(fixedDevice ? { fixedDevice } : {}) }
  return { rows: new IntervalRowReader(planFromHeader(s.header ?? ['timestamp', 'device', 'kwh'], options), options, resolver, pass), learned }
}

/** Reads rows (line 2 onwards); each verdict as 'good' / 'passed' / [column, code]. */
function readAll(rows: IntervalRowReader, data: string[][]): { verdicts: unknown[]; goods: Extract<RowVerdict, { kind: 'good' }>[] } {
  const goods: Extract<RowVerdict, { kind: 'good' }>[] = []
  const verdicts = data.map((fields, i) => {
    const v = rows.read(fields, i + 2)
    if (v.kind === 'good') goods.push(v)
    return v.kind === 'bad' ? [v.problem.column, v.problem.code] : v.kind
  })
  return { verdicts, goods }
}

const pt = (ts: number, fields: Record<string, number>): TelemetryPoint => ({ measurement: 'telemetry', tags: METER, fields, ts })

describe('IntervalRowReader', () => {
  it('validating pass: checks rows and learns each device its smallest step as the interval length', () => {
    const { rows, learned } = reader()
    const { verdicts, goods } = readAll(rows, [
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '2'],
      ['2025-11-29 01:00', 'meter', '3'],
      ['2025-11-29 00:05', 'press', '1'],
      ['2025-11-29 00:10', 'press', '1'],
    ])
    expect(verdicts).toEqual(['good', 'good', 'good', 'good', 'good'])
    // No length known yet: no points, no gaps.
    expect(goods.map((g) => [g.ts, g.points.length, g.gap])).toEqual([
      [D0 + 15 * MIN, 0, false],
      [D0 + 30 * MIN, 0, false],
      [D0 + 60 * MIN, 0, false],
      [D0 + 5 * MIN, 0, false],
      [D0 + 10 * MIN, 0, false],
    ])
    expect(rows.finish()).toEqual([])
    expect([...learned.intervalMs]).toEqual([
      [METER_KEY, 15 * MIN],
      ['acme/wuhan/l1/press', 5 * MIN],
    ])
  })

  it('writing pass: a counter from startKwh, a reading at the first start and after a gap (timestampIs end)', () => {
    const learned = { intervalMs: new Map([[METER_KEY, 15 * MIN]]) }
    const { rows } = reader({ options: { startKwh: 100 }, pass: 'write', learned, withPoints: true })
    const { goods } = readAll(rows, [
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '2'],
      ['2025-11-29 01:00', 'meter', '4'],
    ])
    expect(goods.map((g) => g.points)).toEqual([
      [pt(D0, { energy_import_kwh: 100 }), pt(D0 + 15 * MIN, { energy_import_kwh: 101 })],
      [pt(D0 + 30 * MIN, { energy_import_kwh: 103 })],
      // 00:30–00:45 is missing: the counter stands still over it.
      [pt(D0 + 45 * MIN, { energy_import_kwh: 103 }), pt(D0 + 60 * MIN, { energy_import_kwh: 107 })],
    ])
    expect(goods.map((g) => g.gap)).toEqual([false, false, true])
    expect(rows.finish()).toEqual([])
  })

  it('validating pass learns each device its span; the writing pass shifts the counters to their starts, verdicts unchanged', () => {
    const data = [
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '2'],
      ['2025-11-29 00:45', 'meter', '1e12'],
    ]
    const header = ['timestamp', 'device', 'kwh', 'gas']
    const options = { columns: { gas: { quantity: 'gas_m3', scale: 1 } } }
    const withGas = data.map((r) => [...r, '0.5'])
    const first = reader({ header, options })
    // The third row overflows the counter (1e12 kWh at most) counted from the file's own start, 0.
    expect(readAll(first.rows, withGas).verdicts).toEqual(['good', 'good', ['kwh', 'IMPORT_ERR_VALUE_RANGE']])
    expect(first.rows.finish()).toEqual([])
    expect([...(first.learned.spans ?? [])]).toEqual([
      [METER_KEY, { tags: METER, firstStart: D0, lastEnd: D0 + 30 * MIN, increase: { energy_import_kwh: 3, gas_m3: 1 } }],
    ])
    const learned = { ...first.learned, counterStarts: new Map([[METER_KEY, { energy_import_kwh: 500, gas_m3: 20 }]]) }
    const second = reader({ header, options, pass: 'write', learned, withPoints: true })
    const { verdicts, goods } = readAll(second.rows, withGas)
    expect(verdicts).toEqual(['good', 'good', ['kwh', 'IMPORT_ERR_VALUE_RANGE']])
    expect(goods.flatMap((g) => g.points)).toEqual([
      pt(D0, { energy_import_kwh: 500, gas_m3: 20 }),
      pt(D0 + 15 * MIN, { energy_import_kwh: 501, gas_m3: 20.5 }),
      pt(D0 + 30 * MIN, { energy_import_kwh: 503, gas_m3: 21 }),
    ])
  })

  it('timestampIs start: the reading for a row is one interval after its timestamp', () => {
    const { rows } = reader({ options: { intervalMinutes: 15, timestampIs: 'start' }, withPoints: true })
    const { goods } = readAll(rows, [
      ['2025-11-29 00:00', 'meter', '1'],
      ['2025-11-29 00:15', 'meter', '2'],
    ])
    expect(goods.flatMap((g) => g.points)).toEqual([
      pt(D0, { energy_import_kwh: 0 }),
      pt(D0 + 15 * MIN, { energy_import_kwh: 1 }),
      pt(D0 + 30 * MIN, { energy_import_kwh: 3 }),
    ])
  })

  it('extra columns: a cumulative quantity becomes a counter, any other is written at the interval start', () => {
    const columns = { Gas: { quantity: 'gas_m3', scale: 1 }, PF: { quantity: 'power_factor', scale: 0.01 } }
    const { rows } = reader({ options: { intervalMinutes: 15, columns }, header: ['timestamp', 'device', 'kwh', 'Gas', 'PF'], withPoints: true })
    const { goods } = readAll(rows, [
      ['2025-11-29 00:15', 'meter', '1', '5', '90'],
      ['2025-11-29 00:30', 'meter', '1', '6', '80'],
    ])
    expect(goods.flatMap((g) => g.points)).toEqual([
      pt(D0, { energy_import_kwh: 0, gas_m3: 0, power_factor: 0.9 }),
      pt(D0 + 15 * MIN, { energy_import_kwh: 1, gas_m3: 5 }),
      pt(D0 + 15 * MIN, { power_factor: 0.8 }),
      pt(D0 + 30 * MIN, { energy_import_kwh: 2, gas_m3: 11 }),
    ])
  })

  it('midnight auto: the D 00:00 row after later rows of day D is the end of day D; literal keeps it (out of order)', () => {
    const data = [
      ['2025-11-29 23:45', 'meter', '1'],
      ['2025-11-29 00:00', 'meter', '1'],
      ['2025-11-30 00:15', 'meter', '1'],
    ]
    const auto = readAll(reader({ options: { intervalMinutes: 15 } }).rows, data)
    expect(auto.verdicts).toEqual(['good', 'good', 'good'])
    expect(auto.goods.map((g) => [g.ts, g.midnightShifted])).toEqual([
      [D0 + 1425 * MIN, false],
      [D0 + 1440 * MIN, true],
      [D0 + 1455 * MIN, false],
    ])
    const literal = readAll(reader({ options: { intervalMinutes: 15, midnight: 'literal' } }).rows, data)
    expect(literal.verdicts).toEqual(['good', ['timestamp', 'IMPORT_ERR_ORDER'], 'good'])
  })

  it('refuses duplicate, out-of-order, overlapping, negative, non-numeric and overflowing rows', () => {
    const { rows } = reader({ options: { intervalMinutes: 15, startKwh: 1e12 - 5 } })
    const { verdicts } = readAll(rows, [
      ['2025-11-29 00:30', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '1'],
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:40', 'meter', '1'],
      ['2025-11-29 00:45', 'meter', '-1'],
      ['2025-11-29 00:45', 'meter', 'n/a'],
      ['2025-11-29 00:45', 'meter', '10'],
      ['2025-11-29 00:45', 'ghost', '1'],
      ['29.11.2025 25:00', 'meter', '1'],
    ])
    expect(verdicts).toEqual([
      'good',
      ['timestamp', 'IMPORT_ERR_DUPLICATE'],
      ['timestamp', 'IMPORT_ERR_ORDER'],
      ['timestamp', 'IMPORT_ERR_ORDER'],
      ['kwh', 'IMPORT_ERR_VALUE_RANGE'],
      ['kwh', 'IMPORT_ERR_VALUE'],
      ['kwh', 'IMPORT_ERR_VALUE_RANGE'],
      ['device', 'IMPORT_ERR_DEVICE_UNKNOWN'],
      ['timestamp', 'IMPORT_ERR_TIMESTAMP'],
    ])
    // A bad row does not move the device on: the next interval still follows 00:30.
    expect(readAll(rows, [['2025-11-29 00:45', 'meter', '1']]).verdicts).toEqual(['good'])
  })

  it('a device with one row alone: taken back at the end of the validating pass, passed over in the writing pass', () => {
    const first = reader()
    readAll(first.rows, [
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '1'],
      ['2025-11-29 00:15', 'press', '1'],
    ])
    expect(first.rows.finish()).toEqual([
      {
        deviceKey: 'acme/wuhan/l1/press',
        line: 4,
        problem: {
          column: 'timestamp',
          code: 'IMPORT_ERR_INTERVAL',
          message: 'acme/wuhan/l1/press has a single interval row: its length is unknown (give intervalMinutes)',
        },
      },
    ])
    const second = reader({ pass: 'write', learned: first.learned, withPoints: true })
    const { verdicts } = readAll(second.rows, [
      ['2025-11-29 00:15', 'meter', '1'],
      ['2025-11-29 00:30', 'meter', '1'],
      ['2025-11-29 00:15', 'press', '1'],
      // Its state still advances: the same verdict as in the first pass.
      ['2025-11-29 00:15', 'press', '1'],
    ])
    expect(verdicts).toEqual(['good', 'good', 'passed', ['timestamp', 'IMPORT_ERR_DUPLICATE']])
    expect(second.rows.finish()).toEqual([])
  })

  it('with intervalMinutes nothing is learned and a lone row stands', () => {
    const { rows, learned } = reader({ options: { intervalMinutes: 30 }, withPoints: true })
    const { goods } = readAll(rows, [['2025-11-29 00:30', 'press', '2']])
    expect(goods[0]?.points.map((p) => [p.ts, p.fields])).toEqual([
      [D0, { energy_import_kwh: 0 }],
      [D0 + 30 * MIN, { energy_import_kwh: 2 }],
    ])
    expect(rows.finish()).toEqual([])
    expect(learned.intervalMs.size).toBe(0)
  })

  it('the device option: every row without a device column, or with an empty device field', () => {
    const noColumn = reader({ options: { device: 'meter', intervalMinutes: 15 }, header: ['timestamp', 'kwh'] })
    expect(readAll(noColumn.rows, [['2025-11-29 00:15', '1']]).goods[0]?.device.key).toBe(METER_KEY)
    const emptyField = reader({ options: { device: 'meter', intervalMinutes: 15 } })
    const { goods } = readAll(emptyField.rows, [
      ['2025-11-29 00:15', '', '1'],
      ['2025-11-29 00:15', 'press', '1'],
    ])
    expect(goods.map((g) => g.device.key)).toEqual([METER_KEY, 'acme/wuhan/l1/press'])
  })

  it('intervalPower mean (the default): each interval also gives its mean active power at its start, kWh / hours', () => {
    const { rows } = reader({ options: { intervalMinutes: 15, intervalPower: 'mean' }, withPoints: true })
    const { goods } = readAll(rows, [
      ['2025-11-29 00:15', 'meter', '3.17'],
      ['2025-11-29 00:30', 'meter', '4'],
    ])
    const power = goods.flatMap((g) => g.points).filter((p) => p.fields.active_power_kw !== undefined)
    expect(power.map((p) => p.ts)).toEqual([D0, D0 + 15 * MIN])
    expect(power[0]?.fields.active_power_kw).toBeCloseTo(12.68, 10)
    expect(power[1]?.fields.active_power_kw).toBeCloseTo(16, 10)
    // A 30-minute interval: 2 kWh is 4 kW.
    const half = reader({ options: { intervalMinutes: 30, intervalPower: 'mean' }, withPoints: true })
    expect(readAll(half.rows, [['2025-11-29 00:30', 'meter', '2']]).goods[0]?.points[0]?.fields).toEqual({ energy_import_kwh: 0, active_power_kw: 4 })
  })

  it('no derived power when a column is mapped to active_power_kw (the file has its own) or intervalPower is off', () => {
    const columns = { P: { quantity: 'active_power_kw', scale: 1 } }
    const mapped = reader({ options: { intervalMinutes: 15, intervalPower: 'mean', columns }, header: ['timestamp', 'device', 'kwh', 'P'], withPoints: true })
    const points = readAll(mapped.rows, [['2025-11-29 00:15', 'meter', '1', '7']]).goods.flatMap((g) => g.points)
    expect(points.map((p) => p.fields.active_power_kw).filter((v) => v !== undefined)).toEqual([7])
    const off = reader({ options: { intervalMinutes: 15 }, withPoints: true })
    expect(
      readAll(off.rows, [['2025-11-29 00:15', 'meter', '1']])
        .goods.flatMap((g) => g.points)
        .some((p) => 'active_power_kw' in p.fields),
    ).toBe(false)
  })

  it('a ts_start / interval_start column marks the interval start whatever timestampIs says; ts_end its end', () => {
    for (const [header, startsAt] of [
      ['ts_start', D0 + 15 * MIN],
      ['interval_start', D0 + 15 * MIN],
      ['ts_end', D0],
    ] as const) {
      const { rows } = reader({ options: { intervalMinutes: 15, timestampIs: 'end' }, header: [header, 'device', 'kwh'], withPoints: true })
      const points = readAll(rows, [['2025-11-29 00:15', 'meter', '1']]).goods.flatMap((g) => g.points)
      expect({ header, first: points[0]?.ts }).toEqual({ header, first: startsAt })
    }
  })
})
