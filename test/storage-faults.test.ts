import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { build } from '../api/app.ts'
import { startBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { IngestConfigSchema, type IngestConfig } from '../ingest/config.ts'
import { startIngest, type RunningIngest } from '../ingest/ingest.ts'
import { waitFor } from '../ingest/test-helpers.ts'
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded/index.ts'

/**
 * Storage faults end to end: broker → ingest → embedded store on a real size-limited filesystem
 * (tmpfs mounted for the test; needs root or CAP_SYS_ADMIN and `mount` from util-linux).
 */
const logger = silentLogger()
const T0 = Date.UTC(2025, 0, 6)
const TOPIC = 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/data'
const SAMPLES_PER_MESSAGE = 20

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** A tmpfs of `size` mounted on a new temporary folder; fails naming what is missing. */
function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fault-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(
      `the storage fault tests mount a size-limited tmpfs: they need root (or CAP_SYS_ADMIN) and mount(8) from util-linux — ${(err as Error).message}`,
    )
  }
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

function message(seq: number): string {
  const samples = Array.from({ length: SAMPLES_PER_MESSAGE }, (_, k) => {
    const i = seq * SAMPLES_PER_MESSAGE + k
    return {
      ts: T0 + i * 1000,
      values: { active_power_kw: 400 + (i % 50), voltage_l1_v: 230 + (i % 7), current_l1_a: 500 + (i % 11), energy_import_kwh: 1e5 + i },
    }
  })
  return JSON.stringify({ seq, samples })
}

async function pipeline(
  store: EmbeddedStore,
): Promise<{ ingest: RunningIngest; pub: MqttClient; health(): Promise<{ code: number; body: Record<string, unknown> }> }> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, validatePayloads: true }, { logger })
  cleanups.push(() => broker.close())
  const config = validateConfig(IngestConfigSchema, { flushIntervalMs: 20, retry: { initialMs: 20, maxMs: 200 }, stateIntervalMs: 0 }) as IngestConfig
  const ingest = await startIngest({ config, mqtt: { url: broker.url, clientId: 'ingest-fault', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
  cleanups.push(() => ingest.close())
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'pub-fault', reconnectPeriod: 0 })
  cleanups.push(() => pub.endAsync(true))
  const api = await build({ store, status: () => ({ ingest: ingest.stats() }) })
  cleanups.push(() => api.close())
  return {
    ingest,
    pub,
    async health() {
      const res = await api.inject('/api/v1/health')
      return { code: res.statusCode, body: res.json() as Record<string, unknown> }
    },
  }
}

async function stored(store: EmbeddedStore): Promise<number> {
  const rows = await store.aggregate({ measurement: 'telemetry', fields: ['active_power_kw'], start: T0, stop: T0 + 365 * 86_400_000, fn: 'count' })
  return rows[0]?.value ?? 0
}

describe('storage faults: ingest stops acknowledging, /health says why, nothing is lost', () => {
  it('disk full (a 256 KiB tmpfs): STORAGE_ERR_FULL, broker and ingest hold the data, all of it stored once space returns', async () => {
    const dir = mountTmpfs('256k')
    const store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
    cleanups.push(() => store.close())
    const { ingest, pub, health } = await pipeline(store)
    expect((await health()).code).toBe(200)

    let published = 0
    while (!ingest.stats().storeError && published < 2000) {
      for (let k = 0; k < 10; k++) await pub.publishAsync(TOPIC, message(published++), { qos: 1 })
      await new Promise((r) => setTimeout(r, 30))
    }
    const full = await waitFor('a failing write', () => ingest.stats().storeError)
    expect(full.code).toBe('STORAGE_ERR_FULL')
    expect(store.fault()?.code).toBe('STORAGE_ERR_FULL')
    // More arrives while the disk is full: held unacknowledged, by ingest (in flight) and the broker.
    for (let k = 0; k < 20; k++) await pub.publishAsync(TOPIC, message(published++), { qos: 1 })
    const stats = ingest.stats()
    expect(stats.inFlight).toBeGreaterThan(0)
    expect(stats.writtenMessages).toBeLessThan(published)
    const red = await health()
    expect(red.code).toBe(503)
    expect(red.body.problems).toEqual([expect.objectContaining({ component: 'ingest', code: 'STORAGE_ERR_FULL' })])
    expect(red.body.store).toEqual(expect.objectContaining({ ok: false, error: expect.stringContaining('STORAGE_ERR_FULL') }))

    execFileSync('mount', ['-o', 'remount,size=64m', dir])
    await waitFor('everything written', () => (ingest.stats().writtenMessages === published && ingest.stats().inFlight === 0 ? true : undefined), 30_000)
    expect(ingest.stats().storeError).toBeUndefined()
    expect(await stored(store)).toBe(published * SAMPLES_PER_MESSAGE)
    const sum = await store.aggregate({ measurement: 'telemetry', fields: ['energy_import_kwh'], start: T0, stop: T0 + 365 * 86_400_000, fn: 'sum' })
    const n = published * SAMPLES_PER_MESSAGE
    expect(sum[0]?.value).toBe(1e5 * n + (n * (n - 1)) / 2)
    expect((await health()).code).toBe(200)
  }, 60_000)
})
