import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startInfluxd, type RunningInfluxd } from '../../test/influxd.ts'
import type { AggregateFn, TelemetryPoint } from '../store.ts'
import { influxHttp } from './http.ts'
import { createInfluxEventLog } from './events.ts'
import { createInfluxStore } from './index.ts'
import { ensureRetention, MINUTE_RP, QUARTER_RP, rollupSelect } from './retention.ts'
import { resolveRetention } from '../retention.ts'

let influx: RunningInfluxd
beforeAll(async () => {
  influx = await startInfluxd()
})
afterAll(async () => {
  await influx?.stop()
})

const H = 3_600_000
/** Two days ago on a whole hour: inside the raw policy's 90 days (InfluxDB refuses older points there). */
const T0 = Math.floor((Date.now() - 2 * 24 * H) / H) * H
const FNS: AggregateFn[] = ['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'spread']

async function q(statement: string, db: string): Promise<unknown> {
  const res = await fetch(`${influx.url}/query?db=${db}&q=${encodeURIComponent(statement)}`, { method: 'POST' })
  return res.json()
}

describe('influxdb retention: policies, continuous queries, roll-up reads', () => {
  it('creates pw_raw (default), pw_1m, pw_15m and two CQs per measurement at start, idempotently', async () => {
    const database = 'ret_create'
    const store = await createInfluxStore({ url: influx.url, database, retention: { rawDays: 30, minuteDays: 60, quarterHourDays: 400 } })
    const rps = (await q(`SHOW RETENTION POLICIES ON ${database}`, database)) as { results: { series: { values: unknown[][] }[] }[] }
    expect(rps.results[0]?.series[0]?.values.map((v) => [v[0], v[1], v[4]])).toEqual([
      ['autogen', '0s', false],
      ['pw_raw', '720h0m0s', true],
      ['pw_1m', '1440h0m0s', false],
      ['pw_15m', '9600h0m0s', false],
    ])
    const cqs = JSON.stringify(await q('SHOW CONTINUOUS QUERIES', database))
    expect(cqs).toContain('pw_telemetry_1m')
    expect(cqs).toContain('RESAMPLE FOR 2h BEGIN SELECT count(*), sum(*), min(*), max(*), first(*), last(*) INTO ret_create.pw_15m.telemetry')
    // A second start changes nothing; a new duration alters the policy.
    expect(
      await ensureRetention(influxHttp({ url: influx.url, database }), database, resolveRetention({ rawDays: 30, minuteDays: 60, quarterHourDays: 400 })),
    ).toEqual([])
    expect(
      await ensureRetention(influxHttp({ url: influx.url, database }), database, resolveRetention({ rawDays: 31, minuteDays: 60, quarterHourDays: 400 })),
    ).toEqual(['ALTER RETENTION POLICY "pw_raw" ON "ret_create" DURATION 31d REPLICATION 1 DEFAULT'])
    // The event log stays in autogen (no expiry) although pw_raw is now the default.
    const events = await createInfluxEventLog({ url: influx.url, database, retention: {} })
    await events.append([{ kind: 'alert_event', tags: { rule: 'r1' }, ts: T0, fields: { state: 'firing' } }])
    expect(JSON.stringify(await q(`SELECT count(*) FROM "${database}"."autogen"."alert_event"`, database))).toContain('"values":[["1970-01-01T00:00:00Z",1]]')
    expect(await events.query({ kind: 'alert_event' })).toHaveLength(1)
    await events.close()
    await store.close()
  })

  it('answers aligned windows from the roll-ups exactly as from the raw points', async () => {
    const database = 'ret_read'
    const store = await createInfluxStore({ url: influx.url, database, retention: {} })
    const points: TelemetryPoint[] = Array.from({ length: 720 }, (_, i) => ({
      measurement: 'telemetry',
      tags: { device: i % 2 === 0 ? 'a' : 'b' },
      fields: { p: i, e: 1000 + i * 0.5 },
      ts: T0 + i * 10_000,
    }))
    await store.write(points)
    // The CQs run at each interval's end for new data; data written before (here, two days back) is filled by their query over its range.
    const http = influxHttp({ url: influx.url, database })
    for (const [rp, res] of [
      [MINUTE_RP, '1m'],
      [QUARTER_RP, '15m'],
    ] as const) {
      await http.query([rollupSelect(database, 'telemetry', rp, res, { from: T0, to: T0 + 2 * H })], 'fill')
    }
    const rawOnly = await createInfluxStore({ url: influx.url, database, retentionPolicy: 'pw_raw', createDatabase: false })
    const base = { measurement: 'telemetry', fields: ['p', 'e'], start: T0, stop: T0 + 2 * H, groupBy: ['device'], timezone: 'UTC' }
    const answers = async (s: typeof store) => {
      const out: Record<string, unknown> = {}
      for (const fn of FNS) for (const every of ['15m', '1h']) out[`${fn} ${every}`] = await s.aggregate({ ...base, fn, every })
      return out
    }
    const fromRollups = await answers(store)
    expect(fromRollups).toEqual(await answers(rawOnly))
    // From inside an hour: its first window merges raw points [T0 + 20 min, + 30 min) with quarters
    // [+ 30 min, + 60 min). Device a's first window holds the even i of 120 … 359: mean 239.
    const inside = { ...base, start: T0 + 20 * 60_000 }
    for (const fn of FNS) expect(await store.aggregate({ ...inside, fn, every: '1h' })).toEqual(await rawOnly.aggregate({ ...inside, fn, every: '1h' }))
    expect((await store.aggregate({ ...inside, fields: ['p'], fn: 'mean', every: '1h', filter: { device: 'a' } }))[0]?.value).toBe(239)
    // Hand-worked: device a holds the even i; its first hour (i = 0, 2, …, 358) has mean 179, first 0, last 358.
    const a = (await store.aggregate({ ...base, fields: ['p'], fn: 'mean', every: '1h', filter: { device: 'a' } }))[0]
    expect(a).toEqual({ tags: { device: 'a' }, field: 'p', windowStart: T0, value: 179 })
    // A point written into pw_raw after the roll-up ran is not seen: the answer came from the roll-up.
    await store.write([{ measurement: 'telemetry', tags: { device: 'a' }, fields: { p: 1e6 }, ts: T0 + 5000 }])
    expect((await store.aggregate({ ...base, fields: ['p'], fn: 'max', every: '1h', filter: { device: 'a' } }))[0]?.value).toBe(358)
    expect((await rawOnly.aggregate({ ...base, fields: ['p'], fn: 'max', every: '1h', filter: { device: 'a' } }))[0]?.value).toBe(1e6)
    // A measurement that does not expire (the reports' roll-up state at ts 0) goes to autogen: pw_raw would refuse it.
    await store.write([{ measurement: 'counter_15m_state', tags: { device: 'a' }, fields: { energy_import_kwh_to: T0 }, ts: 0 }])
    expect(await store.latest({ measurement: 'counter_15m_state' })).toEqual([{ tags: { device: 'a' }, field: 'energy_import_kwh_to', ts: 0, value: T0 }])
    await store.close()
    await rawOnly.close()
  })
})
