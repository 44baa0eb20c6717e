import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { createInfluxStore } from '../../storage/influxdb/index.ts'
import type { TelemetryPoint, TelemetryStore } from '../../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../../test/influxd.ts'
import { backfillScenario, type BackfillResult } from './backfill.ts'
import { discLine, kilnLine, siteScenario } from '../testing/lines.ts'
import { HOUR_MS } from '../../core/duration.ts'

// Thirty days of a small scenario (5-minute steps, core fields) backfilled into a real influxd and
// into the embedded store: both must hold the same samples and the same energy per device, equal
// to what the backfill wrote (recorded at the store's write()).
const START = Date.UTC(2026, 0, 4, 16, 0) // 2026-01-05 00:00 Shanghai
const DAYS = 30
const STOP = START + DAYS * 86_400_000
const STEP_MS = 300_000
const HOUR = HOUR_MS

const scenario = siteScenario(
  'stores',
  21,
  [kilnLine(), discLine({ subMeters: [{ id: 'cnc', share: 0.94, profile: 'eastron-sdm630' }] })],
  [
    // 6 hours without samples from the fan, and 400 kW more on the CNC cell for a day.
    { device: 'ent/site/kiln/fan', kind: 'offline', start: START + 30 * HOUR, end: START + 36 * HOUR },
    { device: 'ent/site/disc/cnc', kind: 'step', start: START + 24 * HOUR, end: START + 48 * HOUR, deltaKw: 400 },
  ],
)

interface Recorded {
  count: Record<string, number>
  energyMin: Record<string, number>
  energyMax: Record<string, number>
}

function recording(store: TelemetryStore, into: Recorded): TelemetryStore {
  return {
    ...store,
    backend: store.backend,
    write: (points: readonly TelemetryPoint[]) => {
      for (const p of points) {
        const d = p.tags.device as string
        const key = `${p.tags.line}/${d}`
        into.count[key] = (into.count[key] ?? 0) + 1
        const e = p.fields.energy_import_kwh
        if (e !== undefined) {
          into.energyMin[key] = Math.min(into.energyMin[key] ?? Infinity, e)
          into.energyMax[key] = Math.max(into.energyMax[key] ?? -Infinity, e)
        }
      }
      return store.write(points)
    },
  }
}

let dir: string
let influxd: RunningInfluxd
let influx: TelemetryStore
let embedded: TelemetryStore
const results: Record<'influx' | 'embedded', BackfillResult | undefined> = { influx: undefined, embedded: undefined }
const written: Record<'influx' | 'embedded', Recorded> = {
  influx: { count: {}, energyMin: {}, energyMax: {} },
  embedded: { count: {}, energyMin: {}, energyMax: {} },
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-backfill-stores-'))
  influxd = await startInfluxd()
  influx = await createInfluxStore({ url: influxd.url, database: influxd.database })
  embedded = createEmbeddedStore({ path: join(dir, 'db.sqlite') })
  const opts = { start: START, stop: STOP, stepMs: STEP_MS, fields: 'core' as const }
  results.influx = await backfillScenario(scenario, recording(influx, written.influx), opts)
  results.embedded = await backfillScenario(scenario, recording(embedded, written.embedded), opts)
}, 60_000)
afterAll(async () => {
  await influx?.close()
  await embedded?.close()
  await influxd?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const byDevice = (rows: { tags: Record<string, string>; value: number }[]) => Object.fromEntries(rows.map((r) => [`${r.tags.line}/${r.tags.device}`, r.value]))
const query = (store: TelemetryStore, field: string, fn: 'count' | 'spread') =>
  store.aggregate({
    measurement: 'telemetry',
    fields: [field],
    filter: { enterprise: 'ent', site: 'site' },
    start: START,
    stop: STOP,
    fn,
    groupBy: ['line', 'device'],
  })

describe('backfill into InfluxDB and the embedded store', () => {
  it('writes the expected number of samples per device into both stores', async () => {
    const steps = (STOP - START) / STEP_MS
    const expected = {
      'kiln/main': steps,
      'kiln/mill': steps,
      'kiln/fan': steps - (6 * HOUR) / STEP_MS,
      'kiln/dcs': steps,
      'disc/main': steps,
      'disc/cnc': steps,
      'disc/line-plc': steps,
    }
    const fromResult = (r: BackfillResult) => Object.fromEntries(Object.entries(r.samples).map(([k, v]) => [k.split('/').slice(2).join('/'), v]))
    expect(fromResult(results.influx!)).toEqual(expected)
    expect(fromResult(results.embedded!)).toEqual(expected)
    expect(written.influx.count).toEqual(expected)
    expect(results.influx!.points).toBe(Object.values(expected).reduce((a, b) => a + b, 0))
    // Every point carries seq: its count is the sample count in each store.
    expect(byDevice(await query(influx, 'seq', 'count'))).toEqual(expected)
    expect(byDevice(await query(embedded, 'seq', 'count'))).toEqual(expected)
  })

  it('stores the same energy per device (spread of energy_import_kwh) as was written, in both', async () => {
    const rec = written.influx
    const expected = Object.fromEntries(Object.keys(rec.energyMax).map((k) => [k, rec.energyMax[k]! - rec.energyMin[k]!]))
    expect(Object.keys(expected).sort()).toEqual(['disc/cnc', 'disc/main', 'kiln/fan', 'kiln/main', 'kiln/mill'])
    // Both backfills wrote identical counters (same seed).
    expect(written.embedded.energyMax).toEqual(rec.energyMax)
    expect(written.embedded.energyMin).toEqual(rec.energyMin)
    // Plausible: the kiln main meter over 30 days of a continuous 2 MW line; the CNC cell with its +400 kW day.
    expect(expected['kiln/main']).toBeGreaterThan(0.6 * 2000 * 24 * DAYS)
    expect(expected['kiln/main']).toBeLessThan(1.1 * 2000 * 24 * DAYS)
    expect(expected['disc/cnc']).toBeGreaterThan(400 * 24)
    const fromInflux = byDevice(await query(influx, 'energy_import_kwh', 'spread'))
    const fromEmbedded = byDevice(await query(embedded, 'energy_import_kwh', 'spread'))
    expect(Object.keys(fromInflux).sort()).toEqual(Object.keys(expected).sort())
    expect(Object.keys(fromEmbedded).sort()).toEqual(Object.keys(expected).sort())
    for (const k of Object.keys(expected)) {
      expect(fromInflux[k]).toBeCloseTo(expected[k]!, 6)
      expect(fromEmbedded[k]).toBeCloseTo(expected[k]!, 6)
      expect(fromInflux[k]).toBeCloseTo(fromEmbedded[k]!, 6)
    }
  })
})
