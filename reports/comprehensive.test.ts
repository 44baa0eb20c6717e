import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { isPlantWattError } from '../core/errors.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/index.ts'
import { createRecordReader, createRecordStore, EntryBook } from '../records/index.ts'
import { comprehensiveReport } from './comprehensive.ts'
import type { ReportDeps } from './energy.ts'
import { parseScope } from './scope.ts'
import { secReport } from './sec.ts'

// Asia/Shanghai (UTC+8): local midnight 2026-03-02 = 2026-03-01T16:00Z.
const DAY0 = Date.UTC(2026, 2, 1, 16)
const DAY = 24 * HOUR_MS
const day = { start: DAY0, end: DAY0 + DAY }

const plant = (incomers: boolean): PlantModel =>
  validateConfig(
    PlantModelSchema,
    {
      timezone: 'Asia/Shanghai',
      enterprises: [
        {
          id: 'hbc',
          region: 'hubei',
          sites: [
            {
              id: 'p1',
              ...(incomers ? { incomers: ['grid/in1'] } : {}),
              lines: [
                ...(incomers ? [{ id: 'grid', devices: [{ id: 'in1' }] }] : []),
                {
                  id: 'kiln',
                  mainMeter: 'm1',
                  product: { id: 'clinker', unit: 't', productionDevice: 'belt', benchmark: 'cement-clinker' },
                  devices: [{ id: 'm1' }, { id: 'belt', kind: 'plc' }],
                },
                { id: 'mill', devices: [{ id: 'm2' }] },
              ],
            },
          ],
        },
      ],
    },
    'comprehensive test plant',
  )

/**
 * A day of 5-minute counters (from an hour before to an hour after, so every quarter is read):
 * incomer in1 3000 kWh/h (72 000 kWh), kiln main meter m1 55 000 kWh, mill m2 500 kWh/h (12 000 kWh),
 * kiln belt 1000 t of clinker.
 */
function points(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  const tags = (line: string, device: string) => ({ enterprise: 'hbc', site: 'p1', line, device })
  for (let ts = DAY0 - HOUR_MS; ts <= DAY0 + DAY + HOUR_MS; ts += 5 * MINUTE_MS) {
    const h = (ts - (DAY0 - HOUR_MS)) / HOUR_MS
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('grid', 'in1'), fields: { energy_import_kwh: 3000 * h }, ts })
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('kiln', 'm1'), fields: { energy_import_kwh: (55_000 / 24) * h }, ts })
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('kiln', 'belt'), fields: { output_t: (1000 / 24) * h }, ts })
    out.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('mill', 'm2'), fields: { energy_import_kwh: 500 * h }, ts })
  }
  return out
}

describe('comprehensive energy and grades from meters and entries (embedded store, record store)', () => {
  let dir: string
  let store: TelemetryStore
  let log: EventLog
  let deps: ReportDeps
  const withIncomers = plant(true)
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-comprehensive-'))
    store = await createEmbeddedStore({ path: join(dir, 'telemetry.db') })
    await store.write(points())
    log = await openEventLog({ backend: 'embedded', path: join(dir, 'plantwatt.db') })
    const records = createRecordStore(log, { now: () => DAY0 + 2 * DAY })
    // The kiln's weighbridge total for the day with its measured NCV: 23 446.08 kJ/kg = 0.8 kgce/kg.
    await new EntryBook(records, withIncomers).submit(
      [
        {
          kind: 'energy',
          enterprise: 'hbc',
          site: 'p1',
          line: 'kiln',
          carrier: 'raw-coal',
          direction: 'import',
          amount: 125,
          unit: 't',
          start: DAY0,
          end: DAY0 + DAY,
          ncvKjPerUnit: 23_446_080,
          source: 'weighbridge',
        },
      ],
      { user: 'energy-manager' },
    )
    deps = { store, model: withIncomers, now: () => DAY0 + 3 * DAY, records: createRecordReader(records) }
  })
  afterAll(async () => {
    await store?.close()
    await log?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a line: its electricity meter plus its coal entry at the measured NCV', async () => {
    const r = await comprehensiveReport(deps, parseScope('hbc/p1/kiln'), day, 'day')
    // 55 000 kWh × 0.1229 = 6 759.5 kgce; 125 000 kg × 0.8 = 100 000 kgce
    expect(r.kgce).toBeCloseTo(106_759.5, 4)
    expect(r.tce).toBeCloseTo(106.7595, 7)
    const byCarrier = Object.fromEntries(r.node.flows.map((f) => [f.carrier, f]))
    expect(byCarrier.electricity).toMatchObject({ source: 'meter', amount: expect.closeTo(55_000, 4), coverage: 1, refs: ['hbc/p1/kiln/m1'] })
    expect(byCarrier['raw-coal']).toMatchObject({ source: 'entry', amount: expect.closeTo(125_000, 6), conversion: { method: 'measured-ncv' } })
    expect(r.entriesRead).toBe(true)
    expect(r.basis.standard).toBe('GB/T 2589-2020')
  })

  it('an enterprise from its incomers, the share no line covers its own row', async () => {
    const r = await comprehensiveReport(deps, parseScope('hbc'), day, 'day')
    // incomer 72 000 kWh × 0.1229 = 8 848.8 kgce + coal 100 000 (no incomer meters coal: from the kiln's entry)
    expect(r.kgce).toBeCloseTo(108_848.8, 4)
    const site = r.node.children[0]
    expect(site).toMatchObject({ level: 'site', totalBasis: 'incomers', incomers: ['grid/in1'] })
    const unc = site?.children.find((c) => c.level === 'uncovered')
    // 72 000 − 55 000 − 12 000 = 5 000 kWh × 0.1229 = 614.5 kgce
    expect(unc?.flows.find((f) => f.carrier === 'electricity')?.amount).toBeCloseTo(5000, 4)
    expect(unc?.kgce).toBeCloseTo(614.5, 4)
    // the incomer's own line adds nothing (never line + incomer)
    expect(site?.children.find((c) => c.path === 'hbc/p1/grid')?.kgce).toBe(0)
  })

  it('without incomers the enterprise is the sum of its lines, and says so', async () => {
    const r = await comprehensiveReport({ ...deps, model: plant(false) }, parseScope('hbc'), day, 'day')
    // (55 000 + 12 000) kWh × 0.1229 = 8 234.3 + 100 000
    expect(r.kgce).toBeCloseTo(108_234.3, 4)
    expect(r.node.children[0]).toMatchObject({ totalBasis: 'sum-of-lines' })
    expect(r.node.children[0]?.children.some((c) => c.level === 'uncovered')).toBe(false)
  })

  it('grades the clinker line on 综合能耗 with its coal, and on 综合电耗; without entries it is ungraded with the reason', async () => {
    const s = await secReport(deps, parseScope('hbc/p1/kiln'), day, 'day')
    const row = s.rows[0]
    // 106 759.5 kgce / 1000 t: NDRC 标杆 100 < x ≤ 基准 117; GB level 2 (≤ 107)
    expect(row?.value).toBeCloseTo(106.7595, 6)
    expect(row?.ndrc).toMatchObject({ level: 'compliant', labelZh: '达到基准水平' })
    expect(row?.gb).toMatchObject({ level: 2, standard: 'GB 16780-2021' })
    expect(row?.conversionBasis).toMatch(/GB\/T 2589-2020.*0\.1229/)
    expect(row?.indicators[1]).toMatchObject({ product: 'cement-clinker-electricity', value: expect.closeTo(55, 6), gb: { level: 2 } })
    const { records: _, ...meterOnly } = deps
    const bare = (await secReport(meterOnly, parseScope('hbc/p1/kiln'), day, 'day')).rows[0]
    expect(bare?.value).toBeNull()
    expect(bare?.ndrc).toBeNull()
    expect(bare?.ungraded?.code).toBe('CARRIER_NOT_METERED')
    expect(bare?.note).toMatch(/^燃料未计量 \/ fuel not metered: raw-coal/)
    expect(bare?.indicators[1]?.value).toBeCloseTo(55, 6)
  })

  it('refuses a device scope with a coded error', async () => {
    await expect(comprehensiveReport(deps, parseScope('hbc/p1/kiln/m1'), day, 'day')).rejects.toSatisfy((e) => isPlantWattError(e, 'REPORTS_ERR_INPUT'))
  })
})
