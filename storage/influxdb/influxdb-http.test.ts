import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isPlantWattError, type PlantWattError } from '../../core/errors.ts'
import { freePort, startInfluxd, type RunningInfluxd } from '../../test/influxd.ts'
import { SAMPLE_SLOTS, scanSamples, type SamplesResult } from '../../core/payload-scan.ts'
import type { SampleBlock, TelemetryPoint } from '../store.ts'
import { createInfluxStore } from './index.ts'

const T0 = Date.UTC(2024, 4, 1)
const pt = (ts: number, p: number, device = 'd1'): TelemetryPoint => ({ measurement: 'telemetry', tags: { device }, fields: { p }, ts })

async function rejection(promise: Promise<unknown>): Promise<PlantWattError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isPlantWattError(err)) throw new Error(`expected a PlantWattError, got ${String(err)}`)
  return err
}

/** A local HTTP server: records requests and answers with `handler` (or forwards to `target`). */
async function recorder(handler: (path: string, body: string) => { status: number; body: string } | 'hang' | 'forward', target?: string) {
  const requests: { method: string; path: string; headers: IncomingHttpHeaders; body: string }[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body })
      const answer = handler(req.url ?? '', body)
      if (answer === 'hang') return
      if (answer === 'forward') {
        void fetch(`${target}${req.url}`, {
          method: req.method,
          body: req.method === 'GET' ? undefined : body,
          headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' },
        })
          .then(async (r) => {
            res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' })
            res.end(await r.text())
          })
          .catch(() => res.destroy())
        return
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' })
      res.end(answer.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('influxdb store over HTTP', () => {
  let influx: RunningInfluxd

  beforeAll(async () => {
    influx = await startInfluxd()
  })
  afterAll(async () => {
    await influx?.stop()
  })

  it('fails at start with STORAGE_ERR_UNAVAILABLE when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const err = await rejection(createInfluxStore({ url, database: 'x' }))
    expect(err.code).toBe('STORAGE_ERR_UNAVAILABLE')
    expect(err.message).toContain(url)
    expect(err.message).toContain('ECONNREFUSED')
    expect(err.cause).toBeDefined()
  })

  it('does no I/O at start with createDatabase: false, then reports writes as unavailable', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const store = await createInfluxStore({ url, database: 'x', createDatabase: false })
    expect((await rejection(store.write([pt(T0, 1)]))).code).toBe('STORAGE_ERR_UNAVAILABLE')
    expect((await rejection(store.ping())).code).toBe('STORAGE_ERR_UNAVAILABLE')
  })

  it('turns an HTTP error on write into STORAGE_ERR_WRITE with status, InfluxDB text and cause', async () => {
    const store = await createInfluxStore({ url: influx.url, database: 'never_created', createDatabase: false })
    const err = await rejection(store.write([pt(T0, 1)]))
    expect(err.code).toBe('STORAGE_ERR_WRITE')
    expect(err.message).toMatch(/answered 404: database not found: "?never_created/)
    expect(err.details).toMatchObject({ status: 404 })
    expect((err.cause as Error).message).toContain('database not found')
  })

  it('turns a query error into STORAGE_ERR_QUERY', async () => {
    const store = await createInfluxStore({ url: influx.url, database: 'never_created_either', createDatabase: false })
    const err = await rejection(store.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 1000, fn: 'sum' }))
    expect(err.code).toBe('STORAGE_ERR_QUERY')
    expect(err.message).toContain('database not found')
  })

  it('times out with STORAGE_ERR_UNAVAILABLE when the server does not answer', async () => {
    const silent = await recorder(() => 'hang')
    try {
      const store = await createInfluxStore({ url: silent.url, database: 'x', createDatabase: false, timeoutMs: 200 })
      const started = Date.now()
      const err = await rejection(store.ping())
      expect(err.code).toBe('STORAGE_ERR_UNAVAILABLE')
      expect(err.message).toContain('did not answer within 200 ms')
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      await silent.close()
    }
  })

  it('sends a token as "Authorization: Token", a user as basic auth, and nothing secret in the URL', async () => {
    const fake = await recorder(() => ({ status: 204, body: '' }))
    try {
      const withToken = await createInfluxStore({ url: fake.url, database: 'db', token: 's3cret-token', createDatabase: false })
      await withToken.write([pt(T0, 1)])
      const withUser = await createInfluxStore({ url: fake.url, database: 'db', username: 'ann', password: 'pa:ss', createDatabase: false })
      await withUser.ping()
      expect(fake.requests[0]?.headers.authorization).toBe('Token s3cret-token')
      expect(fake.requests[0]?.path).toBe('/write?db=db&precision=ms')
      expect(fake.requests[0]?.body).toBe(`telemetry,device=d1 p=1 ${T0}`)
      expect(fake.requests[1]?.headers.authorization).toBe(`Basic ${Buffer.from('ann:pa:ss').toString('base64')}`)
      expect(fake.requests.map((r) => r.path).join(' ')).not.toMatch(/s3cret|pa:ss/)
    } finally {
      await fake.close()
    }
  })

  it('writes in batches of at most 5,000 lines', async () => {
    const proxy = await recorder(() => 'forward', influx.url)
    try {
      const store = await createInfluxStore({ url: proxy.url, database: 'batches' })
      await store.write(Array.from({ length: 12_001 }, (_, i) => pt(T0 + i, i % 7)))
      const writes = proxy.requests.filter((r) => r.path.startsWith('/write'))
      expect(writes.map((r) => r.body.split('\n').length)).toEqual([5000, 5000, 2001])
      const count = await store.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 20_000, fn: 'count' })
      expect(count[0]?.value).toBe(12_001)
    } finally {
      await proxy.close()
    }
  })

  it('writeBlocks: whole blocks, about 5,000 lines a request, one line per sample', async () => {
    const proxy = await recorder(() => 'forward', influx.url)
    try {
      const store = await createInfluxStore({ url: proxy.url, database: 'sample_blocks' })
      // 1,200 blocks of 10 samples, their slots in one array as ingest keeps them.
      const slots = new Float64Array(1200 * 10 * SAMPLE_SLOTS)
      const result: SamplesResult = { seq: 0, end: 0, samples: 0 }
      const blocks: SampleBlock[] = Array.from({ length: 1200 }, (_, c) => {
        const json = Buffer.from(
          JSON.stringify({ seq: c, samples: Array.from({ length: 10 }, (_, j) => ({ ts: T0 + c * 10 + j, values: { active_power_kw: c * 10 + j } })) }),
        )
        const from = c * 10 * SAMPLE_SLOTS
        expect(scanSamples(json, slots, from, result)).toBe(1)
        return { measurement: 'telemetry', tags: { device: `d${c % 3}` }, json, seq: c, slots, from, samples: 10 }
      })
      await store.writeBlocks?.(blocks)
      const writes = proxy.requests.filter((r) => r.path.startsWith('/write'))
      expect(writes.map((r) => r.body.split('\n').filter(Boolean).length)).toEqual([5000, 5000, 2000])
      expect(writes[0]?.body.split('\n')[1]).toBe(`telemetry,device=d0 active_power_kw=1,seq=0 ${T0 + 1}`)
      const sum = await store.aggregate({ measurement: 'telemetry', fields: ['active_power_kw'], start: T0, stop: T0 + 20_000, fn: 'sum' })
      expect(sum.reduce((t, r) => t + r.value, 0)).toBe((11_999 * 12_000) / 2)
    } finally {
      await proxy.close()
    }
  })

  it('writes to and reads from a named retention policy', async () => {
    const db = 'with_rp'
    const setup = await createInfluxStore({ url: influx.url, database: db })
    const res = await fetch(`${influx.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: `CREATE RETENTION POLICY "long term" ON "${db}" DURATION 1000w REPLICATION 1` }),
    })
    expect(res.status).toBe(200)
    const store = await createInfluxStore({ url: influx.url, database: db, retentionPolicy: 'long term' })
    await store.write([pt(T0, 2.5)])
    const q = { measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 1000, fn: 'sum' as const }
    expect(await store.aggregate(q)).toEqual([{ tags: {}, field: 'p', windowStart: T0, value: 2.5 }])
    expect(await store.latest({ measurement: 'telemetry' })).toHaveLength(1)
    expect(await setup.aggregate(q)).toEqual([]) // the default policy holds nothing
  })

  it('survives an influxd stop and start on the same port and data (pause/resume)', async () => {
    const store = await createInfluxStore({ url: influx.url, database: 'restart' })
    await store.write([pt(T0, 4), pt(T0 + 1000, 6)])
    await influx.pause()
    expect((await rejection(store.ping())).code).toBe('STORAGE_ERR_UNAVAILABLE')
    expect((await rejection(store.write([pt(T0 + 2000, 8)]))).code).toBe('STORAGE_ERR_UNAVAILABLE')
    await influx.resume()
    await store.ping()
    await store.write([pt(T0 + 2000, 8)])
    const sum = await store.aggregate({ measurement: 'telemetry', fields: ['p'], start: T0, stop: T0 + 3000, fn: 'sum' })
    expect(sum[0]?.value).toBe(18)
  })
})
