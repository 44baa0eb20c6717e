import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT } from '../storage/store.ts'
import { startScript, type ChildScript } from './child.ts'

/**
 * Security issue 13, item 3: one CSV import must not freeze the API. The API runs in its own process
 * (test/api-process.ts) on a real port, its V8 heap capped at HEAP_CAP_MIB (a body held whole would
 * not fit); a 50 MB import goes over real HTTP while another client probes /health and the server's
 * RSS is read from /proc. The body is generated as it is sent (the client never holds it).
 */

/** The server's old-generation cap, MiB: the 50 MB body as one string alone would take 100 MiB (UTF-16). */
const HEAP_CAP_MIB = 96

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'UTC',
  enterprises: [
    { id: 'acme', sites: [{ id: 'plant', lines: [{ id: 'line', devices: [{ id: 'meter' }] }] }] },
    { id: 'beta', sites: [{ id: 'plant', lines: [{ id: 'line', devices: [{ id: 'meter' }] }] }] },
  ],
})
const METER = 'acme/plant/line/meter'
const QUANTITIES = ['active_power_kw', 'power_factor', 'voltage_l1_v'] as const
const T0 = Date.UTC(2024, 0, 1)
const MIN = 60_000

const keys = { alice: randomBytes(16).toString('hex'), bob: randomBytes(16).toString('hex') }
const sha = (k: string) => `sha256$${createHash('sha256').update(k).digest('hex')}`

/**
 * Per minute: three good rows of acme's meter (one point: same device and instant), one row of
 * beta's meter (another enterprise: refused) and one of a meter that does not exist (refused).
 */
function* longRows(minutes: number): Generator<Buffer> {
  let chunk = 'timestamp,device,quantity,value\n'
  for (let m = 0; m < minutes; m++) {
    const ts = new Date(T0 + m * MIN).toISOString()
    chunk += `${ts},${METER},active_power_kw,${(100 + (m % 50)).toFixed(2)}\n`
    chunk += `${ts},${METER},power_factor,0.9\n`
    chunk += `${ts},${METER},voltage_l1_v,${(230 + (m % 7)).toFixed(1)}\n`
    chunk += `${ts},beta/plant/line/meter,active_power_kw,1\n`
    chunk += `${ts},acme/plant/line/ghost,active_power_kw,1\n`
    if (chunk.length >= 1 << 16) {
      yield Buffer.from(chunk)
      chunk = ''
    }
  }
  if (chunk.length > 0) yield Buffer.from(chunk)
}

/** The chunks of `source`, adding up their bytes in `count.bytes` as they go by. */
function* counted(source: Iterable<Buffer>, count: { bytes: number }): Generator<Buffer> {
  for (const chunk of source) {
    count.bytes += chunk.length
    yield chunk
  }
}

interface Answer {
  status: number
  body: Record<string, unknown>
}

/** The importer's body copies in the server's temp folder (tsx keeps its cache there too). */
const spools = (): string[] => readdirSync(spoolParent).filter((n) => n.startsWith('plantwatt-import-'))

interface RunningApi {
  url: string
}

/** RSS of a process, bytes (Linux /proc). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

/** POST /api/v1/import over HTTP with the body from a stream. */
function postCsv(api: RunningApi, key: string, body: Readable, query = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}/api/v1/import${query}`, { method: 'POST', headers: { 'content-type': 'text/csv', 'x-api-key': key } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    body.pipe(req)
  })
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

let dir: string
let spoolParent: string
let server: ChildScript
let api: RunningApi

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-import-load-'))
  // The importer keeps a body's copy under os.tmpdir(): the server's is a folder of this test's own, to watch it.
  spoolParent = mkdtempSync(join(tmpdir(), 'pw-import-spool-'))
  const auth = {
    apiKeys: [
      { id: 'alice', keyHash: sha(keys.alice), role: 'engineer', enterprise: 'acme' },
      { id: 'bob', keyHash: sha(keys.bob), role: 'engineer', enterprise: 'acme' },
    ],
  }
  server = await startScript('api-process.ts', {
    PW_API: JSON.stringify({ dbPath: join(dir, 'pw.db'), plant: PLANT, config: { rollupRefreshS: 0, auth, rateLimit: { max: 0 } } }),
    TMPDIR: spoolParent,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_CAP_MIB}`.trim(),
  })
  api = { url: server.ready.url as string }
})

afterAll(async () => {
  await server?.kill()
  rmSync(dir, { recursive: true, force: true })
  rmSync(spoolParent, { recursive: true, force: true })
})

describe('POST /api/v1/import under load (real HTTP)', () => {
  it('a 50 MB import: /health p99 < 200 ms meanwhile, the counts are right, memory stays bounded', async () => {
    const minutes = 152_000
    const sent = { bytes: 0 }
    // Warm-up (JIT, the store's statements, the spool path) with a small file, then the baseline.
    const warm = await postCsv(api, keys.alice, Readable.from(longRows(100)), '?dryRun=true')
    expect(warm.body).toMatchObject({ total: 500, imported: 300, rejected: 200 })
    const baseRss = rssOf(server.pid)
    let peakRss = baseRss
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(server.pid))), 20)

    const started = performance.now()
    let done = false
    const importing = postCsv(api, keys.alice, Readable.from(counted(longRows(minutes), sent))).finally(() => (done = true))
    const latencies: number[] = []
    while (!done) {
      const t = performance.now()
      const res = await fetch(`${api.url}/api/v1/health`)
      await res.arrayBuffer()
      latencies.push(performance.now() - t)
      expect(res.status).toBe(200)
      await new Promise((r) => setTimeout(r, 20))
    }
    const answer = await importing
    const seconds = (performance.now() - started) / 1000
    clearInterval(sampler)

    const bytes = sent.bytes
    expect(bytes).toBeGreaterThan(50e6)
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({
      layout: 'long',
      dryRun: false,
      total: 5 * minutes,
      imported: 3 * minutes,
      rejected: 2 * minutes,
      // Three quantities of one meter at one instant are one point.
      points: minutes,
      devices: [METER],
      first: T0,
      last: T0 + (minutes - 1) * MIN,
      rowsTruncated: true,
    })
    // The refused rows are counted; only the first 10,000 are listed, beta's meter and the missing one alike.
    const rows = answer.body.rows as { line: number; code: string; message: string }[]
    expect(rows).toHaveLength(10_000)
    expect(rows.slice(0, 2)).toEqual([
      { line: 5, column: 'device', code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: 'device beta/plant/line/meter is not in the plant model of enterprise acme' },
      { line: 6, column: 'device', code: 'IMPORT_ERR_DEVICE_UNKNOWN', message: 'device acme/plant/line/ghost is not in the plant model of enterprise acme' },
    ])
    // What was written, read back: the newest minute's three values.
    const last = T0 + (minutes - 1) * MIN
    const store = createEmbeddedStore({ path: join(dir, 'pw.db') })
    const back = await store.raw({
      measurement: TELEMETRY_MEASUREMENT,
      fields: [...QUANTITIES],
      filter: { enterprise: 'acme', device: 'meter' },
      start: last,
      stop: last + MIN,
      limit: 10,
    })
    expect(back.map((r) => [r.field, r.value]).sort()).toEqual([
      ['active_power_kw', 100 + ((minutes - 1) % 50)],
      ['power_factor', 0.9],
      ['voltage_l1_v', 230 + ((minutes - 1) % 7)],
    ])
    await store.close()
    // The body's copy on disk is gone.
    expect(spools()).toEqual([])

    const sorted = [...latencies].sort((a, b) => a - b)
    const p99 = percentile(sorted, 99)
    const rssGrowthMiB = (peakRss - baseRss) / 2 ** 20
    console.info(
      `import-load: ${(bytes / 1e6).toFixed(1)} MB, ${5 * minutes} rows in ${seconds.toFixed(1)} s; /health n=${latencies.length} ` +
        `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms; ` +
        `server RSS ${(baseRss / 2 ** 20).toFixed(0)} → ${(peakRss / 2 ** 20).toFixed(0)} MiB (+${rssGrowthMiB.toFixed(0)}), old space capped at ${HEAP_CAP_MIB} MiB`,
    )
    expect(latencies.length).toBeGreaterThan(50)
    expect(p99).toBeLessThan(200)
    expect(rssGrowthMiB).toBeLessThan(100)
  }, 120_000)

  it('a second import by the same user while one runs is refused (429 IMPORT_ERR_BUSY, naming the limit); another user is not', async () => {
    const small = () => Readable.from(longRows(10))
    // Alice's first import: the body stays open, so the import runs until it ends.
    const open = new PassThrough()
    const first = postCsv(api, keys.alice, open, '?dryRun=true')
    for (const chunk of longRows(20)) open.write(chunk)
    // The import holds its slot once its copy of the body exists.
    while (spools().length === 0) await new Promise((r) => setTimeout(r, 10))

    const second = await postCsv(api, keys.alice, small(), '?dryRun=true')
    expect(second.status).toBe(429)
    expect(second.body).toEqual({
      error: {
        code: 'API_ERR_RATE_LIMITED',
        message: 'alice already runs 1 import(s): at most 1 at a time per user (api.importConcurrencyPerUser); retry when it is done',
        details: { code: 'IMPORT_ERR_BUSY', limit: 1, running: 1 },
      },
    })
    const bob = await postCsv(api, keys.bob, small(), '?dryRun=true')
    expect(bob.status).toBe(200)
    expect(bob.body).toMatchObject({ total: 50, imported: 30, rejected: 20 })

    open.end()
    expect(await first).toMatchObject({ status: 200, body: { total: 100, imported: 60, rejected: 40, points: 20 } })
    // The slot is free again.
    expect((await postCsv(api, keys.alice, small(), '?dryRun=true')).status).toBe(200)
    expect(spools()).toEqual([])
  })
})
