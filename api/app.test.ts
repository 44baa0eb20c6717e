import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { DeadLetter, DeadLetterLog, DeadLetterQuery } from '../core/dead-letter.ts'
import { PlantWattError } from '../core/errors.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { QUANTITY_NAMES } from '../core/quantities.ts'
import { TELEMETRY_MEASUREMENT, type TelemetryPoint, type TelemetryStore } from '../storage/store.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { build } from './app.ts'
import { resolveApiConfig } from './config.ts'
import { startApi } from './index.ts'
import { DAY_MS, MINUTE_MS } from '../core/duration.ts'

/** 2025-11-29 12:00 in Shanghai: the server clock of every test. */
const NOW = Date.UTC(2025, 10, 29, 4, 0, 0)
/** 2025-11-29 00:00 in Shanghai, the start of the series fixture. */
const S = Date.UTC(2025, 10, 28, 16, 0, 0)
const MIN = MINUTE_MS
const DAY = DAY_MS

// Validated like a config file, so defaults are filled as in production.
const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      name: 'Acme Steel',
      sites: [
        {
          id: 'wuhan',
          lines: [
            {
              id: 'rolling-1',
              mainMeter: 'main-meter',
              devices: [
                { id: 'main-meter', name: '进线总表 Incomer', kind: 'meter' },
                { id: 'mill-drive', name: '主传动 Mill drive', kind: 'machine', keyEquipment: true, ncCapable: true },
              ],
            },
            {
              id: 'rolling-2',
              devices: [
                { id: 'main-meter', kind: 'meter' },
                { id: 'idle-fan', kind: 'sensor' },
              ],
            },
          ],
        },
      ],
    },
  ],
})

const addr = (line: string, device: string, enterprise = 'acme', site = 'wuhan') => ({ enterprise, site, line, device })
const point = (tags: Record<string, string>, ts: number, fields: Record<string, number>): TelemetryPoint => ({
  measurement: TELEMETRY_MEASUREMENT,
  tags,
  fields,
  ts,
})

const MAIN_1 = addr('rolling-1', 'main-meter')
const MILL = addr('rolling-1', 'mill-drive')
const MAIN_2 = addr('rolling-2', 'main-meter')
const GHOST = addr('x', 'ghost', 'other', 'plant')

/** active_power_kw of acme/wuhan/rolling-1/main-meter over [S, S + 1 h), every 5 minutes with a gap. */
const SERIES: [number, number][] = [
  [S - 1, 5000], // before start: excluded
  [S, 100],
  [S + 5 * MIN, 110],
  [S + 10 * MIN, 120], // window 00:00: mean 110, max 120, count 3
  [S + 15 * MIN, 200],
  [S + 20 * MIN, 210], // window 00:15: mean 205, max 210, count 2
  // window 00:30: no data, no point
  [S + 45 * MIN, 50],
  [S + 50 * MIN, 60],
  [S + 55 * MIN, 100], // window 00:45: mean 70, max 100, count 3
  [S + 60 * MIN, 999], // at stop: excluded (stop is exclusive)
]

const FIXTURE: TelemetryPoint[] = [
  ...SERIES.map(([ts, v]) => point(MAIN_1, ts, { active_power_kw: v })),
  point(MAIN_1, NOW - 2 * 3_600_000, { active_power_kw: 1, seq: 3 }), // older than the live window
  // The bad power factor at NOW-5s is superseded by a good one at NOW-2s: its flag must not stick.
  point(MILL, NOW - 5000, { active_power_kw: 400, power_factor: 0.2, q_power_factor: 2, seq: 41 }),
  point(MILL, NOW - 2000, { active_power_kw: 412.5, energy_import_kwh: 1834021.7, power_factor: 0.93, voltage_l1_v: 230.1, q_voltage_l1_v: 1, seq: 42 }),
  point(MAIN_2, NOW - 60_000, { active_power_kw: 10, frequency_hz: 50.01, seq: 7 }),
  // A quality flag on a value that was not sent: the newest reading is bad.
  point(MAIN_2, NOW - 60_000, { q_power_factor: 2 }),
  // Not in the plant model; a non-canonical field is not a value.
  point(GHOST, NOW - 1000, { temperature_c: 21.5, not_a_quantity: 5, seq: 1 }),
]

class ListDeadLetters implements DeadLetterLog {
  readonly entries: DeadLetter[] = []
  readonly queries: (DeadLetterQuery | undefined)[] = []
  add(entry: DeadLetter): void {
    this.entries.push(entry)
  }
  list(query?: DeadLetterQuery): DeadLetter[] {
    this.queries.push(query)
    return this.entries
      .filter((e) => (query?.reason === undefined || e.reason === query.reason) && (query?.since === undefined || e.ts >= query.since))
      .sort((a, b) => b.ts - a.ts)
      .slice(0, query?.limit ?? Infinity)
  }
  counts(): Record<string, number> {
    const c: Record<string, number> = {}
    for (const e of this.entries) c[e.reason] = (c[e.reason] ?? 0) + 1
    return c
  }
  async close(): Promise<void> {}
}

const letter = (ts: number, reason: string): DeadLetter => ({
  ts,
  reason,
  message: `${reason} at ${ts}`,
  topic: 'pw/v1/acme/wuhan/rolling-1/main-meter/data',
  payload: 'not json',
  payloadBytes: 8,
  source: 'ingest',
})

interface ErrorJson {
  error: { code: string; message: string; details?: unknown }
}

let store: TelemetryStore
let app: FastifyInstance
const deadLetters = new ListDeadLetters()

beforeAll(async () => {
  store = await createEmbeddedStore({ path: ':memory:' })
  await store.write(FIXTURE)
  deadLetters.add(letter(NOW - 3000, 'CORE_ERR_PAYLOAD_JSON'))
  deadLetters.add(letter(NOW - 2000, 'CORE_ERR_TOPIC'))
  deadLetters.add(letter(NOW - 1000, 'CORE_ERR_PAYLOAD_JSON'))
  app = await build({ store, plant: PLANT, deadLetters, now: () => NOW, status: () => ({ ingest: { stored: 12 } }) })
})

afterAll(async () => {
  await app?.close()
  await store?.close()
})

async function get<T>(url: string): Promise<{ status: number; body: T; type: string }> {
  const res = await app.inject({ method: 'GET', url })
  return { status: res.statusCode, body: res.json() as T, type: String(res.headers['content-type']) }
}

function series(params: Record<string, string | number>): string {
  return `/api/v1/series?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`
}

const HOUR_RANGE = { device: 'acme/wuhan/rolling-1/main-meter', quantity: 'active_power_kw', start: S, stop: S + 60 * MIN }

describe('config', () => {
  it('fills defaults and rejects unknown keys naming them', () => {
    expect(resolveApiConfig({ port: 0 })).toEqual({
      host: '127.0.0.1',
      port: 0,
      maxRangeDays: 400,
      maxPoints: 100_000,
      liveWindowS: 3600,
      onlineAfterMs: 10_000,
      rollupRefreshS: 300,
      importMaxBytes: 104_857_600,
    })
    expect(() => resolveApiConfig({ colour: 'blue' } as never)).toThrow(/\/colour/)
    expect(() => resolveApiConfig({ port: 70_000 })).toThrow(/\/port/)
  })
})

describe('GET /api/v1/live', () => {
  it('returns the newest value of each quantity per device, with quality, seq and age', async () => {
    const { status, body } = await get<{ ts: number; devices: Record<string, unknown>[] }>('/api/v1/live')
    expect(status).toBe(200)
    expect(body.ts).toBe(NOW)
    expect(body.devices).toEqual([
      {
        ...MILL,
        name: '主传动 Mill drive',
        ts: NOW - 2000,
        ageMs: 2000,
        online: true,
        seq: 42,
        values: { active_power_kw: 412.5, energy_import_kwh: 1834021.7, power_factor: 0.93, voltage_l1_v: 230.1 },
        quality: { voltage_l1_v: 'uncertain' },
      },
      {
        ...MAIN_2,
        name: 'main-meter',
        ts: NOW - 60_000,
        ageMs: 60_000,
        online: false,
        seq: 7,
        values: { active_power_kw: 10, frequency_hz: 50.01 },
        quality: { power_factor: 'bad' },
      },
      { ...GHOST, name: 'ghost', ts: NOW - 1000, ageMs: 1000, online: true, seq: 1, values: { temperature_c: 21.5 }, quality: {} },
    ])
  })

  it('narrows to part of the plant', async () => {
    const { body } = await get<{ devices: { device: string; line: string }[] }>('/api/v1/live?line=rolling-2')
    expect(body.devices.map((d) => `${d.line}/${d.device}`)).toEqual(['rolling-2/main-meter'])
  })

  it('rejects a malformed filter naming it', async () => {
    const { status, body } = await get<ErrorJson>('/api/v1/live?site=Bad%20Site')
    expect(status).toBe(400)
    expect(body.error.code).toBe('API_ERR_VALIDATION')
    expect(body.error.message).toContain('"site"')
  })
})

describe('GET /api/v1/devices', () => {
  it('merges the plant model with devices seen in telemetry', async () => {
    const { status, body: answer } = await get<{ ts: number; devices: unknown[]; rows: unknown[] }>('/api/v1/devices')
    expect(status).toBe(200)
    // `rows` (for CSV export) holds the same devices.
    expect(answer.rows).toEqual(answer.devices)
    const body = { ts: answer.ts, devices: answer.devices }
    expect(body).toEqual({
      ts: NOW,
      devices: [
        { ...MAIN_1, name: '进线总表 Incomer', kind: 'meter', mainMeter: true, inModel: true, lastSeen: null, online: false },
        { ...MILL, name: '主传动 Mill drive', kind: 'machine', mainMeter: false, inModel: true, lastSeen: NOW - 2000, online: true },
        { ...addr('rolling-2', 'idle-fan'), name: 'idle-fan', kind: 'sensor', mainMeter: false, inModel: true, lastSeen: null, online: false },
        { ...MAIN_2, name: 'main-meter', kind: 'meter', mainMeter: false, inModel: true, lastSeen: NOW - 60_000, online: false },
        { ...GHOST, name: 'ghost', kind: null, mainMeter: false, inModel: false, lastSeen: NOW - 1000, online: true },
      ],
    })
  })

  it('narrows to one enterprise', async () => {
    const { body } = await get<{ devices: { device: string }[] }>('/api/v1/devices?enterprise=other')
    expect(body.devices.map((d) => d.device)).toEqual(['ghost'])
  })
})

describe('GET /api/v1/series', () => {
  type Series = {
    device: string
    quantity: string
    unit: string
    fn: string
    every: string | null
    timezone: string
    start: number
    stop: number
    points: { ts: number; value: number }[]
  }

  it('averages each 15-minute window, omitting windows without data', async () => {
    const { status, body } = await get<Series>(series({ ...HOUR_RANGE, every: '15m' }))
    expect(status).toBe(200)
    expect(body).toEqual({
      device: 'acme/wuhan/rolling-1/main-meter',
      quantity: 'active_power_kw',
      unit: 'kW',
      fn: 'mean',
      every: '15m',
      timezone: 'Asia/Shanghai',
      start: S,
      stop: S + 60 * MIN,
      points: [
        { ts: S, value: 110 },
        { ts: S + 15 * MIN, value: 205 },
        { ts: S + 45 * MIN, value: 70 },
      ],
    })
  })

  it('applies the requested function', async () => {
    const max = await get<Series>(series({ ...HOUR_RANGE, every: '15m', fn: 'max' }))
    expect(max.body.points.map((p) => p.value)).toEqual([120, 210, 100])
    const count = await get<Series>(series({ ...HOUR_RANGE, every: '15m', fn: 'count' }))
    expect(count.body.points.map((p) => p.value)).toEqual([3, 2, 3])
  })

  it('gives one window over the whole range without every', async () => {
    const { body } = await get<Series>(series(HOUR_RANGE))
    expect(body.every).toBeNull()
    expect(body.points).toEqual([{ ts: S, value: 118.75 }]) // (100+110+120+200+210+50+60+100)/8
  })

  it('reads ISO times without an offset as plant wall-clock time, and with one as given', async () => {
    const local = await get<Series>(series({ ...HOUR_RANGE, start: '2025-11-29T00:00', stop: '2025-11-29T01:00' }))
    expect([local.body.start, local.body.stop]).toEqual([S, S + 60 * MIN])
    expect(local.body.points).toEqual([{ ts: S, value: 118.75 }])
    const utc = await get<Series>(series({ ...HOUR_RANGE, start: '2025-11-28T16:00:00Z', stop: '2025-11-29T01:00:00+08:00' }))
    expect([utc.body.start, utc.body.stop]).toEqual([S, S + 60 * MIN])
  })

  it('aligns day windows in the requested time zone', async () => {
    const shanghai = await get<Series>(series({ ...HOUR_RANGE, every: '1d' }))
    expect(shanghai.body.points).toEqual([{ ts: S, value: 118.75 }])
    const utc = await get<Series>(series({ ...HOUR_RANGE, every: '1d', tz: 'UTC' }))
    expect(utc.body.timezone).toBe('UTC')
    expect(utc.body.points).toEqual([{ ts: Date.UTC(2025, 10, 28), value: 118.75 }])
  })

  it('accepts a device id that is unique in the model', async () => {
    const { status, body } = await get<Series>(series({ device: 'mill-drive', quantity: 'active_power_kw', start: NOW - 10_000, stop: NOW, fn: 'mean' }))
    expect(status).toBe(200)
    expect(body.device).toBe('acme/wuhan/rolling-1/mill-drive')
    expect(body.points).toEqual([{ ts: NOW - 10_000, value: (400 + 412.5) / 2 }])
  })

  it('accepts the full path of a device that is only known from telemetry', async () => {
    const { status, body } = await get<Series>(series({ device: 'other/plant/x/ghost', quantity: 'temperature_c', start: NOW - 10_000, stop: NOW, fn: 'last' }))
    expect(status).toBe(200)
    expect(body.points).toEqual([{ ts: NOW - 10_000, value: 21.5 }])
  })

  it('rejects start after stop, and start equal to stop, naming both', async () => {
    for (const [start, stop] of [
      [S + MIN, S],
      [S, S],
    ]) {
      const { status, body } = await get<ErrorJson>(series({ ...HOUR_RANGE, start: start as number, stop: stop as number }))
      expect(status).toBe(400)
      expect(body.error.code).toBe('API_ERR_RANGE')
      expect(body.error.message).toContain('start')
      expect(body.error.message).toContain('stop')
    }
  })

  it('rejects an unknown quantity naming it', async () => {
    const { status, body } = await get<ErrorJson>(series({ ...HOUR_RANGE, quantity: 'watts' }))
    expect(status).toBe(400)
    expect(body.error.code).toBe('API_ERR_QUANTITY_UNKNOWN')
    expect(body.error.message).toContain('"quantity"')
    expect(body.error.message).toContain('watts')
  })

  it('rejects a bad every naming it', async () => {
    const { status, body } = await get<ErrorJson>(series({ ...HOUR_RANGE, every: '5x' }))
    expect(status).toBe(400)
    expect(body.error.code).toBe('API_ERR_VALIDATION')
    expect(body.error.message).toContain('"every"')
    expect(body.error.message).toContain('5x')
    // Windows of a day or more must be whole days: 36 h has no local-midnight grid.
    const odd = await get<ErrorJson>(series({ ...HOUR_RANGE, every: '36h' }))
    expect(odd.status).toBe(400)
    expect(odd.body.error.code).toBe('API_ERR_VALIDATION')
    expect(odd.body.error.message).toContain('"every"')
  })

  it('rejects a function that is not allowed, naming it and listing the allowed ones', async () => {
    const { status, body } = await get<ErrorJson>(series({ ...HOUR_RANGE, fn: 'median' }))
    expect(status).toBe(400)
    expect(body.error.code).toBe('API_ERR_VALIDATION')
    expect(body.error.message).toBe('query parameter "fn" must be one of mean, min, max, sum, count, first, last, spread')
    expect(body.error.details).toEqual([{ parameter: 'fn', in: 'querystring', message: body.error.message }])
  })

  it('rejects missing and unknown parameters naming them', async () => {
    const { device, start, stop } = HOUR_RANGE
    const missing = await get<ErrorJson>(series({ device, start, stop }))
    expect(missing.status).toBe(400)
    expect(missing.body.error).toMatchObject({ code: 'API_ERR_VALIDATION', message: 'missing query parameter "quantity"' })
    const unknown = await get<ErrorJson>(series({ ...HOUR_RANGE, colour: 'blue' }))
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatchObject({ code: 'API_ERR_VALIDATION', message: 'unknown query parameter "colour"' })
  })

  it('rejects times it cannot read, and unknown time zones, naming the parameter', async () => {
    const badStart = await get<ErrorJson>(series({ ...HOUR_RANGE, start: 'yesterday' }))
    expect(badStart.status).toBe(400)
    expect(badStart.body.error.code).toBe('API_ERR_VALIDATION')
    expect(badStart.body.error.message).toContain('"start"')
    const badDate = await get<ErrorJson>(series({ ...HOUR_RANGE, stop: '2025-02-30' }))
    expect(badDate.status).toBe(400)
    expect(badDate.body.error.message).toContain('"stop"')
    const badTz = await get<ErrorJson>(series({ ...HOUR_RANGE, tz: 'Mars/Olympus' }))
    expect(badTz.status).toBe(400)
    expect(badTz.body.error.message).toContain('"tz"')
  })

  it('rejects ranges longer than maxRangeDays and answers larger than maxPoints', async () => {
    const long = await get<ErrorJson>(series({ ...HOUR_RANGE, start: S - 401 * DAY, stop: S }))
    expect(long.status).toBe(400)
    expect(long.body.error.code).toBe('API_ERR_RANGE_TOO_LARGE')
    expect(long.body.error.message).toContain('400 days')
    // 2 days of 1-second windows: 172 800 > 100 000 points.
    const dense = await get<ErrorJson>(series({ ...HOUR_RANGE, start: S, stop: S + 2 * DAY, every: '1s' }))
    expect(dense.status).toBe(400)
    expect(dense.body.error.code).toBe('API_ERR_RANGE_TOO_LARGE')
    expect(dense.body.error.message).toContain('"every"')
    expect(dense.body.error.details).toEqual({ windows: 172_800, maxPoints: 100_000 })
    // Exactly at the limit is allowed: 86 400 + 13 600 windows from local midnight.
    const edge = await get<Series>(series({ ...HOUR_RANGE, start: S, stop: S + 100_000_000, every: '1s' }))
    expect(edge.status).toBe(200)
    const over = await get<ErrorJson>(series({ ...HOUR_RANGE, start: S, stop: S + 100_000_001, every: '1s' }))
    expect(over.body.error.details).toEqual({ windows: 100_001, maxPoints: 100_000 })
    // Calendar windows are counted in the calendar: 13 months from 2025-01-01 local.
    const months = await build({ store, plant: PLANT, config: { maxPoints: 12 } })
    try {
      const res = await months.inject(series({ ...HOUR_RANGE, start: '2025-01-01', stop: '2026-02-01', every: '1mo' }))
      expect(res.statusCode).toBe(400)
      expect((res.json() as ErrorJson).error.details).toEqual({ windows: 13, maxPoints: 12 })
      const year = await months.inject(series({ ...HOUR_RANGE, start: '2025-01-01', stop: '2026-01-01', every: '1mo' }))
      expect(year.statusCode).toBe(200)
    } finally {
      await months.close()
    }
  })

  it('answers 404 for an unknown device and 400 for an ambiguous id', async () => {
    for (const device of ['acme/wuhan/rolling-1/nope', 'nope']) {
      const { status, body } = await get<ErrorJson>(series({ ...HOUR_RANGE, device }))
      expect(status).toBe(404)
      expect(body.error.code).toBe('API_ERR_DEVICE_UNKNOWN')
      expect(body.error.message).toContain(device)
    }
    const ambiguous = await get<ErrorJson>(series({ ...HOUR_RANGE, device: 'main-meter' }))
    expect(ambiguous.status).toBe(400)
    expect(ambiguous.body.error.code).toBe('API_ERR_DEVICE_AMBIGUOUS')
    expect(ambiguous.body.error.details).toEqual({ candidates: ['acme/wuhan/rolling-1/main-meter', 'acme/wuhan/rolling-2/main-meter'] })
    const malformed = await get<ErrorJson>(series({ ...HOUR_RANGE, device: 'acme/wuhan/main-meter' }))
    expect(malformed.status).toBe(400)
    expect(malformed.body.error.code).toBe('API_ERR_VALIDATION')
  })
})

describe('GET /api/v1/dead-letters', () => {
  it('lists counts per reason and entries newest first, passing the filters through', async () => {
    const all = await get<{ counts: Record<string, number>; items: DeadLetter[] }>('/api/v1/dead-letters')
    expect(all.status).toBe(200)
    expect(all.body.counts).toEqual({ CORE_ERR_PAYLOAD_JSON: 2, CORE_ERR_TOPIC: 1 })
    expect(all.body.items.map((i) => i.ts)).toEqual([NOW - 1000, NOW - 2000, NOW - 3000])
    expect(all.body.items[0]).toEqual(letter(NOW - 1000, 'CORE_ERR_PAYLOAD_JSON'))
    expect(deadLetters.queries.at(-1)).toEqual({ limit: 100 })

    const some = await get<{ items: DeadLetter[] }>(`/api/v1/dead-letters?reason=CORE_ERR_PAYLOAD_JSON&limit=1&since=${NOW - 2500}`)
    expect(some.body.items.map((i) => i.ts)).toEqual([NOW - 1000])
    expect(deadLetters.queries.at(-1)).toEqual({ reason: 'CORE_ERR_PAYLOAD_JSON', limit: 1, since: NOW - 2500 })
  })

  it('rejects a limit out of range naming it', async () => {
    const { status, body } = await get<ErrorJson>('/api/v1/dead-letters?limit=0')
    expect(status).toBe(400)
    expect(body.error.message).toContain('"limit"')
  })

  it('answers 503 when no dead-letter log is configured', async () => {
    const bare = await build({ store, plant: PLANT })
    try {
      const res = await bare.inject('/api/v1/dead-letters')
      expect(res.statusCode).toBe(503)
      expect((res.json() as ErrorJson).error.code).toBe('API_ERR_UNAVAILABLE')
    } finally {
      await bare.close()
    }
  })
})

describe('GET /api/v1/quantities and /api/v1/health', () => {
  it('lists every canonical quantity with its unit', async () => {
    const { body } = await get<{ quantities: { name: string; unit: string; cumulative: boolean }[] }>('/api/v1/quantities')
    expect(body.quantities.map((q) => q.name)).toEqual(QUANTITY_NAMES)
    expect(body.quantities.find((q) => q.name === 'active_power_kw')).toMatchObject({ unit: 'kW', cumulative: false })
    expect(body.quantities.find((q) => q.name === 'energy_import_kwh')).toMatchObject({ unit: 'kWh', cumulative: true })
  })

  it('reports the store and the components of the process', async () => {
    const { status, body } = await get<unknown>('/api/v1/health')
    expect(status).toBe(200)
    expect(body).toEqual({ status: 'ok', auth: 'off', store: { backend: 'embedded', ok: true }, components: { ingest: { stored: 12 } } })
  })

  it('answers 503 degraded when the store does not answer', async () => {
    const closed = await createEmbeddedStore({ path: ':memory:' })
    await closed.close()
    const down = await build({ store: closed })
    try {
      const res = await down.inject('/api/v1/health')
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ status: 'degraded', store: { backend: 'embedded', ok: false } })
    } finally {
      await down.close()
    }
  })
})

describe('errors', () => {
  /** The real store with one method replaced by a failure: a fault that cannot be produced on demand. */
  function failing(method: 'latest' | 'aggregate', err: Error): TelemetryStore {
    return {
      backend: store.backend,
      write: (p) => store.write(p),
      aggregate: method === 'aggregate' ? () => Promise.reject(err) : (q) => store.aggregate(q),
      latest: method === 'latest' ? () => Promise.reject(err) : (q) => store.latest(q),
      raw: (q) => store.raw(q),
      ping: () => store.ping(),
      close: async () => {},
    }
  }

  it('maps storage errors to 503 with their code', async () => {
    const closed = await createEmbeddedStore({ path: ':memory:' })
    await closed.close()
    const api = await build({ store: closed, plant: PLANT })
    try {
      for (const url of [series(HOUR_RANGE), '/api/v1/live', '/api/v1/devices']) {
        const res = await api.inject(url)
        expect(res.statusCode, url).toBe(503)
        expect((res.json() as ErrorJson).error.code, url).toBe('STORAGE_ERR_CLOSED')
      }
    } finally {
      await api.close()
    }
    const locked = await build({
      store: failing('aggregate', new PlantWattError('STORAGE_ERR_UNAVAILABLE', 'database is locked by another process')),
      plant: PLANT,
    })
    try {
      const res = await locked.inject(series(HOUR_RANGE))
      expect(res.statusCode).toBe(503)
      expect(res.json()).toEqual({ error: { code: 'STORAGE_ERR_UNAVAILABLE', message: 'database is locked by another process' } })
    } finally {
      await locked.close()
    }
  })

  it('answers anything unexpected with a bare 500: no message, no stack', async () => {
    const api = await build({ store: failing('latest', new TypeError('cannot read x of undefined at /srv/secret/path.ts:12')), plant: PLANT })
    try {
      const res = await api.inject('/api/v1/live')
      expect(res.statusCode).toBe(500)
      expect(res.json()).toEqual({ error: { code: 'API_ERR_INTERNAL', message: 'internal server error' } })
      expect(res.body).not.toContain('secret')
    } finally {
      await api.close()
    }
  })

  it('logs what it hides: the internal error goes to the server log with its stack', async () => {
    const lines: Record<string, unknown>[] = []
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    })
    const api = await build({ store: failing('latest', new TypeError('boom at /srv/secret/path.ts:12')), logger: pino({ level: 'info' }, sink) })
    try {
      expect((await api.inject('/api/v1/live')).statusCode).toBe(500)
      const logged = lines.find((l) => l.msg === 'request failed')
      expect(logged?.level).toBe(50)
      const err = logged?.err as { message: string; stack: string } | undefined
      expect(err?.message).toBe('boom at /srv/secret/path.ts:12')
      expect(err?.stack).toContain('TypeError')
    } finally {
      await api.close()
    }
  })

  it('answers unknown routes with a coded 404', async () => {
    const { status, body } = await get<ErrorJson>('/api/v1/nothing-here')
    expect(status).toBe(404)
    expect(body.error).toEqual({ code: 'API_ERR_NOT_FOUND', message: 'no route GET /api/v1/nothing-here' })
  })
})

describe('OpenAPI and the web page', () => {
  it('documents every route with its parameters and responses', async () => {
    const { status, body } = await get<{
      openapi: string
      paths: Record<string, { get: { parameters?: { name: string; schema: { enum?: string[] } }[]; responses: Record<string, { content?: unknown }> } }>
    }>('/docs/json')
    expect(status).toBe(200)
    expect(body.openapi).toMatch(/^3\./)
    const api = Object.keys(body.paths)
      .filter((p) => p.startsWith('/api/v1/'))
      .sort()
    expect(api).toEqual(
      expect.arrayContaining([
        '/api/v1/dead-letters',
        '/api/v1/devices',
        '/api/v1/health',
        '/api/v1/live',
        '/api/v1/plant',
        '/api/v1/quantities',
        '/api/v1/series',
      ]),
    )
    for (const p of api) {
      const op = body.paths[p]?.get
      if (op) expect(op.responses['200']?.content, `${p} documents its 200 answer`).toBeDefined()
    }
    const params = body.paths['/api/v1/series']?.get.parameters ?? []
    expect(params.map((p) => p.name).sort()).toEqual(['device', 'every', 'fn', 'quantity', 'start', 'stop', 'tz'])
    expect(params.find((p) => p.name === 'fn')?.schema.enum).toEqual(['mean', 'min', 'max', 'sum', 'count', 'first', 'last', 'spread'])
    expect(body.paths['/api/v1/series']?.get.responses['400']?.content).toBeDefined()
  })

  it('serves the Swagger UI at /docs', async () => {
    const res = await app.inject('/docs/')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/text\/html/)
  })

  it('serves the UI shell at / and its files under /ui/ (what the page does is tested in Chromium: test/browser/)', async () => {
    const res = await app.inject('/')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('src="/ui/app.js"')
    expect(res.body).toContain('href="/docs"')
    const js = await app.inject('/ui/app.js')
    expect(js.statusCode).toBe(200)
    expect(js.headers['content-type']).toMatch(/^text\/javascript/)
    expect(js.body).toContain('"/api/v1"') // bundled from api/web/src by esbuild, which prints double quotes
    expect(js.body).toContain('有功功率')
    const chart = await app.inject('/ui/uplot.js')
    expect(chart.statusCode).toBe(200)
    expect(chart.body).toContain('uPlot')
    const missing = await app.inject('/ui/..%2Fapp.ts')
    expect(missing.statusCode).toBe(404)
    expect(missing.json().error.code).toBe('API_ERR_NOT_FOUND')
  })
})

describe('startApi', () => {
  it('listens on a free port and answers over HTTP', async () => {
    const api = await startApi({ store, plant: PLANT, config: resolveApiConfig({ port: 0 }) })
    try {
      expect(api.port).toBeGreaterThan(0)
      expect(api.url).toBe(`http://127.0.0.1:${api.port}`)
      const res = await fetch(`${api.url}/api/v1/health`)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { status: string }).status).toBe('ok')
    } finally {
      await api.close()
    }
    await expect(fetch(`${api.url}/api/v1/health`)).rejects.toThrow()
  })
})
