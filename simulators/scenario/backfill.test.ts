import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryPoint, TelemetryStore } from '../../storage/store.ts'
import { backfillScenario, type BackfillResult } from './backfill.ts'
import { parseScenario, type Scenario } from './schema.ts'

// 30 days of one clinker line (main meter, two sub-meters, a production counter) into the embedded
// store; every expectation is recomputed here from the stored points and the DOMAIN.md numbers.
const START = Date.UTC(2026, 0, 4, 16, 0) // 2026-01-05 00:00 Shanghai, a Monday
const DAYS = 30
const STEP_MS = 300_000
const LOSS = 0.04

function smallScenario(seed = 7, extra: Partial<Scenario> = {}): Scenario {
  return parseScenario({
    name: 'small',
    seed,
    enterprises: [
      {
        id: 'ent',
        sites: [
          {
            id: 'site',
            lines: [
              {
                id: 'kiln',
                loadShape: 'continuous',
                ratedKw: 2000,
                idleFraction: 0.1,
                lossFraction: LOSS,
                product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'compliant' },
                productionDevice: 'dcs',
                mainMeter: { id: 'main', profile: 'acrel-adl400-primary' },
                subMeters: [
                  { id: 'mill', share: 0.56, profile: 'chint-dtsu666' },
                  { id: 'fan', share: 0.4, profile: 'eastron-sdm630' },
                ],
              },
            ],
          },
        ],
      },
    ],
    ...extra,
  }) as Scenario
}

let dir: string
let store: TelemetryStore
let result: BackfillResult
let maxBatch = 0
let gtFile: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-backfill-'))
  store = createEmbeddedStore({ path: join(dir, 'db.sqlite') })
  const spy: TelemetryStore = {
    ...store,
    backend: store.backend,
    write: (points: readonly TelemetryPoint[]) => {
      maxBatch = Math.max(maxBatch, points.length)
      return store.write(points)
    },
  }
  gtFile = join(dir, 'truth.jsonl')
  result = await backfillScenario(smallScenario(), spy, { start: START, stop: START + DAYS * 86_400_000, stepMs: STEP_MS, groundTruthFile: gtFile })
})
afterAll(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

const filter = (device: string) => ({ enterprise: 'ent', site: 'site', line: 'kiln', device })

async function series(device: string, field: string): Promise<{ ts: number; value: number }[]> {
  const rows = await store.aggregate({
    measurement: 'telemetry',
    fields: [field],
    filter: filter(device),
    start: START,
    stop: START + DAYS * 86_400_000,
    every: '5m',
    fn: 'first',
  })
  return rows.map((r) => ({ ts: r.windowStart, value: r.value }))
}

describe('backfill of 30 days into the embedded store', () => {
  const N = (DAYS * 86_400_000) / STEP_MS

  it('writes every sample of every device in batches of at most 5000 points', async () => {
    expect(result.devices).toBe(4)
    expect(result.points).toBe(4 * N)
    expect(maxBatch).toBeLessThanOrEqual(5000)
    expect(result.batches).toBeGreaterThanOrEqual(Math.ceil((4 * N) / 5000))
    const counts = await store.aggregate({
      measurement: 'telemetry',
      fields: ['seq'],
      start: START,
      stop: START + DAYS * 86_400_000,
      fn: 'count',
      groupBy: ['device'],
    })
    expect(counts.map((r) => [r.tags.device, r.value])).toEqual([
      ['dcs', N],
      ['fan', N],
      ['main', N],
      ['mill', N],
    ])
    const last = await store.latest({ measurement: 'telemetry', filter: filter('main'), fields: ['seq'] })
    expect(last[0]?.value).toBe(N)
    expect(last[0]?.ts).toBe(START + (N - 1) * STEP_MS)
    // No faults in this scenario: the ground truth exists and is empty.
    expect(readFileSync(gtFile, 'utf8')).toBe('')
  })

  it('energy counters equal the integral of the stored power within 0.5 %', async () => {
    for (const device of ['main', 'mill', 'fan']) {
      const p = await series(device, 'active_power_kw')
      const e = await series(device, 'energy_import_kwh')
      expect(p.length).toBe(N)
      let integral = 0
      for (let i = 1; i < p.length; i++) integral += ((p[i - 1]!.value + p[i]!.value) / 2) * ((p[i]!.ts - p[i - 1]!.ts) / 3_600_000)
      const counted = e[e.length - 1]!.value - e[0]!.value
      expect(counted).toBeGreaterThan(0)
      expect(Math.abs(counted / integral - 1)).toBeLessThan(0.005)
    }
  })

  it('rolls up: sub-meters sum to less than the main meter, by the unmetered loss share', async () => {
    const spread = await store.aggregate({
      measurement: 'telemetry',
      fields: ['energy_import_kwh'],
      start: START,
      stop: START + DAYS * 86_400_000,
      fn: 'spread',
      groupBy: ['device'],
    })
    const e = Object.fromEntries(spread.map((r) => [r.tags.device, r.value]))
    const subs = e.mill! + e.fan!
    expect(subs).toBeLessThan(e.main!)
    expect(Math.abs((e.main! - subs) / e.main! - LOSS)).toBeLessThan(0.002)
    // ~2000 kW × 0.92 continuous for 30 days.
    expect(e.main! / (2000 * 0.92 * 24 * DAYS)).toBeGreaterThan(0.97)
    expect(e.main! / (2000 * 0.92 * 24 * DAYS)).toBeLessThan(1.03)
  })

  it('produces clinker at a specific electricity inside the GB 16780 compliant band, near its midpoint', async () => {
    const [energy] = await store.aggregate({
      measurement: 'telemetry',
      fields: ['energy_import_kwh'],
      filter: filter('main'),
      start: START,
      stop: START + DAYS * 86_400_000,
      fn: 'spread',
    })
    const [output] = await store.aggregate({
      measurement: 'telemetry',
      fields: ['output_t'],
      filter: filter('dcs'),
      start: START,
      stop: START + DAYS * 86_400_000,
      fn: 'spread',
    })
    const sec = energy!.value / output!.value
    // Clinker electricity levels 1/3: 48 and 61 kWh/t; "compliant" aims at their midpoint, 54.5.
    expect(sec).toBeGreaterThan(48)
    expect(sec).toBeLessThanOrEqual(61)
    expect(Math.abs(sec / 54.5 - 1)).toBeLessThan(0.015)
    // Daily output of a 2000 kW line at ~54.5 kWh/t: ≈ 2000·0.92·24/54.5 ≈ 810 t/day.
    expect(output!.value / DAYS).toBeGreaterThan(770)
    expect(output!.value / DAYS).toBeLessThan(850)
  })

  it('is deterministic with the seed', async () => {
    const a = createEmbeddedStore({ path: ':memory:' })
    const b = createEmbeddedStore({ path: ':memory:' })
    const c = createEmbeddedStore({ path: ':memory:' })
    try {
      const opts = { start: START, stop: START + 86_400_000, stepMs: 60_000 }
      await backfillScenario(smallScenario(7), a, opts)
      await backfillScenario(smallScenario(7), b, opts)
      await backfillScenario(smallScenario(8), c, opts)
      const q = {
        measurement: 'telemetry',
        fields: ['active_power_kw', 'energy_import_kwh', 'output_t'],
        start: opts.start,
        stop: opts.stop,
        every: '1h',
        fn: 'mean' as const,
        groupBy: ['device'],
      }
      const [ra, rb, rc] = await Promise.all([a.aggregate(q), b.aggregate(q), c.aggregate(q)])
      expect(ra.length).toBeGreaterThan(24 * 3)
      expect(rb).toEqual(ra)
      expect(rc).not.toEqual(ra)
    } finally {
      await Promise.all([a.close(), b.close(), c.close()])
    }
  })
})
