import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError, type PlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { importCsv } from './index.ts'

/**
 * Header variants end to end: small CSV files written here, imported into the embedded store, the
 * stored counter and mean power read back. An interval-start column wins over a date column; English
 * spellings with spaces and units, Chinese utility headers; a split date/time pair and two candidate
 * stamps are refused with IMPORT_ERR_LAYOUT naming the columns.
 */

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main' }] }] }] }],
})
const MAIN = 'acme/wuhan/l1/main'
/** 2025-11-29 00:00 in Shanghai (UTC+8). */
const D0 = Date.UTC(2025, 10, 28, 16)
const MIN = 60_000

let dir: string
let store: TelemetryStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-import-headers-'))
  store = createEmbeddedStore({ path: join(dir, 'pw.db') })
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Writes the lines to a file and imports it for device main. */
async function importLines(lines: string[]) {
  const path = join(dir, 'in.csv')
  writeFileSync(path, `${lines.join('\n')}\n`)
  return importCsv({ path }, { device: 'main' }, { store, plant: PLANT })
}

/** field → [ts offset from D0 in minutes, value][] of device main. */
async function stored(fields: string[]): Promise<Record<string, [number, number][]>> {
  const rows = await store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields,
    filter: { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' },
    start: D0 - 86_400_000,
    stop: D0 + 86_400_000,
    every: '1m',
    fn: 'last',
    timezone: 'UTC',
  })
  const out: Record<string, [number, number][]> = {}
  for (const r of rows) (out[r.field] ??= []).push([(r.windowStart - D0) / MIN, r.value])
  return out
}

async function layoutError(lines: string[]): Promise<PlantWattError> {
  try {
    await importLines(lines)
  } catch (err) {
    if (isPlantWattError(err, 'IMPORT_ERR_LAYOUT')) return err
    throw err
  }
  throw new Error('expected IMPORT_ERR_LAYOUT')
}

describe('interval headers', () => {
  it('date,ts_start,kwh: stamped from ts_start (the interval start), not from the date', async () => {
    const r = await importLines(['date,ts_start,kwh', '2025-11-29,2025-11-29 00:00,1', '2025-11-29,2025-11-29 00:15,2', '2025-11-29,2025-11-29 00:30,3'])
    expect([r.layout, r.imported, r.rejected, r.devices]).toEqual(['interval', 3, 0, [MAIN]])
    // Intervals start 00:00, 00:15, 00:30 (15 min from the rows): counter 0 · 1 · 3 · 6 at 00:00 … 00:45,
    // mean power 1/0.25 = 4, 2/0.25 = 8, 3/0.25 = 12 kW at each start.
    expect(await stored(['energy_import_kwh', 'active_power_kw'])).toEqual({
      energy_import_kwh: [
        [0, 0],
        [15, 1],
        [30, 3],
        [45, 6],
      ],
      active_power_kw: [
        [0, 4],
        [15, 8],
        [30, 12],
      ],
    })
  })

  it('"Interval Start" and "Usage (kWh)" (spaces, case, unit in parentheses) are the start and the kWh', async () => {
    const r = await importLines(['Interval Start,Usage (kWh)', '2025-11-29 00:00,0.5', '2025-11-29 00:15,1.5'])
    expect([r.imported, r.rejected]).toEqual([2, 0])
    expect((await stored(['energy_import_kwh'])).energy_import_kwh).toEqual([
      [0, 0],
      [15, 0.5],
      [30, 2],
    ])
  })

  it('a Chinese utility export: 日期,开始时间,结束时间,电量（kWh） is stamped from 开始时间; 结束时间,有功电量(kWh) from the interval end', async () => {
    const start = await importLines([
      '日期,开始时间,结束时间,电量（kWh）',
      '2025-11-29,2025-11-29 00:00,2025-11-29 00:15,2',
      '2025-11-29,2025-11-29 00:15,2025-11-29 00:30,4',
    ])
    expect([start.imported, start.rejected]).toEqual([2, 0])
    // 2 and 4 kWh over 00:00–00:15 and 00:15–00:30: counter 0 · 2 · 6; 8 and 16 kW.
    expect(await stored(['energy_import_kwh', 'active_power_kw'])).toEqual({
      energy_import_kwh: [
        [0, 0],
        [15, 2],
        [30, 6],
      ],
      active_power_kw: [
        [0, 8],
        [15, 16],
      ],
    })
    const end = await importLines(['结束时间,有功电量(kWh)', '2025-11-29 01:15,1', '2025-11-29 01:30,1'])
    expect([end.imported, end.rejected]).toEqual([2, 0])
    // Ends 01:15 and 01:30 → intervals 01:00–01:15, 01:15–01:30: a reading at 01:00 and the ends. The
    // counter continues from the store's latest reading before 01:00 (6 at 00:30): 6 · 7 · 8.
    expect((await stored(['energy_import_kwh'])).energy_import_kwh?.slice(3)).toEqual([
      [60, 6],
      [75, 7],
      [90, 8],
    ])
    expect(end.counterStarts).toEqual([{ device: MAIN, quantity: 'energy_import_kwh', at: D0 + 60 * MIN, value: 6, basis: 'stored', storedAt: D0 + 30 * MIN }])
  })

  it('refuses, naming the columns: a date and a time of day in two columns, two candidate stamps, a Chinese energy column without its unit', async () => {
    const split = await layoutError(['日期,时间,电量(kWh)', '2025-11-29,00:15,1'])
    expect(split.message).toMatch(/^columns "日期" and "时间" look like a date and a time of day in two columns/)
    expect((await layoutError(['date,time,kwh', '2025-11-29,00:15,1'])).message).toMatch(/^columns "date" and "time" look like/)
    expect((await layoutError(['Interval Start,ts_start,kwh', '2025-11-29 00:00,2025-11-29 00:00,1'])).message).toMatch(
      /^columns "Interval Start" and "ts_start" could each be the timestamp; set timestampColumn/,
    )
    expect((await layoutError(['时间,电量', '2025-11-29 00:15,1'])).message).toMatch(/^cannot tell the layout/)
  })
})
