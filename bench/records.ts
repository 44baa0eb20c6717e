/**
 * The record store and entries on both event logs: 30 lines × 365 daily coal entries (10 950), then
 * the reads comprehensive energy and the API make — one line's month, the enterprise's month and
 * year — a record's history, and one submission (rules, overlap check, write, read back). Medians of
 * 5. Run on demand: `npx tsx bench/records.ts` (not in `npm run bench`); needs `influxd` (Debian
 * package influxdb) for the second half.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PlantModel } from '../core/plant.ts'
import { EntryBook, createRecordReader, createRecordStore } from '../records/index.ts'
import { openEventLog, type EventLog } from '../storage/events.ts'
import { startInfluxd } from '../test/influxd.ts'

const LINES = 30
const DAYS = 365
const DAY = 86_400_000
/** 2026-01-01 00:00 Asia/Shanghai. */
const D0 = Date.UTC(2025, 11, 31, 16)
const PLANT: PlantModel = {
  timezone: 'Asia/Shanghai',
  strict: false,
  enterprises: [
    {
      id: 'e',
      region: 'hubei',
      attributes: {},
      sites: [{ id: 's', lines: Array.from({ length: LINES }, (_, i) => ({ id: `l${i}`, shifts: [], devices: [] })) }],
    },
  ],
}

async function median(f: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    await f()
    times.push(performance.now() - t0)
  }
  return Math.round((times.sort((a, b) => a - b)[2] ?? 0) * 10) / 10
}

async function measure(log: EventLog): Promise<Record<string, number>> {
  const store = createRecordStore(log)
  const book = new EntryBook(store, PLANT)
  const t0 = performance.now()
  for (let d = 0; d < DAYS; d++) {
    const bodies = Array.from({ length: LINES }, (_, i) => ({
      tags: { enterprise: 'e', site: 's', line: `l${i}`, carrier: 'raw-coal', direction: 'import' },
      start: D0 + d * DAY,
      end: D0 + (d + 1) * DAY,
      data: { amount: 400, unit: 't', source: 'bench' },
    }))
    await store.putMany('energy_entry', bodies, { user: 'bench' })
  }
  const writeAllMs = Math.round(performance.now() - t0)
  const reader = createRecordReader(store)
  const march = { start: D0 + 59 * DAY, end: D0 + 90 * DAY }
  const [one] = await reader.energyEntries({ enterprise: 'e', site: 's', line: 'l7', ...march })
  let day = 400
  return {
    entries: LINES * DAYS,
    writeAllMs,
    lineMonthMs: await median(() => reader.energyEntries({ enterprise: 'e', site: 's', line: 'l7', ...march })),
    enterpriseMonthMs: await median(() => reader.energyEntries({ enterprise: 'e', ...march })),
    enterpriseYearMs: await median(() => reader.energyEntries({ enterprise: 'e', start: D0, end: D0 + DAYS * DAY })),
    historyMs: await median(() => store.history(one?.id ?? '')),
    submitOneMs: await median(() =>
      book.submit(
        [{ kind: 'energy', enterprise: 'e', site: 's', line: 'l3', carrier: 'raw-coal', amount: 1, unit: 't', start: D0 + day * DAY, end: D0 + ++day * DAY }],
        { user: 'bench' },
      ),
    ),
  }
}

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-records-'))
const results: Record<string, Record<string, number>> = {}
try {
  results.embedded = await measure(await openEventLog({ backend: 'embedded', path: join(dir, 'plantwatt.db') }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
const influx = await startInfluxd()
try {
  results.influxdb = await measure(
    await openEventLog({ backend: 'influxdb', url: influx.url, database: 'bench_records', createDatabase: true, timeoutMs: 60_000 }),
  )
} finally {
  await influx.stop()
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
