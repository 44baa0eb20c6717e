import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { counterRollup } from '../reports/counter-rollup.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { isPlantWattError } from '../core/errors.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { build } from '../api/app.ts'
import { resolveApiConfig } from '../api/config.ts'
import type { ApiContext } from '../api/context.ts'
import { formatValidationErrors, toErrorReply } from '../api/errors.ts'
import { PlantIndex } from '../api/plant-index.ts'
import type { Principal } from '../api/principal.ts'
import { importRoutes } from '../api/routes/import.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { importCsv, parseColumnMapping, parseTimestamp } from './index.ts'
import { formatImportReport, importOptionsFromFlags, runImportCommand } from './cli.ts'
import { openEventLog } from '../storage/events.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            { id: 'rolling-1', mainMeter: 'main-meter', devices: [{ id: 'main-meter' }, { id: 'mill-drive', kind: 'machine' }] },
            { id: 'rolling-2', devices: [{ id: 'main-meter' }] },
          ],
        },
      ],
    },
    { id: 'beta', sites: [{ id: 'xiangyang', lines: [{ id: 'press', devices: [{ id: 'press-meter' }] }] }] },
  ],
})

const MAIN = 'acme/wuhan/rolling-1/main-meter'
const MILL = 'acme/wuhan/rolling-1/mill-drive'
const BETA = 'beta/xiangyang/press/press-meter'
/** 2025-11-29 00:00 in Shanghai (UTC+8). */
const D0 = Date.UTC(2025, 10, 28, 16)
const MIN = 60_000

let dir: string
let store: TelemetryStore

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-import-'))
  store = createEmbeddedStore({ path: join(dir, 'pw.db') })
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every stored value of a device: field → [ts, value][]. */
async function stored(address: string, fields: string[], start = D0 - 2 * 86_400_000, stop = D0 + 2 * 86_400_000): Promise<Record<string, [number, number][]>> {
  const [enterprise, site, line, device] = address.split('/') as [string, string, string, string]
  const rows = await store.aggregate({
    measurement: TELEMETRY_MEASUREMENT,
    fields,
    filter: { enterprise, site, line, device },
    start,
    stop,
    every: '1m',
    fn: 'last',
    timezone: 'UTC',
  })
  const out: Record<string, [number, number][]> = {}
  for (const r of rows) (out[r.field] ??= []).push([r.windowStart, r.value])
  return out
}

async function expectImportError(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => isPlantWattError(e, code))
}

describe('parseTimestamp', () => {
  it('reads ISO 8601 with offset, Z and fractions as instants, without offset as wall time', () => {
    expect(parseTimestamp('2025-11-29T00:00:00+08:00', 'auto', 'dmy')).toEqual({ kind: 'instant', ts: D0 })
    expect(parseTimestamp('2025-11-28 16:00:00.5Z', 'auto', 'dmy')).toEqual({ kind: 'instant', ts: D0 + 500 })
    expect(parseTimestamp('2025-11-29T00:00-0530', 'iso', 'dmy')).toEqual({ kind: 'instant', ts: Date.UTC(2025, 10, 29, 5, 30) })
    expect(parseTimestamp('2025-11-29 00:15', 'auto', 'dmy')).toEqual({ kind: 'wall', naive: Date.UTC(2025, 10, 29, 0, 15) })
  })
  it('reads day-first and month-first dates, and rejects impossible ones', () => {
    expect(parseTimestamp('01/02/2018 00:15', 'auto', 'dmy')).toEqual({ kind: 'wall', naive: Date.UTC(2018, 1, 1, 0, 15) })
    expect(parseTimestamp('01/02/2018 00:15', 'auto', 'mdy')).toEqual({ kind: 'wall', naive: Date.UTC(2018, 0, 2, 0, 15) })
    expect(parseTimestamp('31.12.2018', 'dmy', 'mdy')).toEqual({ kind: 'wall', naive: Date.UTC(2018, 11, 31) })
    expect(parseTimestamp('31/02/2018 00:00', 'auto', 'dmy')).toBeUndefined()
    expect(parseTimestamp('13/13/2018 00:00', 'auto', 'dmy')).toBeUndefined()
    expect(parseTimestamp('2018-01-01T25:00', 'auto', 'dmy')).toBeUndefined()
    expect(parseTimestamp('yesterday', 'auto', 'dmy')).toBeUndefined()
  })
  it('reads epoch ms and s only when asked', () => {
    expect(parseTimestamp(String(D0), 'epoch-ms', 'dmy')).toEqual({ kind: 'instant', ts: D0 })
    expect(parseTimestamp(String(D0 / 1000), 'epoch-s', 'dmy')).toEqual({ kind: 'instant', ts: D0 })
    expect(parseTimestamp(String(D0), 'auto', 'dmy')).toBeUndefined()
  })
  it('parses column mappings', () => {
    expect(parseColumnMapping('Lagging_PF:power_factor*0.01')).toEqual(['Lagging_PF', { quantity: 'power_factor', scale: 0.01 }])
    expect(parseColumnMapping('a:b:gas_m3')).toEqual(['a:b', { quantity: 'gas_m3', scale: 1 }])
    expect(() => parseColumnMapping('nocolon')).toThrow(/Column:quantity/)
  })
})

describe('long layout', () => {
  it('imports the good rows, reports each bad row by its line, writes nothing of the bad ones', async () => {
    const csv = [
      'timestamp,device,quantity,value', // 1
      `2025-11-29T00:00:00+08:00,${MAIN},active_power_kw,412.5`, // 2 good
      `2025-11-29T00:00:00+08:00,${MAIN},energy_import_kwh,1000`, // 3 good (same point as line 2)
      '2025-11-29 00:01,mill-drive,active_power_kw,10', // 4 good: wall time in the site zone (plant's: Shanghai)
      'not-a-time,mill-drive,active_power_kw,1', // 5
      '2025-11-29T00:02:00+08:00,ghost,active_power_kw,1', // 6
      '2025-11-29T00:02:00+08:00,main-meter,active_power_kw,1', // 7 ambiguous: two lines have one
      '2025-11-29T00:02:00+08:00,mill-drive,apparent_power,1', // 8
      '2025-11-29T00:02:00+08:00,mill-drive,power_factor,1.5', // 9 PF > 1
      '2025-11-29T00:02:00+08:00,mill-drive,power_factor,abc', // 10
      `2025-11-29T00:00:00+08:00,${MAIN},active_power_kw,999`, // 11 duplicate of line 2
      '2025-11-29T00:03:00+08:00,mill-drive,power_factor,0.4,extra', // 12 one field too many
      '', // 13 blank: skipped
      `2025-11-28T16:00:00Z,${MAIN},energy_import_kwh,1001`, // 14 duplicate of line 3 written in UTC
      '1999-12-31T23:00:00Z,mill-drive,active_power_kw,1', // 15 before 2000
      '2025-11-29T00:05:00+08:00,mill-drive,active_power_kw,12', // 16 good
    ].join('\n')
    const events = new MemoryEventLog()
    const r = await importCsv({ text: csv }, {}, { store, plant: PLANT, events, now: () => D0 + 86_400_000, principal: 'test' })
    expect(r.layout).toBe('long')
    expect(r.rows).toBe(14)
    expect(r.imported).toBe(4)
    expect(r.rejected).toBe(10)
    // Lines 2+3 merge into one point (same device and instant): 3 points.
    expect(r.points).toBe(3)
    expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [5, 'timestamp', 'IMPORT_ERR_TIMESTAMP'],
      [6, 'device', 'IMPORT_ERR_DEVICE_UNKNOWN'],
      [7, 'device', 'IMPORT_ERR_DEVICE_AMBIGUOUS'],
      [8, 'quantity', 'IMPORT_ERR_QUANTITY_UNKNOWN'],
      [9, 'value', 'IMPORT_ERR_VALUE_RANGE'],
      [10, 'value', 'IMPORT_ERR_VALUE'],
      [11, 'timestamp', 'IMPORT_ERR_DUPLICATE'],
      [12, null, 'IMPORT_ERR_COLUMNS'],
      [14, 'timestamp', 'IMPORT_ERR_DUPLICATE'],
      [15, 'timestamp', 'IMPORT_ERR_TIMESTAMP'],
    ])
    expect(r.errors[6]?.message).toContain(MAIN)
    expect(r.devices).toEqual([MAIN, MILL])
    expect(await stored(MAIN, ['active_power_kw', 'energy_import_kwh', 'seq'])).toEqual({ active_power_kw: [[D0, 412.5]], energy_import_kwh: [[D0, 1000]] })
    expect(await stored(MILL, ['active_power_kw'])).toEqual({
      active_power_kw: [
        [D0 + MIN, 10],
        [D0 + 5 * MIN, 12],
      ],
    })
    const ev = await events.query({ kind: 'import' })
    expect(ev).toHaveLength(1)
    expect(ev[0]?.tags).toMatchObject({ enterprise: 'acme', import_id: r.importId })
    expect(ev[0]?.fields).toMatchObject({ rows: 14, imported: 4, rejected: 10, points: 3, devices: 2, principal: 'test', layout: 'long' })
  })

  it('stores quality like live ingest: uncertain → q_ = 1 with the value, bad → q_ = 2 without it', async () => {
    const csv = [
      'timestamp,device,quantity,value,quality',
      `2025-11-29T00:00:00+08:00,${MILL},power_factor,0.9,good`,
      `2025-11-29T00:01:00+08:00,${MILL},power_factor,0.8,uncertain`,
      `2025-11-29T00:02:00+08:00,${MILL},power_factor,0.1,bad`,
      `2025-11-29T00:03:00+08:00,${MILL},power_factor,0.7,meh`,
    ].join('\n')
    const r = await importCsv({ text: csv }, {}, { store, plant: PLANT })
    expect([r.imported, r.rejected, r.errors[0]?.code, r.errors[0]?.line]).toEqual([3, 1, 'IMPORT_ERR_QUALITY', 5])
    expect(await stored(MILL, ['power_factor', 'q_power_factor'])).toEqual({
      power_factor: [
        [D0, 0.9],
        [D0 + MIN, 0.8],
      ],
      q_power_factor: [
        [D0 + MIN, 1],
        [D0 + 2 * MIN, 2],
      ],
    })
  })

  it('CRLF line ends, a BOM and quoted fields holding commas and line breaks keep line numbers right', async () => {
    const csv =
      '\uFEFFtimestamp,device,quantity,value,comment\r\n' + // 1
      `2025-11-29T00:00:00+08:00,${MILL},active_power_kw,"1.5","hot, humid"\r\n` + // 2
      `2025-11-29T00:01:00+08:00,${MILL},active_power_kw,2.5,"two\r\nlines, really"\r\n` + // 3–4
      `2025-11-29T00:02:00+08:00,${MILL},active_power_kw,"x,y",\r\n` + // 5 bad value
      `"2025-11-29T00:03:00+08:00","${MILL}","active_power_kw","3.5",""\r\n` // 6
    const r = await importCsv({ text: csv }, {}, { store, plant: PLANT })
    expect([r.imported, r.rejected]).toEqual([3, 1])
    expect(r.errors).toEqual([{ line: 5, column: 'value', code: 'IMPORT_ERR_VALUE', message: '"x,y" is not a number' }])
    expect(await stored(MILL, ['active_power_kw'])).toEqual({
      active_power_kw: [
        [D0, 1.5],
        [D0 + MIN, 2.5],
        [D0 + 3 * MIN, 3.5],
      ],
    })
  })

  it('a stray quote makes a bad row; a quote never closed refuses the file (its rows cannot be told apart)', async () => {
    const rows = [
      'timestamp,device,quantity,value', // 1
      `2025-11-29T00:00:00+08:00,${MILL},active_power_kw,1`, // 2
      `2025-11-29T00:01:00+08:00,${MILL},active_power_kw,"2"x`, // 3 stray quote: a bad value
      `2025-11-29T00:02:00+08:00,${MILL},active_power_kw,3`, // 4
    ]
    const r = await importCsv({ text: rows.join('\n') }, {}, { store, plant: PLANT })
    expect(r.imported).toBe(2)
    expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([[3, 'value', 'IMPORT_ERR_VALUE']])
    const open = [...rows, `2025-11-29T00:03:00+08:00,${MILL},active_power_kw,"4`, `2025-11-29T00:04:00+08:00,${MILL},active_power_kw,5`].join('\n')
    await expect(importCsv({ text: open }, {}, { store, plant: PLANT, now: () => D0 })).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'IMPORT_ERR_CSV') && /after line 4 is never closed/.test(e.message),
    )
  })

  it('a record longer than 65,536 characters (a quote never closed in a large file) refuses the file as soon as it gets that long', async () => {
    const head = `timestamp,device,quantity,value\n2025-11-29T00:00:00+08:00,${MILL},active_power_kw,1\n2025-11-29T00:01:00+08:00,"${MILL},active_power_kw,2\n`
    let sent = 0
    // 8 MB after the quote, generated on demand: the import stops long before the end.
    const tail = function* () {
      for (let i = 0; i < 100_000; i++) {
        sent++
        yield `2025-11-29T00:02:00+08:00,${MILL},active_power_kw,${i}\n`
      }
    }
    const r = importCsv(
      {
        stream: Readable.from(
          (function* () {
            yield head
            yield* tail()
          })(),
        ),
      },
      {},
      { store, plant: PLANT },
    )
    await expect(r).rejects.toSatisfy(
      (e: unknown) => isPlantWattError(e, 'IMPORT_ERR_CSV') && /after line 2 is longer than 65536 characters/.test((e as Error).message),
    )
    expect(sent).toBeLessThan(10_000)
    expect(await stored(MILL, ['active_power_kw'])).toEqual({})
  })

  it('file-level problems are coded errors and write nothing', async () => {
    await expectImportError(importCsv({ text: '' }, {}, { store, plant: PLANT }), 'IMPORT_ERR_EMPTY')
    await expectImportError(importCsv({ text: '\uFEFF\r\n' }, {}, { store, plant: PLANT }), 'IMPORT_ERR_EMPTY')
    await expectImportError(importCsv({ text: 'timestamp,device,quantity,value\r\n' }, {}, { store, plant: PLANT }), 'IMPORT_ERR_EMPTY')
    await expectImportError(importCsv({ text: 'a,b,c\n1,2,3\n' }, {}, { store, plant: PLANT }), 'IMPORT_ERR_LAYOUT')
    // The layout named explicitly, the header of the other one.
    await expectImportError(
      importCsv({ text: `timestamp,device,kwh\n2025-11-29T00:15:00+08:00,${MAIN},1\n` }, { layout: 'long' }, { store, plant: PLANT }),
      'IMPORT_ERR_LAYOUT',
    )
    await expectImportError(importCsv({ text: 'timestamp,kwh\n2025-11-29T00:15:00+08:00,1\n' }, {}, { store, plant: PLANT }), 'IMPORT_ERR_LAYOUT')
    await expectImportError(
      importCsv({ text: 'timestamp,kwh\n2025-11-29T00:15:00+08:00,1\n' }, { device: 'ghost' }, { store, plant: PLANT }),
      'IMPORT_ERR_OPTIONS',
    )
    await expectImportError(importCsv({ text: 'timestamp,kwh\n' }, { device: MAIN, timezone: 'Mars/Olympus' }, { store, plant: PLANT }), 'IMPORT_ERR_OPTIONS')
    await expectImportError(importCsv({ text: 'x' }, { layout: 'wide' as 'long' }, { store, plant: PLANT }), 'IMPORT_ERR_OPTIONS')
    await expectImportError(importCsv({ path: join(dir, 'missing.csv') }, {}, { store, plant: PLANT }), 'IMPORT_ERR_READ')
    expect(await stored(MAIN, ['energy_import_kwh'])).toEqual({})
  })
})

describe('interval layout', () => {
  it('turns kWh per interval into the energy_import_kwh counter, with a reading at the first start and after a gap', async () => {
    // Interval ends 00:15, 00:30, then 01:00 after a missing 00:30–00:45. Start 100 kWh:
    // 00:00 100 · 00:15 101.5 · 00:30 104 · (gap) 00:45 104 · 01:00 108.
    const csv = ['time,kWh,gas', '2025-11-29 00:15,1.5,0.5', '2025-11-29 00:30,2.5,0.25', '2025-11-29 01:00,4,1'].join('\n')
    const r = await importCsv(
      { text: csv },
      { device: MAIN, startKwh: 100, intervalMinutes: 15, columns: { gas: { quantity: 'gas_m3', scale: 2 } } },
      { store, plant: PLANT },
    )
    expect([r.layout, r.imported, r.rejected, r.gaps, r.points]).toEqual(['interval', 3, 0, 1, 5])
    const s = await stored(MAIN, ['energy_import_kwh', 'gas_m3', 'seq'])
    expect(s.energy_import_kwh).toEqual([
      [D0, 100],
      [D0 + 15 * MIN, 101.5],
      [D0 + 30 * MIN, 104],
      [D0 + 45 * MIN, 104],
      [D0 + 60 * MIN, 108],
    ])
    // gas counter (×2): 0 · 1 · 1.5 · 1.5 · 3.5
    expect(s.gas_m3).toEqual([
      [D0, 0],
      [D0 + 15 * MIN, 1],
      [D0 + 30 * MIN, 1.5],
      [D0 + 45 * MIN, 1.5],
      [D0 + 60 * MIN, 3.5],
    ])
    expect(s.seq).toBeUndefined()
  })

  it('timestampIs start shifts every reading by one interval; the interval length comes from the rows', async () => {
    const csv = [
      'timestamp,device,energy_kwh',
      `2025-11-29T00:00:00+08:00,${MAIN},1`,
      `2025-11-29T00:15:00+08:00,${MAIN},2`,
      `2025-11-29T00:00:00+08:00,${MILL},5`,
      `2025-11-29T00:15:00+08:00,${MILL},5`,
    ].join('\r\n')
    const r = await importCsv({ text: csv }, { timestampIs: 'start' }, { store, plant: PLANT })
    expect([r.imported, r.rejected, r.points]).toEqual([4, 0, 6])
    expect((await stored(MAIN, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [D0, 0],
      [D0 + 15 * MIN, 1],
      [D0 + 30 * MIN, 3],
    ])
    expect((await stored(MILL, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [D0, 0],
      [D0 + 15 * MIN, 5],
      [D0 + 30 * MIN, 10],
    ])
  })

  it('reads the D 00:00 row that follows D 23:45 as the end of day D (the UCI file convention)', async () => {
    const csv = ['date,Usage_kWh', '29/11/2025 23:30,1', '29/11/2025 23:45,2', '29/11/2025 00:00,3', '30/11/2025 00:15,4'].join('\n')
    const r = await importCsv({ text: csv }, { device: MAIN }, { store, plant: PLANT })
    expect([r.imported, r.midnightShifted, r.gaps]).toEqual([4, 1, 0])
    const day = D0 + 86_400_000
    // Ends 23:30, 23:45, 24:00, 00:15 (start 23:15): 0 · 1 · 3 · 6 · 10.
    expect((await stored(MAIN, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [day - 45 * MIN, 0],
      [day - 30 * MIN, 1],
      [day - 15 * MIN, 3],
      [day, 6],
      [day + 15 * MIN, 10],
    ])
    // literal: the 00:00 row goes back a day: out of order.
    const lit = await importCsv({ text: csv }, { device: MAIN, midnight: 'literal', dryRun: true }, { store, plant: PLANT })
    expect(lit.errors.map((e) => [e.line, e.code])).toEqual([[4, 'IMPORT_ERR_ORDER']])
  })

  it('rejects out-of-order, duplicate, overlapping, negative and lone rows', async () => {
    const csv = [
      'timestamp,device,kwh', // 1
      `2025-11-29T00:15:00+08:00,${MAIN},1`, // 2
      `2025-11-29T00:30:00+08:00,${MAIN},1`, // 3
      `2025-11-29T00:30:00+08:00,${MAIN},9`, // 4 duplicate
      `2025-11-29T00:15:00+08:00,${MAIN},9`, // 5 before the previous
      `2025-11-29T00:45:00+08:00,${MAIN},-1`, // 6 negative
      `2025-11-29T00:45:00+08:00,${MAIN},`, // 7 empty
      `2025-11-29T00:45:00+08:00,${MAIN},1`, // 8
      `2025-11-29T00:15:00+08:00,${MILL},1`, // 9 MILL's only row: its length is unknown
    ].join('\n')
    const r = await importCsv({ text: csv }, {}, { store, plant: PLANT })
    expect(r.errors.map((e) => [e.line, e.code])).toEqual([
      [4, 'IMPORT_ERR_DUPLICATE'],
      [5, 'IMPORT_ERR_ORDER'],
      [6, 'IMPORT_ERR_VALUE_RANGE'],
      [7, 'IMPORT_ERR_VALUE'],
      [9, 'IMPORT_ERR_INTERVAL'],
    ])
    expect([r.imported, r.rejected, r.devices]).toEqual([3, 5, [MAIN]])
    expect((await stored(MAIN, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [D0, 0],
      [D0 + 15 * MIN, 1],
      [D0 + 30 * MIN, 2],
      [D0 + 45 * MIN, 3],
    ])
    // With intervalMinutes 20, a 15-minute step overlaps: line 3 (00:15 → 00:30), then line 4 too
    // (still 15 min after line 2, the last good one); line 8 is 30 min after line 2.
    const over = await importCsv({ text: csv }, { intervalMinutes: 20, dryRun: true }, { store, plant: PLANT })
    expect(over.errors.map((e) => [e.line, e.code])).toEqual([
      [3, 'IMPORT_ERR_ORDER'],
      [4, 'IMPORT_ERR_ORDER'],
      [5, 'IMPORT_ERR_DUPLICATE'],
      [6, 'IMPORT_ERR_VALUE_RANGE'],
      [7, 'IMPORT_ERR_VALUE'],
    ])
    // With the length given, MILL's lone row is fine.
    expect(over.imported).toBe(3)
  })

  it('importing the same file twice writes the same points (idempotent)', async () => {
    const csv = ['timestamp,kwh', '2025-11-29 00:15,1', '2025-11-29 00:30,2'].join('\n')
    const a = await importCsv({ text: csv }, { device: MAIN }, { store, plant: PLANT })
    const b = await importCsv({ text: csv }, { device: MAIN }, { store, plant: PLANT })
    expect(b.points).toBe(a.points)
    expect((await stored(MAIN, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [D0, 0],
      [D0 + 15 * MIN, 1],
      [D0 + 30 * MIN, 3],
    ])
  })

  it('reads a file from disk', async () => {
    const file = join(dir, 'x.csv')
    writeFileSync(file, 'timestamp,kwh\n2025-11-29 00:15,1\n2025-11-29 00:30,2\n')
    const r = await importCsv({ path: file }, { device: 'mill-drive' }, { store, plant: PLANT })
    expect([r.imported, r.devices]).toEqual([2, [MILL]])
  })
})

describe('runImportCommand (plantwatt import)', () => {
  it('imports a file into the configured store and event log, with options from flags', async () => {
    const file = join(dir, 'meter.csv')
    writeFileSync(file, 'Zeit;Verbrauch;Gas\n29.11.2025 00:15;1,5;2\n29.11.2025 00:30;2;x\n29.11.2025 00:45;3;1\n')
    const storage = { backend: 'embedded' as const, path: join(dir, 'cli.db') }
    const flags = {
      config: 'ignored.yaml',
      device: MAIN,
      delimiter: ';',
      timestampColumn: 'Zeit',
      energyColumn: 'Verbrauch',
      map: ['Gas:gas_m3'],
      startKwh: '7',
      intervalMinutes: '15',
    }
    const r = await runImportCommand(file, { plant: PLANT, storage }, importOptionsFromFlags(flags))
    // "1,5" is not a number (decimal commas are not read) and "x" neither: lines 2 and 3 are bad.
    expect(r.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [2, 'Verbrauch', 'IMPORT_ERR_VALUE'],
      [3, 'Gas', 'IMPORT_ERR_VALUE'],
    ])
    expect([r.imported, r.rejected]).toEqual([1, 2])
    expect(formatImportReport(r)).toContain('line 3 [Gas] IMPORT_ERR_VALUE')
    const events = await openEventLog(storage)
    const ev = await events.query({ kind: 'import' })
    await events.close()
    expect(ev.map((e) => [e.tags.enterprise, e.fields.imported, e.fields.source])).toEqual([['acme', 1, 'meter.csv']])
    // The one good interval, 00:30–00:45: counter 7 → 10 kWh, gas 0 → 1 m³.
    const cli = createEmbeddedStore({ path: storage.path })
    const rows = await cli.aggregate({
      measurement: TELEMETRY_MEASUREMENT,
      fields: ['energy_import_kwh', 'gas_m3'],
      start: D0,
      stop: D0 + 3_600_000,
      every: '15m',
      fn: 'last',
      timezone: 'UTC',
    })
    await cli.close()
    expect(rows.map((x) => [x.field, x.windowStart, x.value])).toEqual([
      ['energy_import_kwh', D0 + 30 * MIN, 7],
      ['energy_import_kwh', D0 + 45 * MIN, 10],
      ['gas_m3', D0 + 30 * MIN, 0],
      ['gas_m3', D0 + 45 * MIN, 1],
    ])
    expect(() => importOptionsFromFlags({ startKwh: 'lots' })).toThrow(/start-kwh/)
  })
})

/** The import plugin alone on a Fastify instance with a chosen principal (api/auth.ts gives everyone admin for now). */
async function appAs(principal: Principal, maxBodyBytes?: number): Promise<{ app: FastifyInstance; events: MemoryEventLog }> {
  const events = new MemoryEventLog()
  const ctx: ApiContext = {
    store,
    plant: new PlantIndex(PLANT),
    model: PLANT,
    events,
    config: resolveApiConfig({}),
    deadLetters: undefined,
    status: undefined,
    now: () => D0,
    rollup: counterRollup(),
  }
  const app = Fastify({
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: formatValidationErrors,
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const { statusCode, body } = toErrorReply(err)
    return reply.code(statusCode).send(body)
  })
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (req) => {
    req.principal = principal
  })
  await app.register(importRoutes, { ctx, prefix: '/api/v1', ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}) })
  await app.ready()
  return { app: app as unknown as FastifyInstance, events }
}

const post = (app: FastifyInstance, body: string, query = '') =>
  app.inject({ method: 'POST', url: `/api/v1/import${query}`, headers: { 'content-type': 'text/csv' }, payload: body })

describe('POST /api/v1/import', () => {
  let built: FastifyInstance | undefined
  afterAll(async () => built?.close())

  it('on build(): imports, answers { imported, rejected, rows }, logs an import event; dryRun writes nothing', async () => {
    const events = new MemoryEventLog()
    built = await build({ store, plant: PLANT, events, now: () => D0 })
    const csv = ['timestamp,kWh', '2025-11-29 00:15,1.25', 'bad,1', '2025-11-29 00:30,2'].join('\n')
    const dry = await post(built, csv, `?device=${encodeURIComponent(MAIN)}&dryRun=true`)
    expect(dry.statusCode).toBe(200)
    expect(dry.json()).toMatchObject({ dryRun: true, imported: 2, rejected: 1, points: 3 })
    expect(await stored(MAIN, ['energy_import_kwh'])).toEqual({})
    expect(await events.query({ kind: 'import' })).toEqual([])
    const res = await post(built, csv, `?device=${encodeURIComponent(MAIN)}&startKwh=10`)
    expect(res.statusCode).toBe(200)
    const body = res.json() as { imported: number; rejected: number; total: number; rows: unknown[]; devices: string[] }
    expect(body).toMatchObject({ layout: 'interval', total: 3, imported: 2, rejected: 1, points: 3, devices: [MAIN], rowsTruncated: false })
    expect(body.rows).toEqual([{ line: 3, column: 'timestamp', code: 'IMPORT_ERR_TIMESTAMP', message: expect.stringContaining('"bad"') }])
    expect((await stored(MAIN, ['energy_import_kwh'])).energy_import_kwh).toEqual([
      [D0, 10],
      [D0 + 15 * MIN, 11.25],
      [D0 + 30 * MIN, 13.25],
    ])
    const ev = await events.query({ kind: 'import' })
    expect(ev.map((e) => [e.tags.enterprise, e.fields.imported, e.fields.rejected, e.fields.principal])).toEqual([['acme', 2, 1, 'anonymous']])
    // The route is in the OpenAPI document, with its query parameters described.
    const doc = (await built.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, { post?: { parameters?: Array<{ name: string; description?: string }> } }>
    }
    const params = doc.paths['/api/v1/import']?.post?.parameters ?? []
    expect(params.map((p) => p.name)).toEqual(expect.arrayContaining(['layout', 'device', 'timezone', 'energyColumn', 'map', 'dryRun']))
    expect(params.every((p) => (p.description ?? '').length > 0)).toBe(true)
  })

  it('intervalPower: mean (the default) also stores the interval mean power; off stores the counter only', async () => {
    const app = await build({ store, plant: PLANT, events: new MemoryEventLog(), now: () => D0 })
    try {
      // 1.25 kWh in 15 min = 5 kW, 2 kWh = 8 kW, each at its interval's start.
      const day = D0 + 2 * 24 * 60 * MIN
      const at = (m: number) => new Date(day + m * MIN).toISOString().replace('.000Z', 'Z')
      const csv = ['timestamp,kWh', `${at(15)},1.25`, `${at(30)},2`].join('\n')
      const off = await post(app, csv, `?device=${encodeURIComponent(MAIN)}&intervalPower=off`)
      expect(off.statusCode).toBe(200)
      expect((await stored(MAIN, ['active_power_kw'], day, day + 86_400_000)).active_power_kw ?? []).toEqual([])
      const mean = await post(app, csv, `?device=${encodeURIComponent(MAIN)}`)
      expect(mean.statusCode).toBe(200)
      expect((await stored(MAIN, ['active_power_kw'], day, day + 86_400_000)).active_power_kw).toEqual([
        [day, 5],
        [day + 15 * MIN, 8],
      ])
      const bad = await post(app, csv, `?device=${encodeURIComponent(MAIN)}&intervalPower=max`)
      expect(bad.statusCode).toBe(400)
    } finally {
      await app.close()
    }
  })

  it('bad input answers with codes: empty, header only, wrong layout, bad query, unknown media type', async () => {
    const { app } = await appAs({ id: 'eng', role: 'engineer', enterprise: 'acme' })
    const empty = await post(app, '')
    expect([empty.statusCode, empty.json().error.code]).toEqual([400, 'API_ERR_BAD_REQUEST'])
    expect(empty.json().error.details.code).toBe('IMPORT_ERR_EMPTY')
    const headerOnly = await post(app, 'timestamp,device,quantity,value\r\n')
    expect([headerOnly.statusCode, headerOnly.json().error.details.code]).toEqual([400, 'IMPORT_ERR_EMPTY'])
    const wrong = await post(app, 'when,what\n1,2\n')
    expect([wrong.statusCode, wrong.json().error.details.code]).toEqual([400, 'IMPORT_ERR_LAYOUT'])
    const badQuery = await post(app, 'timestamp,kwh\n', '?layout=wide&colour=red')
    expect([badQuery.statusCode, badQuery.json().error.code]).toEqual([400, 'API_ERR_VALIDATION'])
    const badMap = await post(app, 'timestamp,kwh\n2025-11-29 00:15,1\n', `?device=${MAIN}&map=nocolon`)
    expect([badMap.statusCode, badMap.json().error.details.code]).toEqual([400, 'IMPORT_ERR_OPTIONS'])
    // Through HTTP too: BOM, CRLF, a quoted field with commas (line 3 is bad: its value).
    const crlf = await post(
      app,
      `\uFEFFtimestamp,device,quantity,value,note\r\n2025-11-29T00:00:00+08:00,${MILL},active_power_kw,5,"a, b"\r\n2025-11-29T00:01:00+08:00,${MILL},active_power_kw,"5,5",x\r\n`,
    )
    expect(crlf.statusCode).toBe(200)
    expect(crlf.json()).toMatchObject({ imported: 1, rejected: 1, rows: [{ line: 3, column: 'value', code: 'IMPORT_ERR_VALUE' }] })
    const xml = await app.inject({ method: 'POST', url: '/api/v1/import', headers: { 'content-type': 'application/xml' }, payload: '<csv/>' })
    expect(xml.statusCode).toBe(415)
  })

  it('an enterprise user imports into its enterprise only: other rows are bad rows; bare ids resolve in its enterprise', async () => {
    const { app, events } = await appAs({ id: 'eng-acme', role: 'engineer', enterprise: 'acme' })
    const csv = [
      'timestamp,device,quantity,value',
      `2025-11-29T00:00:00+08:00,${MILL},active_power_kw,1`,
      `2025-11-29T00:00:00+08:00,${BETA},active_power_kw,2`,
      '2025-11-29T00:01:00+08:00,press-meter,active_power_kw,3',
    ].join('\n')
    const res = await post(app, csv)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ imported: 1, rejected: 2 })
    expect(res.json().rows.map((r: { line: number; code: string }) => [r.line, r.code])).toEqual([
      [3, 'IMPORT_ERR_DEVICE_UNKNOWN'],
      [4, 'IMPORT_ERR_DEVICE_UNKNOWN'],
    ])
    expect(await stored(BETA, ['active_power_kw'])).toEqual({})
    expect((await events.query({ kind: 'import' })).map((e) => e.tags.enterprise)).toEqual(['acme'])
    // The same file by an admin (no enterprise): all three rows.
    const admin = await appAs({ id: 'root', role: 'admin' })
    expect((await post(admin.app, csv)).json()).toMatchObject({ imported: 3, rejected: 0 })
    expect((await admin.events.query({ kind: 'import' })).map((e) => e.tags.enterprise).sort()).toEqual(['acme', 'beta'])
  })

  it("another enterprise's devices and devices that do not exist get the same answer (code and message)", async () => {
    const { app } = await appAs({ id: 'eng-acme', role: 'engineer', enterprise: 'acme' })
    // Existing foreign device, missing device of an existing foreign enterprise and site, missing
    // enterprise, missing device of the importer's own enterprise; then the same as bare ids.
    const names = [BETA, 'beta/xiangyang/press/ghost-meter', 'zeta/nowhere/none/nothing', 'acme/wuhan/rolling-1/ghost-meter']
    const bare = ['press-meter', 'ghost-meter']
    const answerFor = async (device: string, query = ''): Promise<unknown> => {
      const res = await post(app, `timestamp,device,quantity,value\n2025-11-29T00:00:00+08:00,${device},active_power_kw,1\n`, query)
      // The name itself is the only difference allowed: the caller wrote it.
      const { importId: _id, ...body } = res.json() as Record<string, unknown>
      return { status: res.statusCode, body: JSON.parse(JSON.stringify(body).split(device).join('<name>')) as unknown }
    }
    // One after the other: one import at a time per user.
    const inTurn = async <T>(items: string[], f: (d: string) => Promise<T>): Promise<T[]> => {
      const out: T[] = []
      for (const d of items) out.push(await f(d))
      return out
    }
    for (const group of [names, bare]) {
      const answers = await inTurn(group, (d) => answerFor(d))
      for (const a of answers) expect(a).toEqual(answers[0])
      expect(answers[0]).toMatchObject({
        status: 200,
        body: { imported: 0, rejected: 1, rows: [{ line: 2, column: 'device', code: 'IMPORT_ERR_DEVICE_UNKNOWN' }] },
      })
    }
    // Dry run and the ?device= option (interval layout) alike.
    const dry = await inTurn(names, (d) => answerFor(d, '?dryRun=true'))
    for (const a of dry) expect(a).toEqual(dry[0])
    const option = await inTurn(names, async (d) => {
      const res = await post(app, 'timestamp,kwh\n2025-11-29 00:15,1\n', `?device=${encodeURIComponent(d)}`)
      return { status: res.statusCode, body: res.body.split(d).join('<name>') }
    })
    for (const a of option) expect(a).toEqual(option[0])
    expect(option[0]?.status).toBe(400)
    expect(await stored(BETA, ['active_power_kw'])).toEqual({})
  })

  it('operators and the commission may not import', async () => {
    for (const role of ['operator', 'commission'] as const) {
      const { app } = await appAs({ id: role, role })
      const res = await post(app, `timestamp,device,quantity,value\n2025-11-29T00:00:00+08:00,${MILL},active_power_kw,1\n`)
      expect([res.statusCode, res.json().error.code]).toEqual([403, 'API_ERR_FORBIDDEN'])
    }
    expect(await stored(MILL, ['active_power_kw'])).toEqual({})
  })

  it('a body over the limit is refused with 413 before it is parsed', async () => {
    const { app } = await appAs({ id: 'root', role: 'admin' }, 1000)
    const rows = Array.from({ length: 100 }, (_, i) => `2025-11-29T00:${String(i % 60).padStart(2, '0')}:00+08:00,${MILL},active_power_kw,${i}`)
    const res = await post(app, ['timestamp,device,quantity,value', ...rows].join('\n'))
    expect(res.statusCode).toBe(413)
    expect(res.json().error.code).toBe('API_ERR_PAYLOAD_TOO_LARGE')
    expect(await stored(MILL, ['active_power_kw'])).toEqual({})
    // Without a Content-Length (a stream): refused once the count passes the limit.
    const streamed = await app.inject({
      method: 'POST',
      url: '/api/v1/import',
      headers: { 'content-type': 'text/csv' },
      payload: Readable.from(['timestamp,device,quantity,value\n', ...rows.map((r) => `${r}\n`)]),
    })
    expect([streamed.statusCode, streamed.json().error]).toEqual([
      413,
      { code: 'API_ERR_PAYLOAD_TOO_LARGE', message: 'the CSV body is larger than 1000 bytes (api.importMaxBytes)', details: { limit: 1000 } },
    ])
    // Refused before the importer reads (a bad option): the unread body past the limit harms nothing.
    const badOption = await app.inject({
      method: 'POST',
      url: '/api/v1/import?timezone=Mars%2FOlympus',
      headers: { 'content-type': 'text/csv' },
      payload: Readable.from(['timestamp,device,quantity,value\n', ...rows.map((r) => `${r}\n`)]),
    })
    expect([badOption.statusCode, badOption.json().error.details.code]).toEqual([400, 'IMPORT_ERR_OPTIONS'])
    expect(await stored(MILL, ['active_power_kw'])).toEqual({})
  })
})
