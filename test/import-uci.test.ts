import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from '../api/app.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { HUBEI_SINGLE_PART_1_10KV, touCost, type Tariff } from '../analytics/index.ts'
import { deviceIncrements, energyReport, type ReportDeps } from '../reports/energy.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import { MemoryEventLog } from '../storage/events.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryStore } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from './influxd.ts'

/**
 * The UCI "Steel Industry Energy Consumption" file (DAEWOO Steel, Korea, 2018; CC BY 4.0,
 * doi:10.24432/C52G8C) through POST /api/v1/import, then energy per month and TOU cost read back the
 * way the platform computes them (reports/energy.ts from the energy_import_kwh counter; analytics
 * touCost) against figures computed here straight from the CSV text.
 *
 * Zone: Asia/Seoul (UTC+9, no DST in 2018) — the plant is in Korea and its timestamps are its wall
 * clock. It is the site's zone in the plant model, so the import reads the wall times in it without
 * being told. The file's `date` is the interval END, and each day's "D 00:00" row (which follows
 * "D 23:45") is the end of day D: the importer's `midnight: auto` reads it so (365 rows).
 * analytics/uci-steel.test.ts already checks the analytics on this file in memory; this checks the
 * import and the store round trip.
 */
const FILE = fileURLToPath(new URL('../../shared/data/uci-steel-industry-energy-2018.csv', import.meta.url))
const TZ = 'Asia/Seoul'
const DEVICE = 'daewoo/gwangyang/steel/incomer'
const SCOPE = { enterprise: 'daewoo', site: 'gwangyang', line: 'steel' }
/** 2018-01-01 00:00 and 2019-01-01 00:00 in Seoul. */
const YEAR_START = Date.UTC(2017, 11, 31, 15)
const YEAR_END = Date.UTC(2018, 11, 31, 15)

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'daewoo',
      industry: 'steel',
      sites: [{ id: 'gwangyang', timezone: TZ, lines: [{ id: 'steel', mainMeter: 'incomer', devices: [{ id: 'incomer', kind: 'meter' }] }] }],
    },
  ],
})

interface Row {
  /** Month 1–12 the interval belongs to (its date label). */
  month: number
  /** Local hour of the interval's start, 0–23. */
  startHour: number
  usage: number
  laggingPfPercent: number
}

function readRows(): { text: string; rows: Row[] } {
  if (!existsSync(FILE)) throw new Error(`real-data test needs ${FILE} (UCI steel industry energy 2018): it is missing`)
  const text = readFileSync(FILE, 'utf8')
  const lines = text
    .replace(/^\uFEFF/, '')
    .trim()
    .split(/\r?\n/)
  const rows = lines.slice(1).map((line) => {
    const f = line.split(',')
    const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d)$/.exec(f[0] ?? '')
    if (!m) throw new Error(`bad date ${f[0]}`)
    const [mo, hh, mm] = [Number(m[2]), Number(m[4]), Number(m[5])]
    const midnight = hh === 0 && mm === 0
    return { month: mo, startHour: midnight ? 23 : Math.floor((hh * 60 + mm - 15) / 60), usage: Number(f[1]), laggingPfPercent: Number(f[5]) }
  })
  return { text, rows }
}

const { text: CSV, rows: ROWS } = readRows()

/** Sum of Usage_kWh per month 1–12, straight from the file. */
function monthlyUsage(): number[] {
  const out = new Array<number>(12).fill(0)
  for (const r of ROWS) out[r.month - 1] = (out[r.month - 1] as number) + r.usage
  return out
}

/** Hubei 鄂发改价管〔2024〕77号 periods outside July–August, by the interval's start hour (DOMAIN.md). */
function otherMonthPeriod(h: number): string {
  if (h < 6 || (h >= 12 && h < 14)) return 'valley'
  if (h < 12 || (h >= 14 && h < 16)) return 'flat'
  if (h >= 18 && h < 20) return 'critical_peak'
  return 'peak' // 16–18, 20–24
}
const SINGLE_PART_PRICES: Record<string, number> = { critical_peak: 1.113999, peak: 0.910961, flat: 0.715686, valley: 0.496924 }

/**
 * The January 2026 Hubei single-part prices applied to the 2018 Korean load on the plant's own wall
 * clock: the tariff's zone set to Asia/Seoul (its periods are wall-clock hours of the site) and its
 * version in force from 2018 — as a user would to price history at today's tariff.
 */
const TARIFF: Tariff = {
  ...HUBEI_SINGLE_PART_1_10KV,
  timezone: TZ,
  versions: HUBEI_SINGLE_PART_1_10KV.versions.map((v) => ({ ...v, effectiveFrom: '2018-01-01' })),
}

async function importThroughApi(store: TelemetryStore): Promise<{ app: FastifyInstance; events: MemoryEventLog; answer: Record<string, unknown> }> {
  const events = new MemoryEventLog()
  const app = await build({ store, plant: PLANT, events, now: () => Date.UTC(2026, 0, 1) })
  const query = new URLSearchParams({ device: 'incomer', map: 'Lagging_Current_Power_Factor:power_factor*0.01' })
  const res = await app.inject({ method: 'POST', url: `/api/v1/import?${query}`, headers: { 'content-type': 'text/csv' }, payload: CSV })
  expect(res.statusCode, res.body.slice(0, 500)).toBe(200)
  return { app, events, answer: res.json() as Record<string, unknown> }
}

/** Every check, on whichever backend holds the imported data. */
function describeUciChecks(name: string, open: () => Promise<{ store: TelemetryStore; close: () => Promise<void> }>): void {
  describe(`UCI steel 2018 imported into the ${name} store`, () => {
    let store: TelemetryStore
    let close: () => Promise<void>
    let app: FastifyInstance
    let answer: Record<string, unknown>
    let events: MemoryEventLog
    let deps: ReportDeps

    beforeAll(async () => {
      ;({ store, close } = await open())
      ;({ app, answer, events } = await importThroughApi(store))
      deps = { store, model: PLANT, now: () => Date.UTC(2026, 0, 1) }
    }, 60_000)
    afterAll(async () => {
      await app?.close()
      await close?.()
    })

    it('imports all 35 040 rows, reading the 365 "D 00:00" rows as the end of day D', async () => {
      // Points: 35 040 interval ends + the first interval's start (the power factor rides on the interval starts).
      expect(answer).toMatchObject({
        layout: 'interval',
        total: 35_040,
        imported: 35_040,
        rejected: 0,
        points: 35_041,
        rows: [],
        gaps: 0,
        midnightShifted: 365,
        devices: [DEVICE],
        // An empty store: the counter starts at 0 at the first interval's start, and says so.
        counterStarts: [{ device: DEVICE, quantity: 'energy_import_kwh', at: YEAR_START, value: 0, basis: 'zero' }],
        warnings: [],
      })
      // First row 01/01/2018 00:15 Seoul = 2017-12-31T15:15Z; last "31/12/2018 00:00" = 2019-01-01 00:00 Seoul.
      expect([answer.first, answer.last]).toEqual([YEAR_START + 900_000, YEAR_END])
      const ev = await events.query({ kind: 'import' })
      expect(ev.map((e) => [e.tags.enterprise, e.fields.imported, e.fields.rejected])).toEqual([['daewoo', 35_040, 0]])
      // One power-factor reading per interval (at its start), scaled from percent.
      const [enterprise, site, line, device] = DEVICE.split('/') as [string, string, string, string]
      const filter = { enterprise, site, line, device }
      const pf = await store.aggregate({ measurement: TELEMETRY_MEASUREMENT, fields: ['power_factor'], filter, start: YEAR_START, stop: YEAR_END, fn: 'count' })
      expect(pf[0]?.value).toBe(35_040)
      const firstPf = await store.aggregate({
        measurement: TELEMETRY_MEASUREMENT,
        fields: ['power_factor'],
        filter,
        start: YEAR_START,
        stop: YEAR_START + 1,
        fn: 'first',
      })
      expect(firstPf[0]?.value).toBeCloseTo((ROWS[0] as Row).laggingPfPercent / 100, 9) // 73.21 % → 0.7321
      // The counter: 0 at the year's start, the year's Usage_kWh total at its end.
      const ends = await store.aggregate({
        measurement: TELEMETRY_MEASUREMENT,
        fields: ['energy_import_kwh'],
        filter,
        start: YEAR_START,
        stop: YEAR_END + 1,
        fn: 'spread',
      })
      expect(ends[0]?.value).toBeCloseTo(
        monthlyUsage().reduce((a, b) => a + b, 0),
        3,
      )
    })

    it('energy per month (reports/energy.ts, from the counter) equals the sum of Usage_kWh per month', async () => {
      const expected = monthlyUsage()
      const report = await energyReport(deps, SCOPE, { start: YEAR_START, end: YEAR_END }, 'month')
      expect(report.timezone).toBe(TZ)
      expect(report.rows).toHaveLength(12)
      report.rows.forEach((row, i) => {
        // Counter readings reach ~1e6 kWh: float differences are exact to well under 1 Wh.
        expect(row.energyKwh).toBeCloseTo(expected[i] as number, 3)
        expect(row.coverage).toBe(1)
      })
      expect(report.rows.map((r) => r.bucket)).toEqual(
        ['2018-01', '2018-02', '2018-03', '2018-04', '2018-05', '2018-06', '2018-07', '2018-08', '2018-09', '2018-10', '2018-11', '2018-12'].map((m) =>
          expect.stringContaining(m),
        ),
      )
    })

    it('December TOU cost (analytics touCost over the stored counter) equals a per-interval loop over the file', async () => {
      let cost = 0
      let energy = 0
      const byPeriod: Record<string, number> = {}
      for (const r of ROWS) {
        if (r.month !== 12) continue
        const period = otherMonthPeriod(r.startHour)
        cost += r.usage * (SINGLE_PART_PRICES[period] as number)
        energy += r.usage
        byPeriod[period] = (byPeriod[period] ?? 0) + r.usage
      }
      const decStart = Date.UTC(2018, 10, 30, 15) // 2018-12-01 00:00 Seoul
      const incs =
        (
          await deviceIncrements(deps, [{ enterprise: 'daewoo', site: 'gwangyang', line: 'steel', device: 'incomer' }], 'energy_import_kwh', {
            start: decStart,
            end: YEAR_END,
          })
        ).get(DEVICE) ?? []
      const december = incs.filter((i) => i.start >= decStart && i.end <= YEAR_END)
      expect(december).toHaveLength(31 * 96)
      const r = touCost(december, TARIFF)
      expect(r.energyKwh).toBeCloseTo(energy, 3)
      expect(r.totalCost).toBeCloseTo(cost, 3)
      expect(r.byMonth.map((m) => m.month)).toEqual(['2018-12'])
      for (const p of r.byPeriod) expect(p.energyKwh).toBeCloseTo(byPeriod[p.period] as number, 3)
    })
  })
}

describeUciChecks('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-uci-'))
  const store = createEmbeddedStore({ path: join(dir, 'pw.db') })
  return {
    store,
    close: async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

describeUciChecks('influxdb', async () => {
  const influx: RunningInfluxd = await startInfluxd()
  const store = await createInfluxStore({ url: influx.url, database: influx.database })
  return {
    store,
    close: async () => {
      await store.close()
      await influx.stop()
    },
  }
})
