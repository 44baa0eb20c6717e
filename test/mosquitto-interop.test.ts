import mqtt from 'mqtt'
import { afterAll, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { EdgeConfigSchema, startEdgeAgent, type Driver, type EdgeConfig } from '../edge-agent/index.ts'
import { IngestConfigSchema, startIngest } from '../ingest/index.ts'
import { createInfluxStore } from '../storage/index.ts'
import { ENTERPRISE, storedSeqs } from './faults/harness.ts'
import { startInfluxd, type RunningInfluxd } from './influxd.ts'
import { startMosquitto, type RunningMosquitto } from './mosquitto.ts'

let influx: RunningInfluxd | undefined
let mosquitto: RunningMosquitto | undefined
afterAll(async () => {
  await mosquitto?.stop()
  await influx?.stop()
})

/** A meter that counts up: the agent's MQTT side is what is under test, not Modbus. */
function countingMeter(): Driver {
  let n = 0
  return {
    kind: 'modbus',
    endpoint: 'test://counting-meter',
    connect: async () => undefined,
    read: async () => ({ ts: Date.now(), values: { active_power_kw: 100 + (n % 7), energy_import_kwh: 1000 + n++ * 0.01 }, quality: {}, errors: [] }),
    close: async () => undefined,
  }
}

it('the edge agent and ingest work unchanged against Mosquitto: every published (device, seq) stored once, bad input dead-lettered by ingest', async () => {
  ;[influx, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()])
  const db = 'interop_mosquitto'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 5000 })
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 100 }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: mosquitto.url, clientId: 'interop-ingest' }),
    store,
    logger: silentLogger(),
  })
  const devices = ['m1', 'm2', 'm3']
  const config = validateConfig(
    EdgeConfigSchema,
    {
      agentId: 'edge-interop',
      buffer: 'memory',
      devices: devices.map((device) => ({
        enterprise: ENTERPRISE,
        site: 's1',
        line: 'l1',
        device,
        driver: 'modbus',
        profile: 'eastron-sdm630',
        pollIntervalMs: 25,
        retries: 0,
        connection: { host: '127.0.0.1', port: 1, timeoutMs: 200 },
      })),
    },
    'test',
  ) as EdgeConfig
  const agent = await startEdgeAgent({
    config,
    mqtt: validateConfig(MqttClientConfigSchema, { url: mosquitto.url, clientId: 'interop-edge' }),
    drivers: { modbus: () => countingMeter() },
    closeDrainMs: 5000,
  })
  try {
    await new Promise((r) => setTimeout(r, 2000))
    // Mosquitto validates nothing: ingest's own checks set this aside.
    const rogue = await mqtt.connectAsync(mosquitto.url, { clientId: 'rogue', reconnectPeriod: 0 })
    await rogue.publishAsync(`pw/v1/${ENTERPRISE}/s1/l1/m1/data`, 'not json', { qos: 1 })
    await rogue.endAsync()
    await agent.close()
    const status = agent.status()
    await new Promise((r) => setTimeout(r, 500))
    await ingest.flush()

    const stored = await storedSeqs(influx.url, db)
    for (const d of status.devices) {
      expect(d.outboxDepth).toBe(0)
      expect(d.nextSeq).toBeGreaterThan(10)
      const seqs = stored.get(d.address.device) ?? []
      // One point per published sample; the distinct seqs are exactly those the agent delivered.
      expect(seqs.length).toBe(d.publishedSamples)
      expect([...new Set(seqs)].sort((a, b) => a - b)).toEqual(Array.from({ length: d.nextSeq }, (_, i) => i))
    }
    expect([...stored.keys()].sort()).toEqual(devices)
    expect(ingest.deadLetters.counts()).toEqual({ CORE_ERR_PAYLOAD_JSON: 1 })
    expect(ingest.deadLetters.list()[0]).toMatchObject({ source: 'ingest', payload: 'not json' })
  } finally {
    await ingest.close()
    await store.close()
  }
})

it('ingest instances in one shared-subscription group on Mosquitto split the messages: each written once, by one of them', async () => {
  influx ??= await startInfluxd()
  mosquitto ??= await startMosquitto()
  const db = 'interop_shared_group'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 5000 })
  const member = (clientId: string) =>
    startIngest({
      config: validateConfig(IngestConfigSchema, { flushIntervalMs: 50, sharedGroup: 'pw-ingest' }),
      mqtt: validateConfig(MqttClientConfigSchema, { url: (mosquitto as RunningMosquitto).url, clientId }),
      store,
      logger: silentLogger(),
    })
  const [a, b] = [await member('share-a'), await member('share-b')]
  const pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'share-pub', reconnectPeriod: 0 })
  try {
    const devices = Array.from({ length: 10 }, (_, i) => `g${i}`)
    const t0 = Date.UTC(2025, 5, 1)
    for (let seq = 0; seq < 20; seq++) {
      for (const [i, device] of devices.entries()) {
        const payload = JSON.stringify({ seq, samples: [{ ts: t0 + seq * 1000 + i, values: { active_power_kw: seq + i } }] })
        await pub.publishAsync(`pw/v1/${ENTERPRISE}/s1/l1/${device}/data`, payload, { qos: 1 })
      }
    }
    await pub.publishAsync(`pw/v1/${ENTERPRISE}/s1/l1/g0/data`, 'not json', { qos: 1 })
    const written = () => a.stats().writtenMessages + b.stats().writtenMessages
    const deadline = Date.now() + 15_000
    while (written() < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    await Promise.all([a.flush(), b.flush()])
    // Each message reached one member: 200 written in all, both took a share, the bad one dead-lettered once.
    expect(written()).toBe(200)
    expect(a.stats().writtenMessages).toBeGreaterThan(0)
    expect(b.stats().writtenMessages).toBeGreaterThan(0)
    expect(a.stats().received + b.stats().received).toBe(201)
    expect((a.stats().deadLettered.CORE_ERR_PAYLOAD_JSON ?? 0) + (b.stats().deadLettered.CORE_ERR_PAYLOAD_JSON ?? 0)).toBe(1)
    const stored = await storedSeqs(influx.url, db)
    expect([...stored.keys()].sort()).toEqual(devices)
    for (const device of devices) expect([...(stored.get(device) ?? [])].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i))
  } finally {
    await pub.endAsync()
    await Promise.all([a.close(), b.close()])
    await store.close()
  }
})
