/**
 * The edge agent as a Sparkplug B edge node, end to end on real parts: a Modbus TCP meter (SDM630
 * register words) → agent (publisher: sparkplug, gateway user) → PlantWatt's broker → ingest
 * (ingest.sparkplug mapping, ingest user) → embedded store. An admin client watches the wire.
 */
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { decodePayload, encodePayload, type UMetric, type UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import { afterEach, describe, expect, it } from 'vitest'
import { hashPassword, startBroker } from '../broker/index.ts'
import { loadPlantWattConfig } from '../cli/config.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { startEdgeAgent } from '../edge-agent/agent.ts'
import { sparkplugIdentity } from '../edge-agent/sparkplug/config.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../edge-agent/config.ts'
import { startTestModbusServer } from '../edge-agent/testing/modbus-server.ts'
import { closeTo, SDM630_VALUES, SDM630_WORDS } from '../edge-agent/testing/sdm630-fixtures.ts'
import { IngestConfigSchema, type IngestConfig } from '../ingest/config.ts'
import { startIngest } from '../ingest/ingest.ts'
import { SparkplugMapping } from '../ingest/sparkplug/mapping.ts'
import { tempDir, waitFor } from '../ingest/test-helpers.ts'
import { startMosquitto } from './mosquitto.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'

const logger = silentLogger()
let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** A TCP relay between the agent and the broker that a test can cut (the agent then dies without DISCONNECT). */
async function relay(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1')
    for (const s of [down, up]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    down.pipe(up).pipe(down)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const cut = () => {
    for (const s of sockets) s.destroy()
  }
  const close = async (): Promise<void> => {
    cut()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return { port: (server.address() as net.AddressInfo).port, cut, close }
}

interface Seen {
  topic: string
  payload: UPayload
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))

describe('edge agent as a Sparkplug B edge node → broker → ingest → store', () => {
  it('stores the meter’s values with the right device, quantity and ts; NDEATH (will, bdSeq) marks it offline; NCMD rebirth births again', async () => {
    const secret = 'pw-sparkplug-test'
    const hash = await hashPassword(secret)
    const broker = await startBroker(
      {
        host: '127.0.0.1',
        port: 0,
        users: [
          { username: 'gw-acme', passwordHash: hash, role: 'gateway', enterprise: 'acme' },
          { username: 'ingest', passwordHash: hash, role: 'ingest' },
          { username: 'admin', passwordHash: hash, role: 'admin' },
        ],
      },
      { logger },
    )
    cleanups.push(() => broker.close())
    const meter = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => meter.close())
    const dir = tempDir('pw-spb-')
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })

    // The agent's metric names are canonical quantities: one rule maps them back.
    const ingestConfig = validateConfig(IngestConfigSchema, {
      flushIntervalMs: 20,
      stateIntervalMs: 0,
      sparkplug: {
        groups: ['acme'],
        mapping: [
          {
            match: { group: 'acme', node: 'edge-spb', device: 'MainMeter', metric: '{quantity}' },
            to: { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: 'main-meter', quantity: '{quantity}' },
          },
        ],
      },
    }) as IngestConfig
    const ingest = await startIngest({
      config: ingestConfig,
      mqtt: { url: broker.url, clientId: 'ingest-spb-e2e', username: 'ingest', password: secret, keepaliveS: 30, reconnectPeriodMs: 100 },
      store,
      logger,
    })
    cleanups.push(() => ingest.close())

    const watcher: MqttClient = await mqtt.connectAsync(broker.url, { clientId: 'watcher', username: 'admin', password: secret, reconnectPeriod: 0 })
    cleanups.push(() => watcher.endAsync(true))
    const seen: Seen[] = []
    const states = new Map<string, { status: string; agent: string }>()
    watcher.on('message', (topic, payload) => {
      if (topic.startsWith('spBv1.0/')) seen.push({ topic, payload: decodePayload(payload) })
      else states.set(topic, JSON.parse(payload.toString('utf8')) as { status: string; agent: string })
    })
    await watcher.subscribeAsync('spBv1.0/acme/#', { qos: 0 })
    await watcher.subscribeAsync('pw/v1/acme/+/+/+/state', { qos: 1 })

    const link = await relay(broker.port)
    cleanups.push(() => link.close())
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-spb',
        buffer: 'memory',
        publisher: 'sparkplug',
        sparkplug: { groupId: 'acme', devices: [{ device: 'main-meter', sparkplugId: 'MainMeter' }] },
        devices: [
          {
            enterprise: 'acme',
            site: 'wuhan',
            line: 'rolling-1',
            device: 'main-meter',
            driver: 'modbus',
            profile: 'eastron-sdm630',
            pollIntervalMs: 100,
            connection: { host: '127.0.0.1', port: meter.port, timeoutMs: 500 },
          },
        ],
      },
      'test',
    ) as EdgeConfig
    const started = Date.now()
    const agent = await startEdgeAgent({
      config,
      mqtt: { url: `mqtt://127.0.0.1:${link.port}`, clientId: 'edge-spb', username: 'gw-acme', password: secret, keepaliveS: 30, reconnectPeriodMs: 100 },
      logger,
    })
    cleanups.push(() => agent.close())

    // Stored: every SDM630 quantity on acme/wuhan/rolling-1/main-meter, at the time it was read.
    const latest = await waitFor('values stored', async () => {
      const rows = await store.latest({ measurement: 'telemetry', filter: { device: 'main-meter' } })
      const values = Object.fromEntries(rows.filter((r) => r.field in SDM630_VALUES).map((r) => [r.field, r.value]))
      return Object.keys(values).length === Object.keys(SDM630_VALUES).length ? { rows, values } : undefined
    })
    expect(closeTo(latest.values, SDM630_VALUES)).toEqual([])
    for (const r of latest.rows) {
      expect(r.tags).toMatchObject({ enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: 'main-meter' })
      expect(r.ts).toBeGreaterThanOrEqual(started)
      expect(r.ts).toBeLessThanOrEqual(Date.now())
    }
    expect(ingest.stats().deadLettered).toEqual({})

    // On the wire: NBIRTH (seq 0, bdSeq 0), DBIRTH with every metric typed, aliased, with its unit; DDATA by alias.
    const nbirth = seen.find((s) => s.topic === 'spBv1.0/acme/NBIRTH/edge-spb')
    expect(num(nbirth?.payload.seq)).toBe(0)
    expect(num(nbirth?.payload.metrics?.find((m) => m.name === 'bdSeq')?.value)).toBe(0)
    const dbirth = seen.find((s) => s.topic === 'spBv1.0/acme/DBIRTH/edge-spb/MainMeter')
    const declared = dbirth?.payload.metrics ?? []
    expect(declared.map((m) => m.name).sort()).toEqual(Object.keys(SDM630_VALUES).sort())
    const power = declared.find((m) => m.name === 'active_power_kw') as UMetric
    expect(power.type).toBe('Double')
    expect(power.properties?.engUnit?.value).toBe('kW')
    expect(new Set(declared.map((m) => num(m.alias))).size).toBe(declared.length)
    const ddata = seen.filter((s) => s.topic === 'spBv1.0/acme/DDATA/edge-spb/MainMeter')
    expect(ddata.length).toBeGreaterThan(0)
    expect(ddata[0]?.payload.metrics?.every((m) => m.name === undefined && m.alias !== undefined)).toBe(true)
    // seq: NBIRTH 0, DBIRTH 1, then one more per message.
    const seqs = await waitFor('4 messages', () => {
      const all = seen.filter((s) => !s.topic.includes('/NCMD/')).map((s) => num(s.payload.seq))
      return all.length >= 4 ? all : undefined
    })
    expect(seqs.slice(0, 4)).toEqual([0, 1, 2, 3])

    // A host asks for a rebirth: NBIRTH with the same bdSeq and seq 0, then the DBIRTH.
    const before = seen.length
    await watcher.publishAsync(
      'spBv1.0/acme/NCMD/edge-spb',
      Buffer.from(encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] })),
    )
    const reborn = await waitFor('rebirth', () => seen.slice(before).find((s) => s.topic === 'spBv1.0/acme/NBIRTH/edge-spb'))
    expect(num(reborn.payload.seq)).toBe(0)
    expect(num(reborn.payload.metrics?.find((m) => m.name === 'bdSeq')?.value)).toBe(0)
    await waitFor('DBIRTH again', () => seen.slice(before).find((s) => s.topic === 'spBv1.0/acme/DBIRTH/edge-spb/MainMeter'))

    // The agent's connection dies without DISCONNECT: the broker sends its will, the NDEATH with bdSeq 0;
    // ingest marks the mapped device offline. The agent reconnects with bdSeq 1.
    const stateTopic = 'pw/v1/acme/wuhan/rolling-1/main-meter/state'
    await waitFor('online', () => (states.get(stateTopic)?.status === 'online' ? true : undefined))
    const cutAt = seen.length
    link.cut()
    const death = await waitFor('NDEATH', () => seen.slice(cutAt).find((s) => s.topic === 'spBv1.0/acme/NDEATH/edge-spb'))
    expect(num(death.payload.metrics?.find((m) => m.name === 'bdSeq')?.value)).toBe(0)
    await waitFor('offline', () => (states.get(stateTopic)?.status === 'offline' ? true : undefined))
    expect(states.get(stateTopic)?.agent).toBe('sparkplug:acme/edge-spb')
    const again = await waitFor('NBIRTH after reconnect', () => seen.slice(cutAt).find((s) => s.topic === 'spBv1.0/acme/NBIRTH/edge-spb'))
    expect(num(again.payload.metrics?.find((m) => m.name === 'bdSeq')?.value)).toBe(1)
    await waitFor('online again', () => (states.get(stateTopic)?.status === 'online' ? true : undefined))
  })
})

describe('Sparkplug B on the broker', () => {
  it('a gateway may publish its own enterprise’s group; another enterprise’s group closes its connection', async () => {
    const hash = await hashPassword('gw')
    const broker = await startBroker(
      { host: '127.0.0.1', port: 0, users: [{ username: 'gw-acme', passwordHash: hash, role: 'gateway', enterprise: 'acme', site: 'wuhan' }] },
      { logger },
    )
    cleanups.push(() => broker.close())
    const gw = await mqtt.connectAsync(broker.url, { clientId: 'gw-acme-1', username: 'gw-acme', password: 'gw', reconnectPeriod: 0 })
    cleanups.push(() => gw.endAsync(true))
    const birth = Buffer.from(encodePayload({ timestamp: Date.now(), seq: 0, metrics: [{ name: 'bdSeq', type: 'Int64', value: 0 }] }))
    await gw.publishAsync('spBv1.0/acme/NBIRTH/edge-1', birth, { qos: 1 })
    expect(broker.stats().accepted).toBe(1)
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish('spBv1.0/other/NBIRTH/edge-1', birth, { qos: 1 })
    await closed
    expect(broker.stats().rejected).toBe(1)
  })
})

describe('Sparkplug B through Mosquitto', () => {
  it('agent → Mosquitto → ingest: values stored; a clean close sends NDEATH and the device goes offline', async () => {
    const mosquitto = await startMosquitto()
    cleanups.push(() => mosquitto.stop())
    const meter = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => meter.close())
    const dir = tempDir('pw-spb-mq-')
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })
    const ingest = await startIngest({
      config: validateConfig(IngestConfigSchema, {
        flushIntervalMs: 20,
        stateIntervalMs: 0,
        sparkplug: {
          groups: ['+'],
          mapping: [
            {
              match: { group: 'acme', node: 'edge-mq', device: '{device}', metric: '{quantity}' },
              to: { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: '{device}', quantity: '{quantity}' },
            },
          ],
        },
      }) as IngestConfig,
      mqtt: { url: mosquitto.url, clientId: 'ingest-spb-mq', keepaliveS: 30, reconnectPeriodMs: 100 },
      store,
      logger,
    })
    cleanups.push(() => ingest.close())
    const watcher = await mqtt.connectAsync(mosquitto.url, { clientId: 'watcher-mq', reconnectPeriod: 0 })
    cleanups.push(() => watcher.endAsync(true))
    const states: string[] = []
    watcher.on('message', (_t, payload) => states.push((JSON.parse(payload.toString('utf8')) as { status: string }).status))
    await watcher.subscribeAsync('pw/v1/acme/wuhan/rolling-1/main-meter/state', { qos: 1 })
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-mq',
        buffer: 'memory',
        publisher: 'sparkplug',
        sparkplug: { groupId: 'acme' },
        devices: [
          {
            enterprise: 'acme',
            site: 'wuhan',
            line: 'rolling-1',
            device: 'main-meter',
            driver: 'modbus',
            profile: 'eastron-sdm630',
            pollIntervalMs: 100,
            connection: { host: '127.0.0.1', port: meter.port, timeoutMs: 500 },
          },
        ],
      },
      'test',
    ) as EdgeConfig
    const agent = await startEdgeAgent({ config, mqtt: { url: mosquitto.url, clientId: 'edge-mq', keepaliveS: 30, reconnectPeriodMs: 100 }, logger })
    const values = await waitFor('values stored', async () => {
      const rows = await store.latest({ measurement: 'telemetry', filter: { device: 'main-meter' } })
      const v = Object.fromEntries(rows.filter((r) => r.field in SDM630_VALUES).map((r) => [r.field, r.value]))
      return Object.keys(v).length === Object.keys(SDM630_VALUES).length ? v : undefined
    })
    expect(closeTo(values, SDM630_VALUES)).toEqual([])
    await waitFor('online', () => (states.at(-1) === 'online' ? true : undefined))
    await agent.close()
    await waitFor('offline', () => (states.at(-1) === 'offline' ? true : undefined))
    expect(ingest.stats().deadLettered).toEqual({})
  })
})

describe('Sparkplug B primary host through Mosquitto', () => {
  it('ingest as primary host: the agent holds its samples while ingest is stopped and sends them, historical, when it is back — none lost', async () => {
    const mosquitto = await startMosquitto()
    cleanups.push(() => mosquitto.stop())
    const meter = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => meter.close())
    const dir = tempDir('pw-spb-host-')
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })
    const ingestConfig = validateConfig(IngestConfigSchema, {
      flushIntervalMs: 20,
      stateIntervalMs: 0,
      sparkplug: {
        groups: ['acme'],
        primaryHostId: 'plantwatt',
        mapping: [
          {
            match: { group: 'acme', node: 'edge-host', device: '{device}', metric: '{quantity}' },
            to: { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: '{device}', quantity: '{quantity}' },
          },
        ],
      },
    }) as IngestConfig
    const runIngest = () =>
      startIngest({ config: ingestConfig, mqtt: { url: mosquitto.url, clientId: 'ingest-spb-host', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
    let ingest = await runIngest()
    cleanups.push(() => ingest.close())
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-host',
        buffer: 'memory',
        publisher: 'sparkplug',
        sparkplug: { groupId: 'acme', primaryHostId: 'plantwatt' },
        devices: [
          {
            enterprise: 'acme',
            site: 'wuhan',
            line: 'rolling-1',
            device: 'main-meter',
            driver: 'modbus',
            profile: 'eastron-sdm630',
            pollIntervalMs: 100,
            connection: { host: '127.0.0.1', port: meter.port, timeoutMs: 500 },
          },
        ],
      },
      'test',
    ) as EdgeConfig
    const agent = await startEdgeAgent({ config, mqtt: { url: mosquitto.url, clientId: 'edge-host', keepaliveS: 30, reconnectPeriodMs: 100 }, logger })
    cleanups.push(() => agent.close())
    const powerRows = async (start: number, stop: number) =>
      store.raw({ measurement: 'telemetry', fields: ['active_power_kw'], filter: { device: 'main-meter' }, start, stop, limit: 10_000 })
    await waitFor('live values', async () => ((await powerRows(0, Date.now() + 1000)).length > 3 ? true : undefined))

    // Ingest stops (STATE offline): the agent keeps polling but holds its samples.
    await ingest.close()
    const stoppedAt = Date.now()
    await new Promise((r) => setTimeout(r, 1500))
    expect(agent.status().outbox.depth).toBeGreaterThanOrEqual(10)
    const restartAt = Date.now()
    ingest = await runIngest()
    // Back online: the samples read while ingest was away arrive and are stored.
    const held = await waitFor('held samples stored', async () => {
      const rows = await powerRows(stoppedAt + 200, restartAt)
      return rows.length >= 10 ? rows : undefined
    })
    expect(held.every((r) => r.value > 0)).toBe(true)
    await waitFor('outbox drained', () => (agent.status().outbox.depth < 5 ? true : undefined))
    // None lost: from the first stored sample to the last, one every poll (100 ms), no hole.
    const all = (await powerRows(0, Date.now() + 1000)).map((r) => r.ts).sort((a, b) => a - b)
    const gaps = all.slice(1).map((t, i) => t - (all[i] as number))
    expect(Math.max(...gaps)).toBeLessThan(400)
    expect(ingest.stats().deadLettered).toEqual({})
  })
})

describe('examples/sparkplug.yaml', () => {
  const file = join(import.meta.dirname, '..', 'examples', 'sparkplug.yaml')

  it('passes plantwatt check', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'plantwatt.js'), 'check', '-c', file], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/sparkplug\.yaml: ok/)
  })

  it('its edge node ids and mapping rules hold, and map the metrics the comments promise', () => {
    const cfg = loadPlantWattConfig(file)
    const edge = cfg.edge as EdgeConfig
    const identity = sparkplugIdentity(edge.sparkplug, edge.agentId, edge.devices)
    expect(identity).toEqual({
      groupId: 'hb-steel',
      edgeNodeId: 'wuhan-rolling',
      primaryHostId: 'plantwatt',
      deviceIds: new Map([['hb-steel/wuhan/rolling-1/main-meter', 'MainMeter']]),
    })
    const spb = cfg.ingest?.sparkplug
    if (spb === undefined) throw new Error('no ingest.sparkplug')
    // The node serves the host ingest announces.
    expect(spb.primaryHostId).toBe(identity.primaryHostId)
    const mapping = new SparkplugMapping(spb.mapping, spb.enterprises)
    const at = (device: string, line: string) => ({ enterprise: 'hb-steel', site: 'wuhan', line, device })
    expect(mapping.resolve({ group: 'hb-steel', node: 'wuhan-rolling', device: 'MainMeter', metric: 'energy_import_kwh' }).mapped).toEqual({
      address: at('main-meter', 'rolling-1'),
      key: 'hb-steel/wuhan/rolling-1/main-meter',
      quantity: 'energy_import_kwh',
      scale: 1,
      offset: 0,
    })
    expect(mapping.resolve({ group: 'ignition-wuhan', node: 'Rolling-2', device: 'Meter3', metric: 'Power/Active Power' }).mapped).toEqual({
      address: at('meter-3', 'rolling-2'),
      key: 'hb-steel/wuhan/rolling-2/meter-3',
      quantity: 'active_power_kw',
      scale: 0.001,
      offset: 0,
    })
    expect(mapping.resolve({ group: 'ignition-wuhan', node: 'neuron-1', device: 'furnace-2', metric: 'gas_m3' }).mapped?.address).toEqual(
      at('furnace-2', 'annealing'),
    )
    expect(mapping.resolve({ group: 'ignition-wuhan', node: 'Rolling-2', device: 'Meter3', metric: 'Cabinet/Temperature' })).toEqual({
      reason: 'no mapping rule matches it',
    })
  })
})
