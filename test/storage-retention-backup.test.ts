import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { costReport } from '../reports/cost.ts'
import { counterRollup, type CounterRollup } from '../reports/counter-rollup.ts'
import { demandReport } from '../reports/demand.ts'
import { energyReport, productionReport, type ReportDeps } from '../reports/energy.ts'
import { monthlyReport } from '../reports/monthly.ts'
import { parseScope } from '../reports/scope.ts'
import { AFTER, APRIL, H, MAR2, MARCH, model, points } from '../reports/testing/figures-fixture.ts'
import { backupEmbedded, edgeBufferExtras, restoreEmbedded } from '../storage/embedded/backup.ts'
import { createEmbeddedEventLog } from '../storage/embedded/events.ts'
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryPoint } from '../storage/store.ts'

const DAY = 24 * H
const march = { start: MARCH, end: APRIL }

/** Every report of the figures fixture that reads the store, as plain data (reports/counter-rollup.test.ts reads the same). */
async function answers(store: EmbeddedStore, rollup?: CounterRollup) {
  const deps: ReportDeps = { store, model, now: () => AFTER, ...(rollup ? { rollup } : {}) }
  const l1 = parseScope('acme/w1/l1')
  return {
    hour: (await energyReport(deps, parseScope('acme'), march, 'hour')).rows,
    shift: (await energyReport(deps, l1, march, 'shift')).rows,
    month: (await energyReport(deps, parseScope('acme'), march, 'month')).rows,
    production: (await productionReport(deps, l1, march, 'day')).rows,
    cost: (await costReport(deps, parseScope('acme'), march, 'day')).rows,
    demand: (await demandReport(deps, parseScope('acme/w2'), { start: MAR2, end: MAR2 + DAY }, '15m')).rows,
    monthly: (await monthlyReport(deps, l1, march)).rows,
  }
}

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-retention-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function open(path: string, clock: () => number): EmbeddedStore {
  const store = createEmbeddedStore({ path, retention: { rawDays: 90 }, clock, maintenanceIntervalMs: 0 })
  cleanups.push(() => store.close())
  return store
}

describe('reports over the roll-ups', () => {
  it('give the same numbers from raw points, from the roll-ups, and after the raw points expired', async () => {
    const dir = tempDir()
    const raw = createEmbeddedStore({ path: join(dir, 'raw.db') })
    cleanups.push(() => raw.close())
    await raw.write(points())
    const fromRaw = await answers(raw)

    let now = AFTER
    const store = open(join(dir, 'kept.db'), () => now)
    await store.write(points())
    store.maintain()
    expect(store.horizons().rolledTo).toBe(AFTER - 60_000)
    const rolled = await answers(store)
    expect(rolled).toEqual(fromRaw)

    now = AFTER + 91 * DAY
    store.maintain()
    const db = new Database(join(dir, 'kept.db'), { readonly: true })
    expect(db.prepare('SELECT count(*) AS n FROM points').get()).toEqual({ n: 0 })
    db.close()
    expect(await answers(store)).toEqual(rolled)
    // As the API asks: with the reports' counter roll-up (counter_15m is kept, its state written at ts 0).
    expect(await answers(store, counterRollup())).toEqual(rolled)
    store.maintain()
    expect(await answers(store, counterRollup({ maxCachedAnswers: 0 }))).toEqual(rolled)
    // Hand-worked anchor (reports/figures.test.ts): acme's March = w1's main meter, 31 d × 2400 kWh − 25 kWh
    // lost at its reset = 74,375 kWh, + w2's meter on 2 March (24 h × 100 kW + 1 h × 200 kW more = 2,600 kWh).
    expect(rolled.month.map((r) => [r.scope, r.energyKwh])).toEqual([['acme', 76_975]])
  })
})

describe('backup and restore of the embedded store', () => {
  it('backs up while another connection writes, restores into a new folder, and every report and event is equal', async () => {
    const dir = tempDir()
    const path = join(dir, 'live', 'plantwatt.db')
    const store = open(path, () => AFTER)
    await store.write(points())
    store.maintain()
    const events = createEmbeddedEventLog({ path })
    cleanups.push(() => events.close())
    await events.append([{ kind: 'alert_event', tags: { rule: 'device-offline', device: 'main' }, ts: MAR2, fields: { state: 'firing', value: 1 } }])
    // An edge agent's disk buffer that is not running (a running one holds it locked and is skipped).
    const bufferDir = join(dir, 'live', 'edge-buffer')
    mkdirSync(bufferDir)
    const edgeDb = new Database(join(bufferDir, 'edge-1.sqlite'))
    edgeDb.exec("CREATE TABLE samples (id INTEGER PRIMARY KEY, key TEXT, body TEXT); INSERT INTO samples (key, body) VALUES ('acme/w1/l1/main', '{\"seq\":7}')")
    edgeDb.close()
    const locked = new Database(join(bufferDir, 'edge-2.sqlite'))
    locked.pragma('locking_mode = EXCLUSIVE')
    locked.pragma('journal_mode = WAL')
    locked.exec('CREATE TABLE samples (id INTEGER PRIMARY KEY)')
    cleanups.push(() => void locked.close())

    // "Ingest": another connection keeps writing April samples while the backup runs.
    const writer = createEmbeddedStore({ path })
    cleanups.push(() => writer.close())
    let writing = true
    let written = 0
    const ingest = (async () => {
      while (writing) {
        const batch: TelemetryPoint[] = Array.from({ length: 500 }, (_, k) => ({
          measurement: 'telemetry',
          tags: { enterprise: 'acme', site: 'w1', line: 'l1', device: 'main' },
          fields: { active_power_kw: 100 + k },
          ts: APRIL + 10 * DAY + (written + k) * 1000,
        }))
        await writer.write(batch)
        written += batch.length
        await new Promise((r) => setImmediate(r))
      }
    })()
    await new Promise((r) => setTimeout(r, 50))
    const report = await backupEmbedded(path, join(dir, 'backups', 'pw.backup'), edgeBufferExtras(bufferDir))
    writing = false
    await ingest
    expect(written).toBeGreaterThan(0)
    expect(report.included).toEqual(['edge-buffer/edge-1.sqlite'])
    expect(report.skipped).toEqual([{ name: 'edge-buffer/edge-2.sqlite', reason: expect.stringContaining('locked by a running edge agent') }])

    const restored = restoreEmbedded(report.file, join(dir, 'restored'))
    expect(restored.files).toEqual([join(dir, 'restored', 'edge-buffer', 'edge-1.sqlite')])
    const copy = open(restored.store, () => AFTER)
    expect(await answers(copy)).toEqual(await answers(store))
    const copyEvents = createEmbeddedEventLog({ path: restored.store })
    cleanups.push(() => copyEvents.close())
    expect(await copyEvents.query({ kind: 'alert_event' })).toEqual(await events.query({ kind: 'alert_event' }))
    // The roll-up state came along: the copy answers from its roll-ups like the original.
    expect(copy.horizons()).toEqual(store.horizons())
    // What the writer stored before the backup's snapshot is in the copy, in whole batches.
    const april = await copy.aggregate({ measurement: 'telemetry', fields: ['active_power_kw'], start: APRIL + 10 * DAY, stop: APRIL + 20 * DAY, fn: 'count' })
    expect((april[0]?.value ?? 0) % 500).toBe(0)
    const buf = new Database(restored.files[0] as string, { readonly: true })
    expect(buf.prepare('SELECT body FROM samples').all()).toEqual([{ body: '{"seq":7}' }])
    buf.close()
    expect(() => restoreEmbedded(report.file, join(dir, 'restored'))).toThrow(expect.objectContaining({ code: 'STORAGE_ERR_RESTORE' }))
  })
})
