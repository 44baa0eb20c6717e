import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { MeterEventBook, meterEventReader } from '../records/meter-events.ts'
import { createRecordStore, type RecordStore } from '../records/store.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import type { EventLog } from '../storage/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/index.ts'
import { costReport } from './cost.ts'
import { counterRollup, invalidateRollup } from './counter-rollup.ts'
import { energyReport, scopeEnergyIntervals, type ReportDeps } from './energy.ts'
import { qualityReportOf } from './quality.ts'
import { parseScope } from './scope.ts'

// 2026-03-02 00:00 Asia/Shanghai
const DAY0 = Date.UTC(2026, 2, 1, 16)
const MIN = 60_000
const H = 60 * MIN
const SWAP = DAY0 + 607 * MIN // 10:07

const model: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'acme',
        sites: [
          {
            id: 'w1',
            lines: [
              {
                id: 'l1',
                mainMeter: 'main',
                devices: [{ id: 'main' }, { id: 'sub', counterModulus: { energy_import_kwh: 65_536 } }],
              },
            ],
          },
        ],
      },
    ],
  },
  'test plant',
)
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
const sub = { ...main, device: 'sub' }

/**
 * One day of 1-minute samples at 600 kW (10 kWh a minute, 14,400 kWh a day):
 *  - main: the old meter 90,000 + 10·m up to 10:06; replaced at 10:07 by a new meter that reads
 *    60,000 + 10·(m − 607) from 10:07 on (the 10:07 sample is the new meter's 60,000);
 *  - sub: a uint16 kWh register, (64,000 + 10·m) mod 65,536: it wraps at 02:33:36.
 */
function day(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  for (let m = 0; m <= 1440; m++) {
    const ts = DAY0 + m * MIN
    const mainKwh = m < 607 ? 90_000 + 10 * m : 60_000 + 10 * (m - 607)
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: main, fields: { energy_import_kwh: mainKwh }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: sub, fields: { energy_import_kwh: (64_000 + 10 * m) % 65_536 }, ts })
  }
  return pts
}

describe('reports across meter events (embedded store and event log)', () => {
  let dir: string
  let store: TelemetryStore
  let log: EventLog
  let records: RecordStore
  let book: MeterEventBook
  const now = DAY0 + 4 * 24 * H
  const range = { start: DAY0, end: DAY0 + 24 * H }
  const l1 = parseScope('acme/w1/l1')
  let deps: ReportDeps
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-energy-events-'))
    store = createEmbeddedStore({ path: join(dir, 'store.db') })
    log = createEmbeddedEventLog({ path: join(dir, 'store.db') })
    await store.write(day())
    records = createRecordStore(log, { now: () => now })
    book = new MeterEventBook(records, model, store, { now: () => now, onChange: (c) => invalidateRollup(store, [c.device], c.fromTs, [c.quantity]) })
    // A roll-up that keeps settled answers: the one that must not hide an event recorded later.
    deps = { store, model, now: () => now, rollup: counterRollup(), meterEvents: meterEventReader(records) }
  })
  afterAll(async () => {
    await log.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('without a record the swap is an unexplained reset: the quarter is unknown, coverage says so, quality finds it', async () => {
    // Quarter readings 10:00 = 96,000 (old), 10:15 = 60,080 (new): no energy and no coverage for
    // 10:00–10:15 (150 kWh unknown). Day: 14,400 − 150 = 14,250 kWh, coverage 95/96.
    const r = await energyReport(deps, l1, range, 'hour')
    expect(r.energyKwh).toBeCloseTo(14_250, 6)
    expect(r.coverage).toBeCloseTo(95 / 96, 9)
    expect(r.rows[10]).toMatchObject({ energyKwh: 450, coverage: 0.75 })
    // The answer is settled (4 days old): the roll-up keeps it, and the priced cost too.
    expect(deps.rollup?.answers.size).toBeGreaterThan(0)
    expect((await costReport(deps, l1, range, 'total')).energyKwh).toBeCloseTo(14_250, 6)
    const q = await qualityReportOf(deps, parseScope('acme/w1/l1/main'), range, { limit: 10_000 })
    expect(q.rows[0]).toMatchObject({ resets: 1, unexplainedResets: 1, meterEvents: 0, rollovers: 0 })
    expect(q.findings).toEqual([
      expect.objectContaining({
        kind: 'unexplained-reset',
        device: 'acme/w1/l1/main',
        quantity: 'energy_import_kwh',
        from: SWAP - MIN,
        to: SWAP,
        detail: '96060 → 60000',
      }),
    ])
  })

  it('with the record (entered later) every report is exact: 0 % lost, also through the roll-up cache', async () => {
    await book.record({ type: 'replacement', ...main, ts: SWAP, oldFinalReading: 96_070, newStartReading: 60_000 }, { user: 'li.wei', reason: 'meter swap' })
    // 10:00–10:15: (96,070 − 96,000) + (60,080 − 60,000) = 70 + 80 = 150 kWh. Day 14,400, coverage 1.
    const r = await energyReport(deps, l1, range, 'hour')
    expect(r.energyKwh).toBeCloseTo(14_400, 6)
    expect(r.coverage).toBe(1)
    expect(r.rows[10]).toMatchObject({ energyKwh: 600, coverage: 1 })
    // The cost answer was cached under the roll-up's generation: the record's invalidation renews it.
    expect((await costReport(deps, l1, range, 'total')).energyKwh).toBeCloseTo(14_400, 6)
    const [line] = await scopeEnergyIntervals(deps, l1, range)
    expect(line?.intervals.reduce((s, i) => s + i.amount, 0)).toBeCloseTo(14_400, 6)
    expect(line?.intervals.filter((i) => i.start >= SWAP - 7 * MIN && i.end <= SWAP + 8 * MIN).map((i) => [i.start, i.end, i.amount])).toEqual([
      [SWAP - 7 * MIN, SWAP, 70],
      [SWAP, SWAP + 8 * MIN, 80],
    ])
    const q = await qualityReportOf(deps, parseScope('acme/w1/l1/main'), range, { limit: 10_000 })
    expect(q.rows[0]).toMatchObject({ resets: 0, unexplainedResets: 0, meterEvents: 1 })
    expect(q.findings).toEqual([])
  })

  it("a rollover at the model's counterModulus is a rollover, not a reset", async () => {
    // sub: 65,530 at 02:33 → 4 at 02:34: 65,536 − 65,530 + 4 = 10 kWh; the day is 14,400 kWh, coverage 1.
    const r = await energyReport(deps, parseScope('acme/w1/l1/sub'), range, 'total')
    expect(r.energyKwh).toBeCloseTo(14_400, 6)
    expect(r.coverage).toBe(1)
    const q = await qualityReportOf(deps, parseScope('acme/w1/l1/sub'), range, { limit: 10_000 })
    expect(q.rows[0]).toMatchObject({ resets: 0, unexplainedResets: 0, rollovers: 1 })
    // Without the modulus the same wrap is an unexplained reset: the 02:30–02:45 quarter is unknown.
    const plain = structuredClone(model)
    delete plain.enterprises[0]?.sites[0]?.lines[0]?.devices[1]?.counterModulus
    const bare = await energyReport({ ...deps, model: plain }, parseScope('acme/w1/l1/sub'), range, 'total')
    expect(bare.energyKwh).toBeCloseTo(14_400 - 150, 6)
    expect(bare.coverage).toBeCloseTo(95 / 96, 9)
  })
})
