import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { loadAlerts, type AlertNotification } from '../alerts/events.ts'
import { startAlertService } from '../alerts/service.ts'
import { build } from '../api/app.ts'
import { startBroker } from '../broker/index.ts'
import { hashPassword } from '../broker/password.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { PlantModelSchema } from '../core/plant.ts'
import { IngestConfigSchema, type IngestConfig } from '../ingest/config.ts'
import { startIngest, type RunningIngest } from '../ingest/ingest.ts'
import { waitFor } from '../ingest/test-helpers.ts'
import { backupEmbedded, restoreEmbedded } from '../storage/embedded/backup.ts'
import { createEmbeddedStore, type EmbeddedStore } from '../storage/embedded/index.ts'
import { openEventLog } from '../storage/events.ts'

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

async function startIngestOn(url: string, store: EmbeddedStore, stateIntervalMs = 0): Promise<RunningIngest> {
  const config = validateConfig(IngestConfigSchema, { flushIntervalMs: 20, retry: { initialMs: 20, maxMs: 200 }, stateIntervalMs }) as IngestConfig
  const ingest = await startIngest({ config, mqtt: { url, clientId: 'ingest-fault', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
  cleanups.push(() => ingest.close())
  return ingest
}

async function pipeline(store: EmbeddedStore, stateIntervalMs = 0): Promise<Pipeline> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, validatePayloads: true }, { logger })
  cleanups.push(() => broker.close())
  const ingest = await startIngestOn(broker.url, store, stateIntervalMs)
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

  it('database file made read-only (chattr +i on an ext4 loop mount): STORAGE_ERR_IO, held, written once writable again; the storage-fault alert is sent while its own event waits, then logged', async () => {
    const dir = mountExt4('16M')
    const path = join(dir, 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    cleanups.push(() => store.close())
    const { ingest, pub, health, brokerUrl } = await pipeline(store, 5000)
    const { svc, hook, events } = await alertServiceOn(brokerUrl, store, path)
    // A second service, stopped during the fault: the failing log must not hold its stop.
    const second = await alertServiceOn(brokerUrl, store, path, {}, { closeTimeoutMs: 300 })
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
    // The alert fires and is sent although its own event cannot be written: kept and retried.
    const opened = await waitFor('the storage-fault alert at the webhook', () => hook.received.find((n) => n.rule === 'storage-fault' && n.event === 'opened'))
    expect(opened).toMatchObject({ enterprise: 'system', device: 'ingest-fault', quantity: 'STORAGE_ERR_IO', severity: 'critical' })
    expect(opened.text.en).toContain('storage fault STORAGE_ERR_IO (storage I/O error): ingest ingest-fault stopped acknowledging')
    expect(opened.text.zh).toContain('存储故障 STORAGE_ERR_IO（存储读写错误）')
    await waitFor('a failed event-log append', () => (svc.stats().eventLogFailures > 0 ? true : undefined))
    await waitFor('the second service failing too', () => (second.svc.stats().eventLogFailures > 0 ? true : undefined))
    const stopping = Date.now()
    await second.svc.close()
    expect(Date.now() - stopping).toBeLessThan(2000)
    expect(second.hook.received.map((n) => [n.rule, n.event])).toEqual([['storage-fault', 'opened']])

    execFileSync('chattr', ['-i', path, `${path}-wal`])
    await waitFor('everything written', () => (ingest.stats().writtenMessages === 15 && ingest.stats().inFlight === 0 ? true : undefined), 30_000)
    expect(await stored(store)).toBe(15 * SAMPLES_PER_MESSAGE)
    expect((await health()).code).toBe(200)
    await waitFor('the alert cleared', () => hook.received.find((n) => n.alertId === opened.alertId && n.event === 'cleared'), 30_000)
    await svc.flush()
    const logged = await loadAlerts(events, { start: opened.openedAt - 1, stop: Date.now() + 1, filter: { rule: 'storage-fault' } })
    expect(logged.map((a) => [a.id, a.state, a.quantity, a.history.map((h) => h.event).join()])).toEqual([
      [opened.alertId, 'resolved', 'STORAGE_ERR_IO', 'opened,cleared'],
    ])
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

/** Writes zeros to `file` until the filesystem has no byte left. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(4096)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
}

/** The alert service on the store's event log, sending to a local webhook. */
async function alertServiceOn(
  url: string,
  store: EmbeddedStore,
  path: string,
  creds: { username?: string; password?: string } = {},
  extra: { closeTimeoutMs?: number; channels?: unknown[]; escalation?: unknown[] } = {},
) {
  const events = await openEventLog({ backend: 'embedded', path })
  cleanups.push(() => events.close())
  const hook = await webhook()
  const plant = validateConfig(PlantModelSchema, {
    enterprises: [{ id: 'hb-steel', sites: [{ id: 'wuhan', lines: [{ id: 'rolling-1', mainMeter: 'main-meter', devices: [{ id: 'main-meter' }] }] }] }],
  })
  const svc = await startAlertService({
    mqtt: { url, ...creds, reconnectPeriodMs: 100 },
    store,
    events,
    plant,
    rules: [],
    webhooks: [{ url: hook.url, initialBackoffMs: 20 }],
    settings: { tickMs: 100, pollEventsMs: 100 },
    ...extra,
    logger,
  })
  cleanups.push(() => svc.close())
  return { svc, hook, events }
}

/** A local HTTP webhook: every body it was sent (answers 200). */
async function webhook<T = AlertNotification>(): Promise<{ url: string; received: T[] }> {
  const received: T[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      received.push(JSON.parse(body) as T)
      // A robot channel (WeCom) reads the answer; a plain webhook ignores it.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const address = server.address()
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`, received }
}

describe('storage faults raise a system alert', () => {
  it('disk full: the alert service, over the broker with production roles, raises storage-fault (code, reason, subject), a webhook gets it, and it clears by itself when space returns — its events reach the log afterwards', async () => {
    const dir = mountTmpfs('256k')
    const path = join(dir, 'plantwatt.db')
    const store = createEmbeddedStore({ path })
    cleanups.push(() => store.close())
    const fast = { N: 1024, r: 8, p: 1 }
    const users = [
      { username: 'ingest', passwordHash: await hashPassword('ingest-pw', fast), role: 'ingest' as const },
      { username: 'alerts', passwordHash: await hashPassword('alerts-pw', fast), role: 'service' as const },
      { username: 'gw', passwordHash: await hashPassword('gw-pw', fast), role: 'gateway' as const, enterprise: 'hb-steel' },
    ]
    const broker = await startBroker({ host: '127.0.0.1', port: 0, users, anonymous: 'never', validatePayloads: true }, { logger })
    cleanups.push(() => broker.close())
    // State every 5 s: the fault must arrive sooner, published the moment it appears (state-publisher.ts).
    const config = validateConfig(IngestConfigSchema, { flushIntervalMs: 20, retry: { initialMs: 20, maxMs: 200 }, stateIntervalMs: 5000 }) as IngestConfig
    const ingest = await startIngest({
      config,
      mqtt: { url: broker.url, clientId: 'ingest-fault', username: 'ingest', password: 'ingest-pw', keepaliveS: 30, reconnectPeriodMs: 100 },
      store,
      logger,
    })
    cleanups.push(() => ingest.close())
    // A WeCom robot for escalations: a storage fault not acknowledged within a second goes there too.
    const robot = await webhook<{ msgtype: string; text?: { content: string } }>()
    const { svc, hook, events } = await alertServiceOn(
      broker.url,
      store,
      path,
      { username: 'alerts', password: 'alerts-pw' },
      {
        channels: [{ id: 'duty', kind: 'wecom', url: `${robot.url}?key=duty`, use: 'escalation', format: 'text', initialBackoffMs: 20 }],
        escalation: [{ id: 'storage-now', match: { rule: 'storage-fault' }, minSeverity: 'critical', after: '1s', channels: ['duty'] }],
      },
    )
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'pub-fault', username: 'gw', password: 'gw-pw', reconnectPeriod: 0 })
    cleanups.push(() => pub.endAsync(true))
    await waitFor('the first ingest state', () => (svc.stats().ingestStates > 0 ? true : undefined))
    expect(svc.openAlerts()).toEqual([])

    let published = 0
    while (!ingest.stats().storeError && published < 2000) {
      for (let k = 0; k < 10; k++) await pub.publishAsync(TOPIC, message(published++), { qos: 1 })
      await new Promise((r) => setTimeout(r, 30))
    }
    const fault = await waitFor('a failing write', () => ingest.stats().storeError)
    expect(fault.code).toBe('STORAGE_ERR_FULL')
    const faultAt = Date.now()
    // The last free bytes too (a small event may still fit in the WAL's pages; the read-only test
    // below is the one where the alert's own event cannot be written).
    fillUp(join(dir, 'filler'))
    const opened = await waitFor('the storage-fault alert at the webhook', () => hook.received.find((n) => n.rule === 'storage-fault' && n.event === 'opened'))
    // Within the fault check (1 s) and delivery, not the 5-second state period.
    expect(Date.now() - faultAt).toBeLessThan(4000)
    expect(opened).toMatchObject({
      type: 'alert',
      state: 'firing',
      enterprise: 'system',
      site: 'storage',
      line: 'ingest',
      device: 'ingest-fault',
      ruleKind: 'storage-fault',
      severity: 'critical',
      quantity: 'STORAGE_ERR_FULL',
    })
    expect(opened.text.en).toMatch(
      /^\[alert\] ingest-fault \(ingest\): storage fault STORAGE_ERR_FULL \(disk full\): ingest ingest-fault stopped acknowledging; the broker and the edge buffers hold the data \(the store says: .*full/,
    )
    expect(opened.text.zh).toMatch(
      /^\[告警\] ingest-fault \(ingest\)：存储故障 STORAGE_ERR_FULL（磁盘已满）：采集服务 ingest-fault 暂停确认数据，数据保留在消息代理和边缘缓存中（存储报告：.*full/,
    )
    expect(svc.openAlerts()).toEqual([expect.objectContaining({ id: opened.alertId, state: 'firing', rule: 'storage-fault' })])
    const escalated = await waitFor('the escalation at the robot', () => robot.received[0])
    expect(escalated.msgtype).toBe('text')
    expect(escalated.text?.content).toContain('存储故障 STORAGE_ERR_FULL（磁盘已满）')
    expect(svc.stats().escalations).toBe(1)

    rmSync(join(dir, 'filler'))
    execFileSync('mount', ['-o', 'remount,size=64m', dir])
    const cleared = await waitFor(
      'the alert cleared at the webhook',
      () => hook.received.find((n) => n.alertId === opened.alertId && n.event === 'cleared'),
      30_000,
    )
    expect(cleared).toMatchObject({ state: 'resolved', user: '', quantity: 'STORAGE_ERR_FULL' })
    expect(cleared.text.en).toMatch(
      /^\[resolved\] ingest-fault \(ingest\): the store accepts writes again \(STORAGE_ERR_FULL\), ingest acknowledges again; the fault lasted [0-9.]+ min$/,
    )
    expect(cleared.text.zh).toContain('存储恢复写入（STORAGE_ERR_FULL）')
    expect(svc.openAlerts()).toEqual([])
    await waitFor('everything written', () => (ingest.stats().writtenMessages === published && ingest.stats().inFlight === 0 ? true : undefined), 30_000)
    expect(await stored(store)).toBe(published * SAMPLES_PER_MESSAGE)

    // Both events are in the log, as the API lists them.
    await svc.flush()
    const logged = await loadAlerts(events, { start: faultAt - 3_600_000, stop: Date.now() + 1, filter: { rule: 'storage-fault' } })
    expect(logged).toEqual([
      expect.objectContaining({
        id: opened.alertId,
        ruleKind: 'storage-fault',
        state: 'resolved',
        resolvedBy: '',
        quantity: 'STORAGE_ERR_FULL',
        address: { enterprise: 'system', site: 'storage', line: 'ingest', device: 'ingest-fault' },
      }),
    ])
    expect(logged[0]?.history.map((h) => h.event)).toEqual(['opened', 'cleared'])
    expect(logged[0]?.text).toEqual(opened.text)
  }, 60_000)
})
