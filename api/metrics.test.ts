import { describe, expect, it } from 'vitest'
import { StatusMetrics, statusSamples } from './metrics.ts'

const status = {
  broker: {
    clients: 3,
    queueDropped: 70,
    divertedByReason: { CORE_ERR_PAYLOAD_JSON: 2 },
    sessions: [{ clientId: 'svc-away', identity: 'user:svc', role: 'service', connected: false, queued: 50, dropped: 70 }],
  },
  ingest: {
    connected: true,
    disconnects: 1,
    deadLettered: { INGEST_ERR_SAMPLE_CONFLICT: 4 },
    lastConnectionError: { code: 'INGEST_ERR_DISCONNECTED', message: 'x', at: 5 },
  },
  'edge/acme': {
    connected: false,
    disconnects: 2,
    devices: [{ key: 'acme/wuhan/l1/m1', address: { enterprise: 'acme' }, driver: 'modbus-tcp', reads: 10, readErrors: 3, connected: true }],
  },
}

describe('status as Prometheus metrics', () => {
  it('flattens numbers, booleans, records and session rows into samples', () => {
    const samples = statusSamples(status)
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value
    expect(find('plantwatt_broker_queue_dropped')).toBe(70)
    expect(find('plantwatt_broker_diverted_by_reason', { key: 'CORE_ERR_PAYLOAD_JSON' })).toBe(2)
    expect(find('plantwatt_broker_sessions_dropped', { client_id: 'svc-away' })).toBe(70)
    expect(find('plantwatt_broker_sessions_connected', { client_id: 'svc-away' })).toBe(0)
    expect(find('plantwatt_ingest_connected')).toBe(1)
    expect(find('plantwatt_ingest_dead_lettered', { key: 'INGEST_ERR_SAMPLE_CONFLICT' })).toBe(4)
    expect(find('plantwatt_ingest_last_connection_error_at')).toBe(5)
    expect(find('plantwatt_edge_disconnects', { connection: 'acme' })).toBe(2)
    // an edge device row is labelled with its address; its read errors are a metric of their own
    expect(find('plantwatt_edge_devices_read_errors', { connection: 'acme', device: 'acme/wuhan/l1/m1' })).toBe(3)
    expect(find('plantwatt_edge_devices_connected', { connection: 'acme', device: 'acme/wuhan/l1/m1' })).toBe(1)
  })

  it('answers the Prometheus text format, and follows the status from scrape to scrape', async () => {
    let dropped = 70
    const m = new StatusMetrics(() => ({ broker: { ...status.broker, sessions: [{ clientId: 'svc-away', dropped }] } }))
    expect(await m.scrape()).toMatch(/^plantwatt_broker_sessions_dropped\{client_id="svc-away"\} 70$/m)
    dropped = 71
    const text = await m.scrape()
    expect(text).toMatch(/^plantwatt_broker_sessions_dropped\{client_id="svc-away"\} 71$/m)
    expect(text).toMatch(/^# TYPE plantwatt_broker_queue_dropped gauge$/m)
  })
})

describe('GET /api/v1/metrics', () => {
  it("serves the process's component status to admins in the Prometheus format, and refuses others", async () => {
    const { build } = await import('./app.ts')
    const { createEmbeddedStore } = await import('../storage/embedded/index.ts')
    const { createHash } = await import('node:crypto')
    const store = createEmbeddedStore({ path: ':memory:' })
    const key = 'metrics-test-key-0123456789'
    const app = await build({
      store,
      status: () => status,
      config: { auth: { apiKeys: [{ id: 'scraper', keyHash: `sha256$${createHash('sha256').update(key).digest('hex')}`, role: 'admin' }] } },
    })
    try {
      const ok = await app.inject({ url: '/api/v1/metrics', headers: { 'x-api-key': key } })
      expect(ok.statusCode).toBe(200)
      expect(ok.headers['content-type']).toMatch(/^text\/plain/)
      expect(ok.body).toMatch(/^plantwatt_broker_sessions_dropped\{client_id="svc-away"\} 70$/m)
      expect((await app.inject({ url: '/api/v1/metrics' })).statusCode).toBe(401)
    } finally {
      await app.close()
      await store.close()
    }
  })
})
