import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { MeterEventBook } from '../records/meter-events.ts'
import { createRecordStore } from '../records/store.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import type { EventLog } from '../storage/events.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/index.ts'
import { AlertEngine, type AlertTransition } from './engine.ts'
import { RecordedDrops } from './recorded-drops.ts'
import { validateAlertsConfig } from './rules.ts'
import { describeAlert } from './text.ts'

/** The counter rule with the plant model's register modulus and the recorded meter events (embedded event log). */
const T0 = Date.UTC(2026, 0, 4, 16, 0)
const MIN = 60_000
const plant: PlantModel = validateConfig(
  PlantModelSchema,
  {
    timezone: 'Asia/Shanghai',
    enterprises: [
      {
        id: 'acme',
        sites: [{ id: 'w1', lines: [{ id: 'l1', devices: [{ id: 'main' }, { id: 'old16', counterModulus: { energy_import_kwh: 65_536 } }] }] }],
      },
    ],
  },
  'plant',
)
const main = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' }
const old16 = { ...main, device: 'old16' }

function feed(e: AlertEngine, device: typeof main, values: number[]): AlertTransition[] {
  return values.flatMap((v, i) => e.ingest(device, { ts: T0 + i * MIN, values: { energy_import_kwh: v } }))
}

describe('counter rule: rollover, recorded event, unexplained reset', () => {
  let dir: string
  let store: TelemetryStore
  let log: EventLog
  let drops: RecordedDrops
  const rules = validateAlertsConfig({ rules: [{ id: 'ctr', kind: 'counter', quantity: 'energy_import_kwh' }] }).rules
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-recorded-drops-'))
    store = createEmbeddedStore({ path: join(dir, 'store.db') })
    log = createEmbeddedEventLog({ path: join(dir, 'store.db') })
    drops = new RecordedDrops(log, () => T0 + 60 * MIN)
  })
  afterAll(async () => {
    await log.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a wrap at the counterModulus is quiet; the same drop elsewhere is an unexplained reset', () => {
    const e = new AlertEngine({ plant, rules, explainsDrop: (k, q, a, b) => drops.explains(k, q, a, b) })
    expect(feed(e, old16, [65_530, 65_535, 4, 9])).toEqual([])
    const opened = feed(e, main, [65_530, 65_535, 4, 9])
    expect(opened.map((t) => [t.event, (t.ts - T0) / MIN])).toEqual([['opened', 2]])
    const text = describeAlert(opened[0]?.alert as NonNullable<AlertTransition['alert']>, 'opened', 'main', '', '')
    expect(text.en).toBe('[alert] main (l1): unexplained reset of counter energy_import_kwh: 65535 → 4.00 (no meter replacement or reset recorded)')
  })

  it('a drop a recorded replacement explains raises nothing', async () => {
    // The old meter reads 100,000 at 00:01; swapped at 00:02 for one starting at 60,000.
    await store.write(
      [100_000, 100_010, 60_000, 60_010].map((v, i) => ({
        measurement: TELEMETRY_MEASUREMENT,
        tags: main,
        fields: { energy_import_kwh: v },
        ts: T0 + i * MIN,
      })),
    )
    const book = new MeterEventBook(createRecordStore(log), plant, store, { now: () => T0 + 60 * MIN })
    await book.record({ type: 'replacement', ...main, ts: T0 + 2 * MIN, oldFinalReading: 100_010, newStartReading: 60_000 }, { user: 'li.wei', reason: 'swap' })
    await drops.refresh()
    const e = new AlertEngine({ plant, rules, explainsDrop: (k, q, a, b) => drops.explains(k, q, a, b) })
    expect(feed(e, main, [100_000, 100_010, 60_000, 60_010])).toEqual([])
    // Without the record's window (another device) the same drop fires.
    expect(drops.explains('acme/w1/l1/main', 'energy_import_kwh', T0 + MIN, T0 + 2 * MIN)).toBe(true)
    expect(drops.explains('acme/w1/l1/main', 'energy_import_kwh', T0 + 2 * MIN, T0 + 3 * MIN)).toBe(false)
  })
})
