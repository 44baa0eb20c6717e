/**
 * Ingest as a Sparkplug B 3.0 primary host application against PlantWatt's broker with users and
 * roles: the retained spBv1.0/STATE/<host id> birth and will, each session's timestamp, an offline
 * state for this host answered with online again, the ingest role's ACL.
 */
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../broker/index.ts'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import { IngestConfigSchema, type IngestConfig } from '../config.ts'
import { startIngest } from '../ingest.ts'
import { tempDir, waitFor } from '../test-helpers.ts'
import { hostStateTopic } from '../../core/sparkplug-state.ts'
import { SparkplugHostState } from './host-state.ts'

const logger = silentLogger()
const until = (what: string, cond: () => boolean, ms: number) => waitFor(what, () => (cond() ? true : undefined), ms)
let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function broker(): Promise<string> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 65_536, validatePayloads: true }, { logger })
  cleanups.push(() => b.close())
  return b.url
}

/** Every STATE message of the host, in order, as an edge node configured with it sees them. */
async function watcher(url: string, hostId: string): Promise<{ c: MqttClient; seen: { online: boolean; timestamp: number; retain: boolean }[] }> {
  const c = await mqtt.connectAsync(url, { clientId: `node-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 })
  cleanups.push(() => c.endAsync(true))
  const seen: { online: boolean; timestamp: number; retain: boolean }[] = []
  c.on('message', (_t, payload, packet) =>
    seen.push({ ...(JSON.parse(payload.toString('utf8')) as { online: boolean; timestamp: number }), retain: packet.retain }),
  )
  await c.subscribeAsync(hostStateTopic(hostId), { qos: 1 })
  return { c, seen }
}

describe('ingest as a Sparkplug primary host (spBv1.0/STATE)', () => {
  it('is born online with its will’s timestamp, says offline with the same timestamp when its session is lost, and is born again with a newer one', async () => {
    const url = await broker()
    let clock = 1_000_000
    const host = new SparkplugHostState({
      mqtt: { url, keepaliveS: 30, reconnectPeriodMs: 100 },
      clientId: 'ingest-a',
      hostId: 'pw-host',
      logger,
      now: () => clock,
    })
    cleanups.push(() => host.close())
    await until('host online', () => host.births > 0 && host.client.connected, 5000)
    const w = await watcher(url, 'pw-host')
    // Retained: a node connecting later learns the host is online.
    await until('state 1', () => w.seen.length >= 1, 5000)
    expect(w.seen[0]).toEqual({ online: true, timestamp: 1_000_000, retain: true })
    // The socket breaks without DISCONNECT: the broker publishes the will, then the host comes back.
    clock = 2_000_000
    host.client.stream.destroy()
    await until('state 2', () => w.seen.some((s) => s.online && s.timestamp === 2_000_000), 5000)
    const after = w.seen.slice(1).map(({ online, timestamp }) => ({ online, timestamp }))
    expect(after).toEqual([
      { online: false, timestamp: 1_000_000 },
      { online: true, timestamp: 2_000_000 },
    ])
  }, 20_000)

  it('answers an offline state for its host id with online again, and says offline (same timestamp, retained) when closed', async () => {
    const url = await broker()
    const host = new SparkplugHostState({
      mqtt: { url, keepaliveS: 30, reconnectPeriodMs: 100 },
      clientId: 'ingest-b',
      hostId: 'pw-host',
      logger,
      now: () => 5_000,
    })
    await until('host online', () => host.births > 0 && host.client.connected, 5000)
    const w = await watcher(url, 'pw-host')
    await until('state 3', () => w.seen.length >= 1, 5000)
    // An old session's will (or anyone) says this host is offline: it answers online.
    await w.c.publishAsync(hostStateTopic('pw-host'), JSON.stringify({ online: false, timestamp: 4_000 }), { qos: 1, retain: true })
    await until('state 4', () => w.seen.length >= 3, 5000)
    expect(w.seen.slice(1).map(({ online, timestamp }) => ({ online, timestamp }))).toEqual([
      { online: false, timestamp: 4_000 },
      { online: true, timestamp: 5_000 },
    ])
    await host.close()
    await until('state 5', () => w.seen.length >= 4, 5000)
    expect(w.seen[3]).toMatchObject({ online: false, timestamp: 5_000 })
    // Retained: a node connecting now learns the host is offline.
    const late = await watcher(url, 'pw-host')
    await until('state 6', () => late.seen.length >= 1, 5000)
    expect(late.seen[0]).toEqual({ online: false, timestamp: 5_000, retain: true })
  }, 20_000)

  it('startIngest with sparkplug.primaryHostId announces the host after subscribing and retires it on close; refused with several partitions', async () => {
    const url = await broker()
    const dir = tempDir()
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })
    const config = validateConfig(IngestConfigSchema, {
      flushIntervalMs: 20,
      stateIntervalMs: 0,
      sparkplug: { groups: ['+'], primaryHostId: 'plantwatt' },
    }) as IngestConfig
    const w = await watcher(url, 'plantwatt')
    const ing = await startIngest({ config, mqtt: { url, clientId: 'ingest-spb-host', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
    await until('state 7', () => w.seen.some((s) => s.online), 5000)
    await ing.close()
    await until('state 8', () => w.seen.some((s) => !s.online), 5000)
    const births = w.seen.filter((s) => s.online)
    expect(w.seen.at(-1)?.timestamp).toBe(births.at(-1)?.timestamp)

    const partitioned = validateConfig(IngestConfigSchema, {
      partition: { index: 0, count: 2 },
      sparkplug: { groups: ['+'], primaryHostId: 'plantwatt' },
    }) as IngestConfig
    await expect(
      startIngest({ config: partitioned, mqtt: { url, clientId: 'ingest-p0', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger }),
    ).rejects.toMatchObject({
      code: 'INGEST_ERR_CONFIG',
    })
  }, 20_000)
})
