import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MeterEventBook } from '../records/meter-events.ts'
import { reportReadersOf } from '../records/reader.ts'
import { createRecordStore } from '../records/store.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import type { EventLog } from '../storage/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/index.ts'
import { billOfAccount } from './bill.ts'
import { counterRollup, invalidateRollup } from './counter-rollup.ts'
import type { ReportDeps } from './energy.ts'
import { APRIL, billModel, MARCH, MIN } from './testing/bill-fixture.ts'

// Account aux of reports/testing/bill-fixture.ts: meter b at a steady 104 kW all March, 77,376 kWh
// (104 kW × 744 h). Here b is replaced on 15 March at 10:07:30 local: the old meter reads on to its
// final value, the new one starts at 10 kWh. The bill must book the whole month across the swap.
const SWAP = MARCH + 14 * 24 * 60 * MIN + (10 * 60 + 7) * MIN + 30_000
const KW = 104
const kwhOld = (ts: number): number => 5000 + (KW * (ts - (MARCH - 60 * MIN))) / 3_600_000
const kwhNew = (ts: number): number => 10 + (KW * (ts - SWAP)) / 3_600_000

function points(): TelemetryPoint[] {
  const out: TelemetryPoint[] = []
  for (let ts = MARCH - 60 * MIN; ts <= APRIL + MIN; ts += MIN) {
    const kwh = ts < SWAP ? kwhOld(ts) : kwhNew(ts)
    out.push({
      measurement: TELEMETRY_MEASUREMENT,
      tags: { enterprise: 'steel', site: 'works', line: 'mill', device: 'b' },
      fields: { energy_import_kwh: kwh, reactive_energy_import_kvarh: 1000 + 0.3 * (kwhOld(ts) - 5000) },
      ts,
    })
  }
  return out
}

describe('bill across a recorded meter replacement (embedded store and event log)', () => {
  let dir: string
  let store: TelemetryStore
  let log: EventLog
  let book: MeterEventBook
  let deps: ReportDeps
  const now = APRIL + 2 * 24 * 60 * MIN
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-bill-events-'))
    store = createEmbeddedStore({ path: join(dir, 'store.db') })
    log = createEmbeddedEventLog({ path: join(dir, 'store.db') })
    await store.write(points())
    book = new MeterEventBook(createRecordStore(log, { now: () => now }), billModel, store, {
      now: () => now,
      onChange: (c) => invalidateRollup(store, [c.device], c.fromTs, [c.quantity]),
    })
    // The readers every report process passes, and a roll-up that keeps settled answers.
    deps = { store, model: billModel, now: () => now, rollup: counterRollup(), ...reportReadersOf(log) }
  }, 120_000)
  afterAll(async () => {
    await log.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('without a record the minute across the swap is an unexplained reset: 104/60 kWh missing', async () => {
    const b = await billOfAccount(deps, 'steel/works/aux', '2026-03')
    // 77,376 − 1.7333 (the 10:07 → 10:08 minute's pair reads old 10:07 → new 10:08: a drop, booked as nothing)
    expect(b.energyKwh).toBeCloseTo(77_376 - KW / 60, 4)
    expect(b.readings.find((r) => r.quantity === 'energy_import_kwh')).toMatchObject({ startValue: expect.closeTo(kwhOld(MARCH), 6) })
  }, 30_000)

  it('with the record (entered later) the month is exact, and the cached bill is renewed', async () => {
    const oldFinal = kwhOld(SWAP)
    await book.record(
      {
        type: 'replacement',
        enterprise: 'steel',
        site: 'works',
        line: 'mill',
        device: 'b',
        quantity: 'energy_import_kwh',
        ts: SWAP,
        oldFinalReading: oldFinal,
        newStartReading: 10,
      },
      { user: 'li.wei', reason: 'meter b replaced' },
    )
    const b = await billOfAccount(deps, 'steel/works/aux', '2026-03')
    // (oldFinal − old 10:07) + (new 10:08 − 10) = 104 kW × 1 min: nothing lost.
    expect(b.energyKwh).toBeCloseTo(77_376, 4)
    // The end reading is the new meter's: 10 + 104 kW from the swap to 1 April 00:00.
    expect(b.readings.find((r) => r.quantity === 'energy_import_kwh')).toMatchObject({ endTs: APRIL, endValue: expect.closeTo(kwhNew(APRIL), 6) })
  }, 30_000)
})
