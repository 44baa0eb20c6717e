/**
 * A third-party Sparkplug B edge node (written here with Eclipse Tahu's sparkplug-payload, aliases in
 * DDATA as Ignition Edge and Neuron send them) → PlantWatt's broker → ingest → embedded store.
 */
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { encodePayload, decodePayload, type UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js'
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker } from '../../broker/index.ts'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { createEmbeddedStore } from '../../storage/embedded/index.ts'
import type { TelemetryStore } from '../../storage/store.ts'
import { IngestConfigSchema, type IngestConfig } from '../config.ts'
import { startIngest, type RunningIngest } from '../ingest.ts'
import { tempDir, waitFor } from '../test-helpers.ts'

const logger = silentLogger()
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0)
const GROUP = 'ignition-plant'

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

/** Ignition-style names: the device `Meter<n>` of node `<line>` is PlantWatt device meter-<n> on that line. */
const MAPPING = [
  {
    match: { group: GROUP, node: '{line}', device: 'Meter{n}', metric: 'Active Power' },
    to: { enterprise: 'hb-steel', site: 'wuhan', line: '{line}', device: 'meter-{n}', quantity: 'active_power_kw' },
  },
  {
    match: { group: GROUP, node: '{line}', device: 'Meter{n}', metric: 'Voltage L1' },
    to: { enterprise: 'hb-steel', site: 'wuhan', line: '{line}', device: 'meter-{n}', quantity: 'voltage_l1_v', scale: 0.1 },
  },
  {
    match: { group: GROUP, node: '{line}', device: 'Meter{n}', metric: 'Energy/Import Wh' },
    to: { enterprise: 'hb-steel', site: 'wuhan', line: '{line}', device: 'meter-{n}', quantity: 'energy_import_kwh', scale: 0.001 },
  },
]

async function setup(over: Record<string, unknown> = {}): Promise<{ url: string; store: TelemetryStore; ing: RunningIngest }> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 65_536, validatePayloads: true }, { logger })
  cleanups.push(() => b.close())
  const dir = tempDir()
  const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
  cleanups.push(async () => {
    await store.close()
    dir.cleanup()
  })
  const config = validateConfig(IngestConfigSchema, {
    flushIntervalMs: 20,
    stateIntervalMs: 0,
    sparkplug: { groups: [GROUP], enterprises: { [GROUP]: 'hb-steel' }, mapping: MAPPING, rebirthIntervalMs: 0, ...over },
  }) as IngestConfig
  const ing = await startIngest({ config, mqtt: { url: b.url, clientId: 'ingest-spb', keepaliveS: 30, reconnectPeriodMs: 100 }, store, logger })
  cleanups.push(() => ing.close())
  return { url: b.url, store, ing }
}

async function client(url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `spb-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 })
  cleanups.push(() => c.endAsync(true))
  return c
}

/** A third-party edge node: Tahu payloads, seq kept by the node, births with aliases. */
class ThirdPartyNode {
  seq = 0
  constructor(
    private readonly c: MqttClient,
    readonly node: string,
    readonly bdSeq = 3,
  ) {}

  private topic(type: string, device?: string): string {
    return `spBv1.0/${GROUP}/${type}/${this.node}${device ? `/${device}` : ''}`
  }

  private next(): number {
    const s = this.seq
    this.seq = (this.seq + 1) % 256
    return s
  }

  async nbirth(): Promise<void> {
    this.seq = 0
    const metrics: UMetric[] = [
      { name: 'bdSeq', type: 'Int64', value: this.bdSeq },
      { name: 'Node Control/Rebirth', type: 'Boolean', value: false, alias: 1 },
    ]
    await this.c.publishAsync(this.topic('NBIRTH'), Buffer.from(encodePayload({ timestamp: T0, seq: this.next(), metrics })), { qos: 0 })
  }

  async dbirth(device: string): Promise<void> {
    const metrics: UMetric[] = [
      { name: 'Active Power', alias: 10, type: 'Float', value: 412.5, timestamp: T0 },
      { name: 'Voltage L1', alias: 11, type: 'Int16', value: 2301, timestamp: T0 },
      { name: 'Energy/Import Wh', alias: 12, type: 'UInt64', value: 1_834_021_700, timestamp: T0 },
      { name: 'Cabinet Temp', alias: 13, type: 'Float', value: 31.5, timestamp: T0 },
    ]
    await this.c.publishAsync(this.topic('DBIRTH', device), Buffer.from(encodePayload({ timestamp: T0, seq: this.next(), metrics })), { qos: 0 })
  }

  /** DDATA by alias only and without datatypes (Sparkplug B 3.0 allows both in DATA messages). */
  async ddata(
    device: string,
    ts: number,
    values: { alias: number; floatValue?: number; intValue?: number; isNull?: boolean; quality?: number }[],
    seq = this.next(),
  ): Promise<void> {
    const Payload = proto.org.eclipse.tahu.protobuf.Payload
    const metrics = values.map(({ quality, ...v }) => ({
      ...v,
      timestamp: ts,
      ...(quality === undefined ? {} : { properties: { keys: ['Quality'], values: [{ type: 3, intValue: quality }] } }),
    }))
    const bytes = Payload.encode(Payload.create({ timestamp: ts, seq, metrics })).finish()
    await this.c.publishAsync(this.topic('DDATA', device), Buffer.from(bytes), { qos: 0 })
  }

  async ndeath(bdSeq = this.bdSeq): Promise<void> {
    const metrics: UMetric[] = [{ name: 'bdSeq', type: 'Int64', value: bdSeq }]
    await this.c.publishAsync(this.topic('NDEATH'), Buffer.from(encodePayload({ metrics })), { qos: 0 })
  }
}

async function stored(store: TelemetryStore, field: string, device = 'meter-1', line = 'rolling-1'): Promise<{ ts: number; value: number }[]> {
  const rows = await store.raw({ measurement: 'telemetry', fields: [field], filter: { device, line }, start: T0 - 60_000, stop: T0 + 3_600_000, limit: 100 })
  return rows.map((r) => ({ ts: r.ts, value: r.value }))
}

describe('ingest: Sparkplug B edge nodes', () => {
  it('stores a third-party node’s births and alias-only DDATA as mapped devices and quantities; NDEATH marks them offline', async () => {
    const { url, store, ing } = await setup()
    const node = new ThirdPartyNode(await client(url), 'rolling-1')
    const watcher = await client(url)
    const states = new Map<string, Record<string, unknown>>()
    watcher.on('message', (topic, payload) => states.set(topic, JSON.parse(payload.toString('utf8')) as Record<string, unknown>))
    await watcher.subscribeAsync('pw/v1/+/+/+/+/state', { qos: 1 })

    await node.nbirth()
    await node.dbirth('Meter1')
    // Quality 0 (bad) on the voltage: stored as bad quality, no value.
    await node.ddata('Meter1', T0 + 1000, [
      { alias: 10, floatValue: 420 },
      { alias: 11, intValue: 2299, quality: 0 },
    ])
    await node.ddata('Meter1', T0 + 2000, [{ alias: 11, intValue: 2298 }])

    await waitFor('DDATA stored', async () => ((await stored(store, 'voltage_l1_v')).length === 2 ? true : undefined))
    expect(await stored(store, 'active_power_kw')).toEqual([
      { ts: T0, value: 412.5 },
      { ts: T0 + 1000, value: 420 },
    ])
    // 2301 × 0.1 V at birth, 2298 × 0.1 V at T0+2 s; the bad one is not a value.
    const volts = await stored(store, 'voltage_l1_v')
    expect(volts.map((v) => v.ts)).toEqual([T0, T0 + 2000])
    expect(volts[0]?.value).toBeCloseTo(230.1, 9)
    expect(volts[1]?.value).toBeCloseTo(229.8, 9)
    expect(await stored(store, 'q_voltage_l1_v')).toEqual([{ ts: T0 + 1000, value: 2 }])
    // 1 834 021 700 Wh × 0.001 = 1 834 021.7 kWh
    const energy = await stored(store, 'energy_import_kwh')
    expect(energy).toHaveLength(1)
    expect(energy[0]?.value).toBeCloseTo(1_834_021.7, 6)

    // Unmapped metric: one dead letter naming it, the rest of the birth stored.
    const dead = ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_UNMAPPED' })
    expect(dead).toHaveLength(1)
    expect(dead[0]?.message).toContain('"Cabinet Temp" (no mapping rule matches it)')
    expect(dead[0]?.topic).toBe(`spBv1.0/${GROUP}/DBIRTH/rolling-1/Meter1`)

    const stateTopic = 'pw/v1/hb-steel/wuhan/rolling-1/meter-1/state'
    await waitFor('online', () => (states.get(stateTopic)?.status === 'online' ? true : undefined))
    // An NDEATH with another bdSeq is an old session's will: ignored.
    await node.ndeath(2)
    await node.ndeath()
    await waitFor('offline', () => (states.get(stateTopic)?.status === 'offline' ? true : undefined))
    expect(states.get(stateTopic)?.agent).toBe(`sparkplug:${GROUP}/rolling-1`)
    expect(ing.stats().deadLettered).toEqual({ INGEST_ERR_SPARKPLUG_UNMAPPED: 1 })
    // NBIRTH + DBIRTH; one NDEATH taken (the one with the stale bdSeq is not).
    expect(ing.stats().sparkplug).toEqual({ births: 2, deaths: 1, rebirthRequests: 0 })
  })

  it('DDATA before its birth, or after a seq gap: dead-lettered with the reason and a rebirth requested over NCMD', async () => {
    const { url, store, ing } = await setup()
    const c = await client(url)
    const commands: { topic: string; rebirth: unknown }[] = []
    const host = await client(url)
    host.on('message', (topic, payload) => {
      const metric = decodePayload(payload).metrics?.[0]
      commands.push({ topic, rebirth: metric?.name === 'Node Control/Rebirth' ? metric.value : undefined })
    })
    await host.subscribeAsync(`spBv1.0/${GROUP}/NCMD/+`, { qos: 0 })

    const stranger = new ThirdPartyNode(c, 'rolling-2')
    await stranger.ddata('Meter1', T0, [{ alias: 10, floatValue: 1 }], 7)
    await waitFor('NCMD rebirth', () => (commands.length > 0 ? true : undefined))
    expect(commands[0]).toEqual({ topic: `spBv1.0/${GROUP}/NCMD/rolling-2`, rebirth: true })
    expect(ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_NO_BIRTH' })[0]?.message).toBe(
      `${GROUP}/rolling-2/Meter1: DDATA before the node's NBIRTH; rebirth requested`,
    )

    // The node answers with its births: data is stored again. Then seq jumps 2 → 5.
    await stranger.nbirth()
    await stranger.dbirth('Meter1')
    await stranger.ddata('Meter1', T0 + 1000, [{ alias: 10, floatValue: 2 }])
    await stranger.ddata('Meter1', T0 + 2000, [{ alias: 10, floatValue: 3 }], 5)
    await waitFor('second NCMD', () => (commands.length > 1 ? true : undefined))
    expect(commands[1]).toEqual({ topic: `spBv1.0/${GROUP}/NCMD/rolling-2`, rebirth: true })
    expect(ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_SEQ' })[0]?.message).toBe(
      `${GROUP}/rolling-2/Meter1: DDATA seq 5 where 3 was due: births no longer trusted; rebirth requested`,
    )
    await waitFor('stored', async () => ((await stored(store, 'active_power_kw', 'meter-1', 'rolling-2')).length === 2 ? true : undefined))
    expect(await stored(store, 'active_power_kw', 'meter-1', 'rolling-2')).toEqual([
      { ts: T0, value: 412.5 },
      { ts: T0 + 1000, value: 2 },
    ])
    expect(ing.stats().deadLettered).toMatchObject({ INGEST_ERR_SPARKPLUG_NO_BIRTH: 1, INGEST_ERR_SPARKPLUG_SEQ: 1 })
    expect(ing.stats().sparkplug).toEqual({ births: 2, deaths: 0, rebirthRequests: 2 })
  })

  it('a mapping rule that cannot work stops the start with INGEST_ERR_CONFIG', async () => {
    const dir = tempDir()
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })
    const config = validateConfig(IngestConfigSchema, {
      sparkplug: { mapping: [{ match: { metric: 'Flow' }, to: { enterprise: 'e', site: 's', line: 'l', device: 'Meter 1', quantity: 'gas_m3' } }] },
    }) as IngestConfig
    const start = startIngest({
      config,
      mqtt: { url: 'mqtt://127.0.0.1:1', clientId: 'never', keepaliveS: 30, reconnectPeriodMs: 100 },
      store,
      logger,
      connectTimeoutMs: 500,
    })
    await expect(start).rejects.toMatchObject({ code: 'INGEST_ERR_CONFIG', message: 'ingest.sparkplug.mapping[0].to.device: "Meter 1" is not a valid id' })
  })

  it('a payload that is not protobuf is dead-lettered and ingest goes on; rebirth: never only dead-letters', async () => {
    const { url, store, ing } = await setup({ rebirth: 'never' })
    const c = await client(url)
    const node = new ThirdPartyNode(c, 'rolling-3')
    await node.nbirth()
    await node.dbirth('Meter1')
    // JSON sent by mistake, and protobuf bytes that decode but carry no seq.
    await c.publishAsync(`spBv1.0/${GROUP}/DDATA/rolling-3/Meter1`, Buffer.from('{"seq":1}'), { qos: 0 })
    await c.publishAsync(`spBv1.0/${GROUP}/DDATA/rolling-3/Meter1`, Buffer.from([0x0b, 0xff, 0xff, 0xff]), { qos: 0 })
    await node.ddata('Meter1', T0 + 1000, [{ alias: 10, floatValue: 5 }])
    await waitFor('stored after the bad one', async () => ((await stored(store, 'active_power_kw', 'meter-1', 'rolling-3')).length === 2 ? true : undefined))
    const dead = ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_PAYLOAD' })
    expect(dead).toHaveLength(2)
    expect(dead[1]?.message).toBe('not a Sparkplug B payload (protobuf): index out of range: 3 + 115 > 9')
    expect(dead[1]?.payloadBytes).toBe(9)
    expect(dead[0]?.message).toBe('DDATA without a seq of 0–255 (got none)')
    // A stranger's data is dead-lettered, no NCMD sent (rebirth: never).
    await new ThirdPartyNode(c, 'rolling-4').ddata('Meter1', T0, [{ alias: 10, floatValue: 1 }], 3)
    await waitFor('no birth', () => (ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_NO_BIRTH' }).length === 1 ? true : undefined))
    expect(ing.deadLetters.list({ reason: 'INGEST_ERR_SPARKPLUG_NO_BIRTH' })[0]?.message).toBe(`${GROUP}/rolling-4/Meter1: DDATA before the node's NBIRTH`)
  })
})
