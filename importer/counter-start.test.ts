import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { formatImportReport, runImportCommand } from './cli.ts'
import { importCsv, type ImportOptionsInput, type ImportResult } from './index.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [{ id: 'acme', sites: [{ id: 'wuhan', lines: [{ id: 'l1', devices: [{ id: 'main' }] }] }] }],
})
const MAIN = 'acme/wuhan/l1/main'
const FILTER = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'main' }
const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Wall time in Shanghai (UTC+8) → instant. */
const sh = (y: number, mo: number, d: number, h = 0): number => Date.UTC(y, mo - 1, d, h - 8)
/** 2026-03-13 00:00 Shanghai: where file A ends and file B starts. */
const BOUNDARY = sh(2026, 3, 13)

let dir: string
let store: EmbeddedStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-import-counter-'))
  store = createEmbeddedStore({ path: join(dir, 'pw.db') })
})
afterEach(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

const wall = (ts: number): string => new Date(ts + 8 * HOUR).toISOString().slice(0, 16).replace('T', ' ')

/** A `date,kWh` utility export: hourly rows stamped at the interval end, from `from` for `days` days, `kwh` each. */
function intervalFile(name: string, from: number, days: number, kwh: number, extra = ''): string {
  const lines = [`date,kWh${extra ? ',gas' : ''}`]
  for (let ts = from + HOUR; ts <= from + days * DAY; ts += HOUR) lines.push(`${wall(ts)},${kwh}${extra ? `,${extra}` : ''}`)
  const path = join(dir, name)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

const FILE_A = (): string => intervalFile('a.csv', sh(2026, 3, 10), 3, 2) // 72 h × 2 kWh: 0 → 144
const FILE_B = (): string => intervalFile('b.csv', BOUNDARY, 3, 3) // 72 h × 3 kWh: +216

function importFile(path: string, options: ImportOptionsInput = {}): Promise<ImportResult> {
  return importCsv({ path }, { device: 'main', intervalPower: 'off', ...options }, { store, plant: PLANT })
}

/** The stored counter readings in [start, stop): [ts, kWh][]. */
async function counter(start: number, stop: number, field = 'energy_import_kwh'): Promise<[number, number][]> {
  const rows = await store.raw({ measurement: TELEMETRY_MEASUREMENT, fields: [field], filter: FILTER, start, stop, limit: 10_000 })
  return rows.map((r) => [r.ts, r.value])
}

describe('consecutive interval files continue one counter', () => {
  it('two contiguous files: the boundary reading is the first file’s end and the second counts on from it', async () => {
    const a = await importFile(FILE_A())
    expect(a.counterStarts).toEqual([{ device: MAIN, quantity: 'energy_import_kwh', at: sh(2026, 3, 10), value: 0, basis: 'zero' }])
    const b = await importFile(FILE_B())
    expect(b.counterStarts).toEqual([{ device: MAIN, quantity: 'energy_import_kwh', at: BOUNDARY, value: 144, basis: 'stored', storedAt: BOUNDARY }])
    expect(b.warnings).toEqual([])
    // A: 2 kWh an hour from 0 (144 at its end, 03-13 00:00); B: 3 kWh an hour on from 144.
    expect(await counter(BOUNDARY - 2 * HOUR, BOUNDARY + 3 * HOUR)).toEqual([
      [BOUNDARY - 2 * HOUR, 140],
      [BOUNDARY - HOUR, 142],
      [BOUNDARY, 144],
      [BOUNDARY + HOUR, 147],
      [BOUNDARY + 2 * HOUR, 150],
    ])
    // 144 + 72 × 3 = 360 at B's end (03-16 00:00); never a step back across both files.
    const all = await counter(sh(2026, 3, 10), sh(2026, 3, 17))
    expect(all.length).toBe(145)
    expect(all.at(-1)).toEqual([sh(2026, 3, 16), 360])
    expect(all.every(([, v], i) => i === 0 || v > (all[i - 1] as [number, number])[1])).toBe(true)
  })

  it('re-importing either file writes the same values (idempotent) and says it continued from the store', async () => {
    await importFile(FILE_A())
    await importFile(FILE_B())
    const before = await counter(sh(2026, 3, 10), sh(2026, 3, 17))
    const b = await importFile(FILE_B())
    expect(b.counterStarts.map((c) => [c.value, c.basis, c.storedAt])).toEqual([[144, 'stored', BOUNDARY]])
    // A again: its own first reading (0 at 03-10 00:00) is in the store now; B's 147 after A's end is above 144.
    const a = await importFile(FILE_A())
    expect(a.counterStarts.map((c) => [c.value, c.basis, c.storedAt])).toEqual([[0, 'stored', sh(2026, 3, 10)]])
    expect([a.warnings, b.warnings]).toEqual([[], []])
    expect(await counter(sh(2026, 3, 10), sh(2026, 3, 17))).toEqual(before)
  })

  it('an explicit startKwh wins over the store', async () => {
    await importFile(FILE_A())
    const b = await importFile(FILE_B(), { startKwh: 1000 })
    expect(b.counterStarts).toEqual([{ device: MAIN, quantity: 'energy_import_kwh', at: BOUNDARY, value: 1000, basis: 'given' }])
    expect(await counter(BOUNDARY - HOUR, BOUNDARY + 2 * HOUR)).toEqual([
      [BOUNDARY - HOUR, 142],
      [BOUNDARY, 1000],
      [BOUNDARY + HOUR, 1003],
    ])
  })

  it('after a hole between files: continues from the latest reading before, within 366 days', async () => {
    await importFile(FILE_A())
    // C starts 2 days after A ended: continues from A's 144 (at 03-13 00:00); the hole shows no consumption.
    const c = await importFile(intervalFile('c.csv', sh(2026, 3, 15), 1, 1))
    expect(c.counterStarts.map((s) => [s.at, s.value, s.basis, s.storedAt])).toEqual([[sh(2026, 3, 15), 144, 'stored', BOUNDARY]])
    expect(await counter(sh(2026, 3, 15), sh(2026, 3, 15) + 2 * HOUR)).toEqual([
      [sh(2026, 3, 15), 144],
      [sh(2026, 3, 15) + HOUR, 145],
    ])
    // A reading more than 366 days back is not continued from.
    const d = await importFile(intervalFile('d.csv', sh(2027, 3, 20), 1, 1))
    expect(d.counterStarts.map((s) => [s.value, s.basis])).toEqual([[0, 'zero']])
  })

  it('cumulative extra columns (gas_m3) continue from the store too', async () => {
    await importFile(intervalFile('a.csv', sh(2026, 3, 10), 1, 2, '0.5'), { columns: { gas: { quantity: 'gas_m3', scale: 1 } } })
    const b = await importFile(intervalFile('b.csv', sh(2026, 3, 11), 1, 2, '0.5'), { columns: { gas: { quantity: 'gas_m3', scale: 1 } } })
    // Day 1: 24 × 2 kWh = 48, 24 × 0.5 m³ = 12.
    expect(b.counterStarts.map((s) => [s.quantity, s.value, s.basis])).toEqual([
      ['energy_import_kwh', 48, 'stored'],
      ['gas_m3', 12, 'stored'],
    ])
    expect(await counter(sh(2026, 3, 12) - HOUR, sh(2026, 3, 12) + 1, 'gas_m3')).toEqual([
      [sh(2026, 3, 12) - HOUR, 23.5],
      [sh(2026, 3, 12), 24],
    ])
  })

  it('a file imported after a later one: a coded warning, later data not rewritten; importing the later file again mends it', async () => {
    await importFile(FILE_B()) // B alone: 0 at 03-13 00:00, 3 at 01:00 …
    const a = await importFile(FILE_A())
    expect(a.counterStarts.map((s) => [s.value, s.basis])).toEqual([[0, 'zero']])
    expect(a.warnings).toEqual([
      {
        code: 'IMPORT_WARN_COUNTER_BACKWARDS',
        device: MAIN,
        quantity: 'energy_import_kwh',
        message: expect.stringContaining(
          `ends at ${new Date(BOUNDARY).toISOString()} with 144, but the store already holds 3 at ${new Date(BOUNDARY + HOUR).toISOString()}`,
        ),
      },
    ])
    expect(a.warnings[0]?.message).toMatch(/Import the later file\(s\) again now, in time order .* or give startKwh$/)
    // A's own end replaced B's start (0 → 144) at the boundary; B's later readings are as they were.
    expect(await counter(BOUNDARY, BOUNDARY + 2 * HOUR)).toEqual([
      [BOUNDARY, 144],
      [BOUNDARY + HOUR, 3],
    ])
    const again = await importFile(FILE_B())
    expect(again.counterStarts.map((s) => [s.value, s.basis, s.storedAt])).toEqual([[144, 'stored', BOUNDARY]])
    expect(again.warnings).toEqual([])
    expect(await counter(BOUNDARY, BOUNDARY + 2 * HOUR)).toEqual([
      [BOUNDARY, 144],
      [BOUNDARY + HOUR, 147],
    ])
  })

  it('finds the previous file’s end after its raw points expired (from the 1-minute roll-up)', async () => {
    await store.close()
    const now = { ts: sh(2026, 6, 1) }
    store = createEmbeddedStore({
      path: join(dir, 'retained.db'),
      retention: { rawDays: 1, minuteDays: 400, quarterHourDays: 3660 },
      clock: () => now.ts,
      maintenanceIntervalMs: 0,
    })
    await importFile(FILE_A())
    store.maintain()
    expect(await counter(sh(2026, 3, 10), sh(2026, 3, 14))).toEqual([]) // raw expired
    const b = await importFile(FILE_B())
    expect(b.counterStarts.map((s) => [s.value, s.basis, s.storedAt])).toEqual([[144, 'stored', BOUNDARY]])
    expect(await counter(BOUNDARY, BOUNDARY + 2 * HOUR)).toEqual([
      [BOUNDARY, 144],
      [BOUNDARY + HOUR, 147],
    ])
  })
})

describe('plantwatt import prints where the counter starts and why', () => {
  it('zero for the first file, stored for the next, and the warning of an out-of-order file', async () => {
    const storage = { backend: 'embedded' as const, path: join(dir, 'cli.db') }
    const opts = { device: 'main', intervalPower: 'off' as const }
    const a = formatImportReport(await runImportCommand(FILE_A(), { plant: PLANT, storage }, opts))
    expect(a).toContain(`counter ${MAIN} energy_import_kwh starts at 0 on 2026-03-09T16:00:00.000Z: zero (no earlier reading in the store)`)
    const b = formatImportReport(await runImportCommand(FILE_B(), { plant: PLANT, storage }, opts))
    expect(b).toContain(`counter ${MAIN} energy_import_kwh starts at 144 on 2026-03-12T16:00:00.000Z: stored at that instant (continued)`)
    // C starts a day after B ended (03-16 00:00, 360 kWh).
    const c = formatImportReport(await runImportCommand(intervalFile('c.csv', sh(2026, 3, 17), 1, 1), { plant: PLANT, storage }, opts))
    expect(c).toContain('starts at 360 on 2026-03-16T16:00:00.000Z: stored at 2026-03-15T16:00:00.000Z (latest earlier reading, continued)')
    const given = formatImportReport(await runImportCommand(FILE_B(), { plant: PLANT, storage }, { ...opts, startKwh: 144 }))
    expect(given).toContain('starts at 144 on 2026-03-12T16:00:00.000Z: given (startKwh)')
    const early = formatImportReport(await runImportCommand(intervalFile('e.csv', sh(2026, 3, 1), 1, 1), { plant: PLANT, storage }, opts))
    expect(early).toContain('IMPORT_WARN_COUNTER_BACKWARDS: acme/wuhan/l1/main energy_import_kwh: the file ends at 2026-03-01T16:00:00.000Z with 24')
  })
})
