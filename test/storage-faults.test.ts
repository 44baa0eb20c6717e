import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
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
import { backupEmbedded, restoreEmbedded } from '../storage/embedded/backup.ts'
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

/** A loop-mounted ext4 image of `size` on a new temporary folder (for chattr); fails naming what is missing. */
function mountExt4(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fault-ext4-'))
  const image = `${dir}.img`
  try {
    execFileSync('truncate', ['-s', size, image], { stdio: 'pipe' })
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' })
    execFileSync('mount', ['-o', 'loop', image, dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    rmSync(image, { force: true })
    throw new Error(
      `the read-only fault test loop-mounts an ext4 image: it needs root, a loop device, mkfs.ext4 (e2fsprogs) and mount(8) (util-linux) — ${(err as Error).message}`,
    )
  }
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
    rmSync(image, { force: true })
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

interface Pipeline {
  ingest: RunningIngest
  pub: MqttClient
  brokerUrl: string
  health(): Promise<{ code: number; body: Record<string, unknown> }>
}

async function startIngestOn(url: string, store: EmbeddedStore): Promise<RunningIngest> {
  const config = validateConfig(IngestConfigSchema, { flushIntervalMs: 20, retry: { initialMs: 20, maxMs: 200 }, stateIntervalMs: 0 }) as IngestConfig
  const ingest = await startIngest({ config, mqtt: { url, clientId: 'ingest-fault', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
  cleanups.push(() => ingest.close())
  return ingest
}

async function pipeline(store: EmbeddedStore): Promise<Pipeline> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, validatePayloads: true }, { logger })
  cleanups.push(() => broker.close())
  const ingest = await startIngestOn(broker.url, store)
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'pub-fault', reconnectPeriod: 0 })
  cleanups.push(() => pub.endAsync(true))
  const api = await build({ store, status: () => ({ ingest: ingest.stats() }) })
  cleanups.push(() => api.close())
  return {
    ingest,
    pub,
    brokerUrl: broker.url,
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

  it('database file made read-only (chattr +i on an ext4 loop mount): STORAGE_ERR_IO, held, written once writable again', async () => {
    const dir = mountExt4('16M')
    const path = join(dir, 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    cleanups.push(() => store.close())
    const { ingest, pub, health } = await pipeline(store)
    for (let seq = 0; seq < 5; seq++) await pub.publishAsync(TOPIC, message(seq), { qos: 1 })
    await waitFor('five written', () => (ingest.stats().writtenMessages === 5 ? true : undefined))

    // Root ignores permission bits; the immutable attribute stops even root's writes to open files.
    // (Not on -shm: SQLite maps it into memory, where a refused write is a SIGBUS, not an error.)
    execFileSync('chattr', ['+i', path, `${path}-wal`])
    cleanups.push(() => void execFileSync('chattr', ['-i', path, `${path}-wal`]))
    for (let seq = 5; seq < 15; seq++) await pub.publishAsync(TOPIC, message(seq), { qos: 1 })
    const err = await waitFor('a failing write', () => ingest.stats().storeError)
    expect(err.code).toBe('STORAGE_ERR_IO')
    expect(err.message).toContain('SQLITE_IOERR')
    expect(ingest.stats().writtenMessages).toBe(5)
    const red = await health()
    expect(red.code).toBe(503)
    expect(red.body.problems).toEqual([expect.objectContaining({ component: 'ingest', code: 'STORAGE_ERR_IO' })])

    execFileSync('chattr', ['-i', path, `${path}-wal`])
    await waitFor('everything written', () => (ingest.stats().writtenMessages === 15 && ingest.stats().inFlight === 0 ? true : undefined), 30_000)
    expect(await stored(store)).toBe(15 * SAMPLES_PER_MESSAGE)
    expect((await health()).code).toBe(200)
  }, 60_000)

  it('corrupted WAL copied into the file at stop: the store refuses it at start (STORAGE_ERR_CORRUPT), the broker holds the data, all stored after a restore from backup', async () => {
    const dir = mountTmpfs('32m')
    const path = join(dir, 'live', 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    const { ingest, pub, brokerUrl } = await pipeline(store)
    for (let seq = 0; seq < 20; seq++) await pub.publishAsync(TOPIC, message(seq), { qos: 1 })
    await waitFor('twenty written', () => (ingest.stats().writtenMessages === 20 ? true : undefined))
    const backup = await backupEmbedded(path, join(dir, 'backup', 'pw.backup'))

    // Garbage over the WAL's frames (its 32-byte header kept) while the store runs; stopping copies
    // them into the database (the checkpoint at close), as a crash and a damaged disk would leave it.
    const wal = openSync(`${path}-wal`, 'r+')
    const size = statSync(`${path}-wal`).size
    writeSync(wal, Buffer.alloc(size - 32, 0xa5), 0, size - 32, 32)
    closeSync(wal)
    await ingest.close()
    await store.close()
    // Meanwhile the plant goes on: the broker keeps these for ingest's persistent session.
    for (let seq = 20; seq < 30; seq++) await pub.publishAsync(TOPIC, message(seq), { qos: 1 })

    // At the restart the store refuses the damaged file, naming it: ingest does not start, acknowledges nothing.
    expect(() => createEmbeddedStore({ path })).toThrow(expect.objectContaining({ code: 'STORAGE_ERR_CORRUPT', message: expect.stringContaining(path) }))

    // The operator restores the backup into a new folder and starts ingest on it:
    // the broker held the ten unacknowledged messages in ingest's session and delivers them now.
    const restored = restoreEmbedded(backup.file, join(dir, 'restored'))
    const fresh = createEmbeddedStore({ path: restored.store })
    cleanups.push(() => fresh.close())
    const again = await startIngestOn(brokerUrl, fresh)
    await waitFor('the held messages written', () => (again.stats().writtenMessages === 10 ? true : undefined), 30_000)
    expect(await stored(fresh)).toBe(30 * SAMPLES_PER_MESSAGE)
  }, 60_000)
})
