/**
 * The live stream's push path, with real parts: PlantWatt's broker, ingest on the embedded store
 * telling a StreamHub what it stored (as `plantwatt up` wires them), the API on a socket and an SSE
 * client. The poll timer is set to 60 s, so a value that arrives within the test came by the push.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { startBroker, type RunningBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema, type PlantModel } from '../core/plant.ts'
import { IngestConfigSchema, type IngestConfig } from '../ingest/config.ts'
import { startIngest, type RunningIngest } from '../ingest/index.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { build } from './app.ts'
import { StreamHub } from './hub.ts'

const logger = silentLogger()

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
  ],
})

interface ValuesEvent {
  ts: number
  devices: { enterprise: string; site: string; line: string; device: string; name: string; ts: number; seq?: number; values: Record<string, number> }[]
}

/** Reads a text/event-stream response and keeps its `values` events. */
class ValuesClient {
  readonly values: ValuesEvent[] = []
  comments = 0
  private readonly ctl = new AbortController()
  private reading: Promise<void> = Promise.resolve()

  async open(url: string): Promise<void> {
    const res = await fetch(url, { signal: this.ctl.signal })
    expect(res.status).toBe(200)
    this.reading = this.read(res)
  }

  private async read(res: Response): Promise<void> {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (block.startsWith(':') || block.startsWith('retry:')) this.comments++
          const data = block.split('\n').find((l) => l.startsWith('data: '))
          if (block.startsWith('event: values\n') && data) this.values.push(JSON.parse(data.slice(6)) as ValuesEvent)
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err
    }
  }

  async close(): Promise<void> {
    this.ctl.abort()
    await this.reading
  }
}

async function until<T>(what: string, pick: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = pick()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('live stream push: ingest → hub → stream, with the poll timer at 60 s', () => {
  let dir: string
  let store: TelemetryStore
  let broker: RunningBroker
  let ingest: RunningIngest
  let app: FastifyInstance
  let url: string
  let publisher: MqttClient
  const hub = new StreamHub()
  /** What the hub was told, per call. */
  const notices: string[][] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-stream-push-'))
    store = createEmbeddedStore({ path: join(dir, 'telemetry.db') })
    broker = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 65_536, validatePayloads: true }, { logger })
    ingest = await startIngest({
      config: validateConfig(IngestConfigSchema, { flushIntervalMs: 20 }) as IngestConfig,
      mqtt: { url: broker.url, clientId: 'ingest-push-test', keepaliveS: 30, reconnectPeriodMs: 100 },
      store,
      plant: PLANT,
      logger,
      onStored: (devices) => {
        notices.push(devices.map((d) => `${d.enterprise}/${d.site}/${d.line}/${d.device}`))
        hub.stored(devices)
      },
    })
    app = await build({ store, plant: PLANT, config: { stream: { pollMs: 60_000, heartbeatMs: 60_000, maxClients: 10 } }, hub })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/api/v1/stream`
    publisher = await mqtt.connectAsync(broker.url, { clientId: 'push-test-publisher', reconnectPeriod: 0 })
  })

  afterAll(async () => {
    await publisher?.endAsync(true)
    await app?.close()
    await ingest?.close()
    await broker?.close()
    await store?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('sends a stored sample to the streams whose scope covers it, long before the poll timer', async () => {
    const l1 = new ValuesClient()
    const l2 = new ValuesClient()
    await l1.open(`${url}?enterprise=acme&site=wuhan&line=l1`)
    await l2.open(`${url}?enterprise=acme&site=wuhan&line=l2`)
    try {
      // Both streams are open (each poll's first read found nothing: no values event yet).
      await until('both streams connected', () => (l1.comments > 0 && l2.comments > 0 ? true : undefined))
      expect(l1.values).toEqual([])
      const ts = Date.now()
      await publisher.publishAsync('pw/v1/acme/wuhan/l1/meter/data', JSON.stringify({ seq: 7, samples: [{ ts, values: { active_power_kw: 123.5 } }] }), {
        qos: 1,
      })
      // Arrives although the next poll is 60 s away: only the push path can have sent it.
      const got = await until('the pushed value on l1', () => l1.values[0])
      expect(got.devices).toEqual([
        { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter', name: '进线 L1', ts, seq: 7, values: { active_power_kw: 123.5 }, quality: {} },
      ])
      expect(notices).toContainEqual(['acme/wuhan/l1/meter'])
      // The same scope check as the poll: line l2's stream gets nothing of line l1.
      await publisher.publishAsync('pw/v1/acme/wuhan/l2/meter/data', JSON.stringify({ seq: 1, samples: [{ ts, values: { active_power_kw: 9 } }] }), {
        qos: 1,
      })
      const other = await until('the pushed value on l2', () => l2.values[0])
      expect(other.devices.map((d) => [d.line, d.values.active_power_kw])).toEqual([['l2', 9]])
      expect(l1.values).toHaveLength(1)
      // Ingest's metrics count the two writes of one point each.
      const stats = ingest.stats()
      expect(stats.batchPointsSum).toBe(2)
      expect(stats.lastBatchPoints).toBe(1)
      expect(stats.writes).toBe(2)
      expect(stats.writeMsSum).toBeGreaterThanOrEqual(stats.writeMsMax)
    } finally {
      await l1.close()
      await l2.close()
    }
  })

  it('calls each stored-listener whose scope covers a stored device once, and no other', () => {
    const hub = new StreamHub()
    const heard: string[] = []
    const offLine = hub.onStored({ enterprise: 'acme', site: 'wuhan', line: 'l1' }, () => heard.push('l1'))
    const offSite = hub.onStored({ enterprise: 'acme', site: 'wuhan' }, () => heard.push('site'))
    const offOther = hub.onStored({ enterprise: 'bolt' }, () => heard.push('bolt'))
    const called = hub.stored([
      { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' },
      { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter-2' },
    ])
    offLine()
    offSite()
    offOther()
    // Two devices of l1: the line's and the site's listeners once each, bolt's not at all.
    expect(called).toBe(2)
    expect(heard).toEqual(['l1', 'site'])
    expect(hub.stored([{ enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter' }])).toBe(0)
  })
})
