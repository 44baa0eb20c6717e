import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { hashPassword } from '../broker/password.ts'
import { validateConfig } from '../core/config.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { TELEMETRY_MEASUREMENT, type LatestQuery, type TelemetryStore } from '../storage/store.ts'
import { build } from './app.ts'
import type { ApiConfig } from './config.ts'
import { StreamHub, inScope } from './hub.ts'

const PLANT: PlantModel = validateConfig(PlantModelSchema, {
  timezone: 'Asia/Shanghai',
  enterprises: [
    {
      id: 'acme',
      sites: [
        {
          id: 'wuhan',
          lines: [
            { id: 'l1', devices: [{ id: 'meter', name: '进线 L1', kind: 'meter' }] },
            { id: 'l2', devices: [{ id: 'meter', kind: 'meter' }] },
          ],
        },
      ],
    },
    { id: 'bolt', sites: [{ id: 'xiangyang', lines: [{ id: 'l1', devices: [{ id: 'meter', kind: 'meter' }] }] }] },
  ],
})

const L1 = { enterprise: 'acme', site: 'wuhan', line: 'l1' }
const L2 = { enterprise: 'acme', site: 'wuhan', line: 'l2' }
const B1 = { enterprise: 'bolt', site: 'xiangyang', line: 'l1' }

interface SseEvent {
  event: string
  data: unknown
}

/** A streaming HTTP client: reads the response body as it comes and parses Server-Sent Events. */
class SseClient {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  readonly done: Promise<void>
  private readonly abort = new AbortController()

  private constructor(readonly res: Response) {
    this.done = this.read()
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const ctl = new AbortController()
    const res = await fetch(url, { headers, signal: ctl.signal })
    const client = new SseClient(res)
    client.abort.signal.addEventListener('abort', () => ctl.abort())
    return client
  }

  private async read(): Promise<void> {
    if (!this.res.body) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of this.res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim())
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) })
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err
    }
  }

  async waitFor<T>(what: string, pick: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = pick()
      if (v !== undefined) return v
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events so far: ${JSON.stringify(this.events)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /** Events of `type` in arrival order. */
  of<T>(type: string): T[] {
    return this.events.filter((e) => e.event === type).map((e) => e.data as T)
  }

  close(): void {
    this.abort.abort()
  }
}

interface ValuesEvent {
  ts: number
  devices: {
    enterprise: string
    site: string
    line: string
    device: string
    name: string
    ts: number
    seq?: number
    values: Record<string, number>
    quality: Record<string, string>
  }[]
}

let dir: string
let store: TelemetryStore
/** Every store.latest the API made, by its filter. */
const latestCalls: string[] = []
let counted: TelemetryStore

async function write(where: typeof L1, power: number, seq: number, ts = Date.now()): Promise<void> {
  await store.write([{ measurement: TELEMETRY_MEASUREMENT, tags: { ...where, device: 'meter' }, ts, fields: { active_power_kw: power, seq } }])
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-stream-'))
  store = await createEmbeddedStore({ path: join(dir, 'telemetry.db') })
  // The real store, with latest() counted: a fault-free wrapper, not a mock.
  counted = new Proxy(store, {
    get(target, key) {
      if (key === 'latest') {
        return (q: LatestQuery) => {
          latestCalls.push(JSON.stringify(q.filter ?? {}))
          return target.latest(q)
        }
      }
      const v = Reflect.get(target, key) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
})

afterAll(async () => {
  await store?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function listen(config: Partial<ApiConfig>, hub = new StreamHub()): Promise<{ app: FastifyInstance; url: string; hub: StreamHub }> {
  const app = await build({ store: counted, plant: PLANT, config: { stream: { pollMs: 100, heartbeatMs: 300, maxClients: 10 }, ...config }, hub })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { app, url: `http://127.0.0.1:${port}/api/v1/stream`, hub }
}

describe('hub scope', () => {
  it('delivers an event to the streams of its line, its site, its enterprise and of everything', () => {
    const alert = { enterprise: 'acme', site: 'wuhan', line: 'l1' }
    expect(inScope(alert, L1)).toBe(true)
    expect(inScope(alert, { enterprise: 'acme', site: 'wuhan' })).toBe(true)
    expect(inScope(alert, { enterprise: 'acme' })).toBe(true)
    expect(inScope(alert, {})).toBe(true)
    expect(inScope(alert, L2)).toBe(false)
    expect(inScope(alert, B1)).toBe(false)
    // A site-wide event reaches the site's lines, not another site's.
    expect(inScope({ enterprise: 'acme', site: 'wuhan' }, L1)).toBe(true)
    expect(inScope({ enterprise: 'acme', site: 'other' }, L1)).toBe(false)
  })

  it('refuses events it could not route or frame, with a coded error', () => {
    const hub = new StreamHub()
    expect(() => hub.publish({ enterprise: '', type: 'alert', data: 1 })).toThrow(expect.objectContaining({ code: 'API_ERR_HUB_EVENT' }))
    expect(() => hub.publish({ enterprise: 'acme', type: 'alert\ndata: x', data: 1 })).toThrow(expect.objectContaining({ code: 'API_ERR_HUB_EVENT' }))
    expect(() => hub.publish({ enterprise: 'acme', type: 'values', data: 1 })).toThrow(expect.objectContaining({ code: 'API_ERR_HUB_EVENT' }))
    expect(() => hub.publish({ enterprise: 'acme', line: 'l1', type: 'alert', data: 1 })).toThrow(/must name its site/)
    expect(hub.publish({ enterprise: 'acme', type: 'alert', data: 1 })).toBe(0)
  })
})

describe('GET /api/v1/stream (Server-Sent Events over a real socket)', () => {
  it('sends the line’s values at once, then only what changed, plus heartbeats and alerts in scope', async () => {
    await write(L1, 100, 1)
    await write(L2, 200, 1)
    const { app, url, hub } = await listen({})
    const client = await SseClient.open(`${url}?enterprise=acme&site=wuhan&line=l1`)
    try {
      expect(client.res.status).toBe(200)
      expect(client.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      const first = await client.waitFor('first values', () => client.of<ValuesEvent>('values')[0])
      // Only l1's meter, not l2's: the subscription is one line.
      expect(first.devices).toEqual([
        { ...L1, device: 'meter', name: '进线 L1', ts: expect.any(Number), seq: 1, values: { active_power_kw: 100 }, quality: {} },
      ])

      await write(L2, 222, 2) // another line: never sent here
      await write(L1, 137.5, 2)
      const second = await client.waitFor('changed values', () => client.of<ValuesEvent>('values')[1])
      expect(second.devices.map((d) => [d.line, d.seq, d.values.active_power_kw])).toEqual([['l1', 2, 137.5]])

      // Alerts: another line's is not delivered, this line's is, with its data.
      expect(hub.publish({ enterprise: 'acme', site: 'wuhan', line: 'l2', type: 'alert', data: { id: 'a-l2' } })).toBe(0)
      expect(hub.publish({ enterprise: 'bolt', type: 'alert', data: { id: 'a-bolt' } })).toBe(0)
      expect(hub.publish({ enterprise: 'acme', site: 'wuhan', line: 'l1', type: 'alert', data: { id: 'a-l1', severity: 'major', kw: 137.5 } })).toBe(1)
      expect(hub.publish({ enterprise: 'acme', type: 'alert', data: { id: 'a-acme' } })).toBe(1)
      const alerts = await client.waitFor('two alerts', () => (client.of('alert').length >= 2 ? client.of('alert') : undefined))
      expect(alerts).toEqual([
        { enterprise: 'acme', site: 'wuhan', line: 'l1', data: { id: 'a-l1', severity: 'major', kw: 137.5 } },
        { enterprise: 'acme', site: null, line: null, data: { id: 'a-acme' } },
      ])
      await client.waitFor('a heartbeat', () => client.comments.find((c) => c.startsWith('heartbeat')))
      // Nothing changed since: still exactly two values events, all of them l1's.
      expect(client.of<ValuesEvent>('values').flatMap((e) => e.devices.map((d) => d.values.active_power_kw))).toEqual([100, 137.5])
    } finally {
      client.close()
      await app.close()
    }
  })

  it('polls once per distinct subscription, however many clients share it', async () => {
    await write(L1, 300, 3)
    await write(L2, 400, 3)
    const { app, url } = await listen({})
    latestCalls.length = 0
    const onL1 = await Promise.all([1, 2, 3].map(() => SseClient.open(`${url}?enterprise=acme&site=wuhan&line=l1`)))
    const onL2 = await SseClient.open(`${url}?enterprise=acme&site=wuhan&line=l2`)
    try {
      for (const c of [...onL1, onL2]) await c.waitFor('first values', () => c.of<ValuesEvent>('values')[0])
      // Every l1 client got the same values from the one shared poll.
      expect(onL1.map((c) => c.of<ValuesEvent>('values')[0]?.devices[0]?.values.active_power_kw)).toEqual([300, 300, 300])
      await write(L1, 301, 4)
      for (const c of onL1) await c.waitFor('update', () => c.of<ValuesEvent>('values').find((e) => e.devices[0]?.seq === 4))
      const l1 = latestCalls.filter((f) => f.includes('"l1"')).length
      const l2 = latestCalls.filter((f) => f.includes('"l2"')).length
      expect(new Set(latestCalls)).toEqual(new Set([JSON.stringify(L1), JSON.stringify(L2)]))
      // One poller per line ticking at the same rate: three clients on l1 do not triple its queries.
      expect(l1).toBeGreaterThan(0)
      expect(l1).toBeLessThanOrEqual(l2 + 2)
    } finally {
      for (const c of [...onL1, onL2]) c.close()
      await app.close()
    }
  })

  it('reads once for a burst of stored notices in scope, not at all for notices out of scope (poll timer at 60 s)', async () => {
    await write(L1, 600, 6)
    const hub = new StreamHub()
    const { app, url } = await listen({ stream: { pollMs: 60_000, heartbeatMs: 60_000, maxClients: 10 } }, hub)
    const client = await SseClient.open(`${url}?enterprise=acme&site=wuhan&line=l1`)
    try {
      await client.waitFor('first values', () => client.of<ValuesEvent>('values')[0])
      latestCalls.length = 0
      // Another line, another enterprise: no read.
      expect(
        hub.stored([
          { ...L2, device: 'meter' },
          { ...B1, device: 'meter' },
        ]),
      ).toBe(0)
      await write(L1, 601, 7)
      // 50 notices in one burst (50 batches written back to back): one read, and it sends the new value.
      for (let i = 0; i < 50; i++) expect(hub.stored([{ ...L1, device: 'meter' }])).toBe(1)
      const update = await client.waitFor('pushed update', () => client.of<ValuesEvent>('values').find((e) => e.devices[0]?.seq === 7))
      expect(update.devices.map((d) => d.values.active_power_kw)).toEqual([601])
      expect(latestCalls).toEqual([JSON.stringify(L1)])
    } finally {
      client.close()
      await app.close()
    }
  })

  it('lets go of a client that disconnects, and ends open streams on app.close()', async () => {
    await write(L1, 500, 5)
    const hub = new StreamHub()
    const { app, url } = await listen({}, hub)
    const a = await SseClient.open(`${url}?enterprise=acme`)
    const b = await SseClient.open(`${url}?enterprise=acme&site=wuhan`)
    await a.waitFor('values', () => a.of('values')[0])
    await b.waitFor('values', () => b.of('values')[0])
    expect(hub.size).toBe(2)
    a.close()
    await b.waitFor('server noticing the disconnect', () => (hub.size === 1 ? true : undefined))
    // close() resolves although b is still connected, and b sees its stream end.
    await app.close()
    await b.done
    expect(hub.size).toBe(0)
  })

  it('with auth on: needs credentials (a token in the query for EventSource), and keeps to the enterprise', async () => {
    const key = 'pwk_stream_operator_a_0123'
    const auth = {
      apiKeys: [{ id: 'op-a', keyHash: `sha256$${createHash('sha256').update(key).digest('hex')}`, role: 'operator' as const, enterprise: 'acme' }],
      users: [{ username: 'eng-a', passwordHash: await hashPassword('stream-pass', { N: 1024, r: 8, p: 1 }), role: 'engineer' as const, enterprise: 'acme' }],
      tokenTtlS: 3600,
    }
    const { app, url } = await listen({ auth })
    try {
      const anonymous = await fetch(url)
      expect(anonymous.status).toBe(401)
      expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe('API_ERR_UNAUTHORIZED')
      const other = await fetch(`${url}?enterprise=bolt`, { headers: { 'x-api-key': key } })
      expect(other.status).toBe(404)
      await write(B1, 999, 9)
      await write(L1, 111, 11)
      // No enterprise given: the operator's own; bolt's 999 never comes.
      const mine = await SseClient.open(url, { 'x-api-key': key })
      try {
        const first = await mine.waitFor('values', () => mine.of<ValuesEvent>('values')[0])
        expect(new Set(first.devices.map((d) => d.enterprise))).toEqual(new Set(['acme']))
        expect(first.devices.find((d) => d.line === 'l1')?.values.active_power_kw).toBe(111)
      } finally {
        mine.close()
      }
      // EventSource cannot set headers: the login token goes in the query.
      const login = await fetch(url.replace('/stream', '/auth/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'eng-a', password: 'stream-pass' }),
      })
      const { token } = (await login.json()) as { token: string }
      const viaQuery = await SseClient.open(`${url}?enterprise=acme&site=wuhan&line=l1&access_token=${encodeURIComponent(token)}`)
      try {
        const first = await viaQuery.waitFor('values', () => viaQuery.of<ValuesEvent>('values')[0])
        expect(first.devices.map((d) => [d.enterprise, d.line, d.values.active_power_kw])).toEqual([['acme', 'l1', 111]])
      } finally {
        viaQuery.close()
      }
      const badToken = await fetch(`${url}?access_token=not.a.token`)
      expect(badToken.status).toBe(401)
      expect(((await badToken.json()) as { error: { message: string } }).error.message).toBe('bearer token is not valid')
    } finally {
      await app.close()
    }
  })

  it('refuses what it cannot serve with coded errors', async () => {
    const { app, url } = await listen({ stream: { pollMs: 100, heartbeatMs: 1000, maxClients: 1 } })
    const held = await SseClient.open(`${url}?enterprise=acme`)
    try {
      const full = await fetch(`${url}?enterprise=acme`)
      expect(full.status).toBe(503)
      expect(((await full.json()) as { error: { code: string } }).error.code).toBe('API_ERR_UNAVAILABLE')
      const lineOnly = await fetch(`${url}?enterprise=acme&line=l1`)
      expect(lineOnly.status).toBe(400)
      expect(((await lineOnly.json()) as { error: { message: string } }).error.message).toBe('query parameter "line" needs "site"')
    } finally {
      held.close()
      await app.close()
    }
  })
})
