import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { loadPlantWattConfig, type ResolvedConfig } from '../cli/config.ts'
import { closeAll, startAll, type UpResult } from '../cli/wiring.ts'
import { startInfluxd } from './influxd.ts'

interface LiveDevice {
  enterprise: string
  site: string
  line: string
  device: string
  ts: number
  seq?: number
  values: Record<string, number>
}

const DEMO = join(import.meta.dirname, '..', 'examples', 'demo.yaml')

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as T }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** float32 on the wire: values agree to about 7 significant digits. */
function closeTo(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-6, Math.abs(b) * 2e-7)
}

interface Backend {
  name: string
  storage(): Promise<{ storage: ResolvedConfig['storage']; cleanup(): Promise<void> }>
}

const backends: Backend[] = [
  {
    name: 'embedded',
    storage: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pw-e2e-'))
      return { storage: { backend: 'embedded', path: join(dir, 'plantwatt.db') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    name: 'influxdb',
    storage: async () => {
      const influx = await startInfluxd()
      return {
        storage: { backend: 'influxdb', url: influx.url, database: influx.database, createDatabase: true, timeoutMs: 10_000 },
        cleanup: () => influx.stop(),
      }
    },
  },
]

describe.each(backends)('end to end on the $name store: simulator → edge agent → broker → ingest → store → API', (backend) => {
  let up: UpResult
  let cleanup: () => Promise<void>
  const logger = silentLogger()

  beforeAll(async () => {
    const { storage, cleanup: c } = await backend.storage()
    cleanup = c
    const base = loadPlantWattConfig(DEMO)
    const bufferDir = mkdtempSync(join(tmpdir(), 'pw-e2e-buffer-'))
    const cfg: ResolvedConfig = { ...base, storage, broker: { ...base.broker, port: 0 }, api: { ...base.api, port: 0 }, edge: { ...base.edge, bufferDir } }
    up = await startAll(cfg, logger)
    const c0 = cleanup
    cleanup = async () => {
      await c0()
      rmSync(bufferDir, { recursive: true, force: true })
    }
  })

  afterAll(async () => {
    if (up) await closeAll(up.closables, logger)
    if (cleanup) await cleanup()
  })

  it('serves every device the simulators serve, with the values they served', async () => {
    const devices = await waitFor('both meters live with 3 messages each', async () => {
      const { body } = await getJson<{ devices: LiveDevice[] }>(`${up.apiUrl}/api/v1/live`)
      return body.devices.length === 2 && body.devices.every((d) => (d.seq ?? 0) >= 2 && d.values.active_power_kw !== undefined) ? body.devices : undefined
    })
    expect(devices.map((d) => d.device).sort()).toEqual(['main-meter', 'mill-drive'])
    for (const live of devices) {
      expect(live).toMatchObject({ enterprise: 'demo-steel', site: 'wuhan', line: 'rolling-1' })
      const meter = up.simulation!.meters.find((m) => m.id === live.device)
      expect(meter).toBeDefined()
      // The stored sample must equal, quantity by quantity, one snapshot the simulator served.
      const served = meter!.meter.history().find((s) => closeTo(live.values.active_power_kw as number, s.values.active_power_kw as number))
      expect(served, `no served snapshot has active_power_kw=${live.values.active_power_kw}`).toBeDefined()
      for (const q of ['active_power_kw', 'voltage_l1_v', 'current_l1_a', 'power_factor', 'frequency_hz', 'energy_import_kwh'] as const) {
        expect(live.values[q], q).toBeDefined()
        expect(closeTo(live.values[q] as number, served!.values[q] as number), `${q}: stored ${live.values[q]} vs served ${served!.values[q]}`).toBe(true)
      }
    }
  })

  it('answers series queries with the stored numbers', async () => {
    const stop = Date.now() + 1000
    const start = stop - 10 * 60_000
    const q = (fn: string) =>
      getJson<{ points: { ts: number; value: number }[] }>(
        `${up.apiUrl}/api/v1/series?device=main-meter&quantity=energy_import_kwh&start=${start}&stop=${stop}&fn=${fn}`,
      )
    const [count, min, max, last] = await Promise.all([q('count'), q('min'), q('max'), q('last')])
    expect(count.status).toBe(200)
    const n = count.body.points[0]?.value ?? 0
    expect(n).toBeGreaterThanOrEqual(3)
    // The energy counter never decreases: its last value is its maximum.
    expect(last.body.points[0]?.value).toBe(max.body.points[0]?.value)
    expect(min.body.points[0]!.value).toBeLessThanOrEqual(max.body.points[0]!.value)
    const served = up.simulation!.meters.find((m) => m.id === 'main-meter')!.meter.history()
    expect(served.some((s) => closeTo(max.body.points[0]!.value, s.values.energy_import_kwh as number))).toBe(true)
  })

  it('dead-letters bad messages with a coded reason and keeps running', async () => {
    const client = await mqtt.connectAsync(up.brokerUrl, { clientId: `e2e-bad-${backend.name}` })
    try {
      const topic = 'pw/v1/demo-steel/wuhan/rolling-1/main-meter/data'
      await client.publishAsync(topic, 'this is not json', { qos: 1 })
      await client.publishAsync(topic, JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { active_power_kw: 'high' } }] }), { qos: 1 })
      await client.publishAsync(topic, JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { watts: 5 } }] }), { qos: 1 })
      await client.publishAsync('pw/v1/demo-steel/wuhan//main-meter/data', JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: {} }] }), { qos: 1 })
    } finally {
      await client.endAsync()
    }
    const reasons = await waitFor('four dead letters', async () => {
      const { body } = await getJson<{ counts: Record<string, number> }>(`${up.apiUrl}/api/v1/dead-letters`)
      const total = Object.values(body.counts).reduce((a, b) => a + b, 0)
      return total >= 4 ? body.counts : undefined
    })
    expect(reasons).toMatchObject({ CORE_ERR_PAYLOAD_JSON: 1, CORE_ERR_PAYLOAD_SCHEMA: 1, CORE_ERR_QUANTITY_UNKNOWN: 1, CORE_ERR_TOPIC: 1 })
    // Valid telemetry keeps flowing after the bad messages.
    const before = (await getJson<{ devices: LiveDevice[] }>(`${up.apiUrl}/api/v1/live`)).body.devices.find((d) => d.device === 'main-meter')!
    await waitFor('a newer sample', async () => {
      const now = (await getJson<{ devices: LiveDevice[] }>(`${up.apiUrl}/api/v1/live`)).body.devices.find((d) => d.device === 'main-meter')
      return now && now.ts > before.ts ? now : undefined
    })
  })

  it('disconnects a client that publishes to a wildcard topic [MQTT-3.3.2-2] and keeps serving the others', async () => {
    for (const topic of ['pw/v1/+/wuhan/rolling-1/main-meter/data', 'pw/v1/demo-steel/#']) {
      const client = await mqtt.connectAsync(up.brokerUrl, { clientId: `e2e-wild-${backend.name}`, reconnectPeriod: 0 })
      const closed = new Promise<boolean>((resolve) => {
        client.once('close', () => resolve(true))
        setTimeout(() => resolve(false), 5000)
      })
      client.publish(topic, JSON.stringify({ seq: 1, samples: [{ ts: Date.now(), values: { active_power_kw: 1 } }] }), { qos: 1 })
      expect(await closed, topic).toBe(true)
      client.end(true)
    }
    const health = await getJson<{ status: string }>(`${up.apiUrl}/api/v1/health`)
    expect(health.body.status).toBe('ok')
    const before = (await getJson<{ devices: LiveDevice[] }>(`${up.apiUrl}/api/v1/live`)).body.devices.find((d) => d.device === 'mill-drive')!
    await waitFor('telemetry still flowing', async () => {
      const now = (await getJson<{ devices: LiveDevice[] }>(`${up.apiUrl}/api/v1/live`)).body.devices.find((d) => d.device === 'mill-drive')
      return now && now.ts > before.ts ? now : undefined
    })
  })

  it('rejects a range whose start is after its stop with a coded 400', async () => {
    const res = await getJson<{ error: { code: string; message: string } }>(
      `${up.apiUrl}/api/v1/series?device=main-meter&quantity=active_power_kw&start=2025-01-02T00:00:00Z&stop=2025-01-01T00:00:00Z`,
    )
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('API_ERR_RANGE')
    expect(res.body.error.message).toMatch(/start/)
  })
})
