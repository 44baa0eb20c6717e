import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { isPlantWattError } from '../core/errors.ts'
import { createEmbeddedStore, createInfluxStore, TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/index.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { energyReport, productionReport, type ReportDeps } from './energy.ts'
import { linesOf, parseScope } from './scope.ts'
import { HOUR_MS, MINUTE_MS } from '../core/duration.ts'

// Asia/Shanghai is UTC+8 without DST: local midnight 2026-03-02 = 2026-03-01T16:00Z.
const DAY0 = Date.UTC(2026, 2, 1, 16)
const H = HOUR_MS
const MIN = MINUTE_MS

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
                product: { id: 'widget', unit: 'pcs', productionDevice: 'plc' },
                shifts: [
                  { name: 'day', start: '08:00', end: '20:00' },
                  { name: 'night', start: '20:00', end: '08:00' },
                ],
                devices: [{ id: 'main' }, { id: 'sub-a' }, { id: 'sub-b' }, { id: 'plc', kind: 'plc' }],
              },
              { id: 'l2', devices: [{ id: 'm1' }, { id: 'm2' }, { id: 'p1' }, { id: 'cnc', kind: 'machine' }] },
            ],
          },
        ],
      },
      { id: 'other', sites: [{ id: 's', lines: [{ id: 'x', devices: [{ id: 'm' }] }] }] },
    ],
  },
  'test plant',
)

const tags = (line: string, device: string) => ({ enterprise: 'acme', site: 'w1', line, device })

/**
 * One day of 1-minute counter samples, 00:00–24:00 local:
 *  - acme/w1/l1/main: 100 kW → +100/60 kWh a minute from 1000 kWh; reset to 0 at 12:00 (the
 *    reading at 12:00 is 0, so the increment 11:59 → 12:00 is lost: 100/60 kWh).
 *  - l1/sub-a: 60 kW, l1/sub-b: 30 kW (sub-meters: never added to the line).
 *  - l2/m1: 50 kW, l2/m2: 25 kW, l2/p1: power only (40 kW until 18:00, then 0): its energy is integrated
 *    from quarter-hour mean power; l2 has no main meter → line = m1 + m2 + p1; the machine has no data.
 *  - l1/plc: output_count +1 a minute.
 */
function day(): TelemetryPoint[] {
  const pts: TelemetryPoint[] = []
  for (let m = 0; m <= 1440; m++) {
    const ts = DAY0 + m * MIN
    const mainKwh = m < 720 ? 1000 + (100 * m) / 60 : (100 * (m - 720)) / 60
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l1', 'main'), fields: { energy_import_kwh: mainKwh, active_power_kw: 100 }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l1', 'sub-a'), fields: { energy_import_kwh: (60 * m) / 60 }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l1', 'sub-b'), fields: { energy_import_kwh: (30 * m) / 60 }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l1', 'plc'), fields: { output_count: m }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l2', 'm1'), fields: { energy_import_kwh: 5000 + (50 * m) / 60 }, ts })
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l2', 'm2'), fields: { energy_import_kwh: (25 * m) / 60 }, ts })
    // A power transducer without an energy counter: 40 kW, then 0 kW (stopped) from 18:00.
    pts.push({ measurement: TELEMETRY_MEASUREMENT, tags: tags('l2', 'p1'), fields: { active_power_kw: m < 1080 ? 40 : 0 }, ts })
  }
  return pts
}

const range = { start: DAY0, end: DAY0 + 24 * H }

function suite(name: string, open: () => Promise<TelemetryStore>) {
  describe(`reports/energy on ${name}`, () => {
    let store: TelemetryStore
    let deps: ReportDeps
    beforeAll(async () => {
      store = await open()
      await store.write(day())
      deps = { store, model, now: () => DAY0 + 48 * H }
    })
    afterAll(async () => store?.close())

    it('a line with a main meter is its main meter; the reset costs one quarter hour of readings', async () => {
      const r = await energyReport(deps, parseScope('acme/w1/l1'), range, 'day')
      // 24 h × 100 kW = 2400 kWh. Readings are quarter-hour firsts: 11:45 reads 1000 + 100·11.75 = 2175,
      // 12:00 reads 0 (a reset no meter event explains) → that quarter is unknown: no energy (25 kWh
      // missing) and no coverage. Line = 2400 − 25 = 2375, coverage (96 − 1) / 96 quarters.
      expect(r.rows).toHaveLength(1)
      expect(r.energyKwh).toBeCloseTo(2375, 6)
      expect(r.rows[0]?.bucket).toBe('2026-03-02')
      expect(r.node.source).toBe('main-meter')
      const subs = r.node.children.filter((c) => c.subMeter).map((c) => [c.id, Math.round(c.energyKwh)])
      expect(subs).toEqual([
        ['sub-a', 1440],
        ['sub-b', 720],
      ])
      expect(r.coverage).toBeCloseTo(95 / 96, 9)
    })

    it('a line without a main meter sums its meters, never machines or PLCs', async () => {
      const r = await energyReport(deps, parseScope('acme/w1/l2'), range, 'total')
      expect(r.node.source).toBe('sum-of-devices')
      // (50 + 25) kW × 24 h + 40 kW × 18 h (p1 from its power) = 1800 + 720.
      expect(r.energyKwh).toBeCloseTo(24 * 75 + 18 * 40, 6)
      expect(r.node.children.find((c) => c.id === 'p1')?.energyKwh).toBeCloseTo(720, 6)
      expect(r.missing).toEqual([])
    })

    it('site = sum of lines, by shift', async () => {
      const r = await energyReport(deps, parseScope('acme/w1/l1'), range, 'shift')
      // Shift occurrences overlapping the day: night of 03-01 (00:00–08:00), day 03-02, night 03-02 (20:00–24:00).
      expect(r.rows.map((x) => x.bucket)).toEqual(['2026-03-01 night', '2026-03-02 day', '2026-03-02 night'])
      // 00–08: 800; 08–20: 1200 − 25 (reset) = 1175; 20–24: 400.
      expect(r.rows.map((x) => Math.round(x.energyKwh * 1000) / 1000)).toEqual([800, 1175, 400])
      const site = await energyReport(deps, parseScope('acme/w1'), range, 'hour')
      expect(site.rows).toHaveLength(24)
      expect(site.energyKwh).toBeCloseTo(2375 + 1800 + 720, 6)
      // Hour 11–12 local holds the reset: 100 − 25 + 75 + 40 (l2).
      expect(site.rows[11]?.energyKwh).toBeCloseTo(190, 6)
      // 18–19: p1 stopped: 100 + 75.
      expect(site.rows[18]?.energyKwh).toBeCloseTo(175, 6)
    })

    it('production per bucket from the line production counter', async () => {
      const p = await productionReport(deps, parseScope('acme'), range, 'day')
      expect(p.rows).toEqual([
        { line: 'acme/w1/l1', product: 'widget', unit: 'pcs', bucket: '2026-03-02', start: range.start, end: range.end, output: 1440, coverage: 1 },
      ])
    })

    it('a part of the day without data is a coverage gap', async () => {
      const r = await energyReport(deps, parseScope('acme/w1/l1'), { start: DAY0, end: DAY0 + 48 * H }, 'day')
      expect(r.rows[1]?.energyKwh).toBe(0)
      expect(r.rows[1]?.coverage).toBe(0)
      expect(r.coverage).toBeCloseTo(95 / 96 / 2, 9)
    })

    it('an enterprise without data lists its meters as missing', async () => {
      const r = await energyReport(deps, parseScope('other'), range, 'total')
      expect(r.energyKwh).toBe(0)
      expect(r.missing).toEqual(['other/s/x/m'])
    })
  })
}

suite('embedded', async () => createEmbeddedStore({ path: ':memory:' }))
let influx: RunningInfluxd | undefined
suite('influxdb', async () => {
  influx = await startInfluxd()
  return createInfluxStore({ backend: 'influxdb', url: influx.url, database: influx.database, createDatabase: true, timeoutMs: 5000 })
})
afterAll(async () => influx?.stop())

describe('scopes', () => {
  it('an unknown scope or device is REPORTS_ERR_SCOPE; a malformed one REPORTS_ERR_INPUT', () => {
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return isPlantWattError(err) ? err.code : 'other'
      }
      return 'none'
    }
    expect(code(() => linesOf(model, parseScope('nope')))).toBe('REPORTS_ERR_SCOPE')
    expect(code(() => linesOf(model, parseScope('acme/w1/l1/ghost')))).toBe('REPORTS_ERR_SCOPE')
    expect(code(() => parseScope('acme//l1'))).toBe('REPORTS_ERR_INPUT')
    expect(code(() => parseScope('a/b/c/d/e'))).toBe('REPORTS_ERR_INPUT')
    expect(linesOf(model, parseScope('acme')).map((l) => l.path)).toEqual(['acme/w1/l1', 'acme/w1/l2'])
  })
})
