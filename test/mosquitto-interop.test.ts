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
  const agent = await startEdgeAgent({ config, mqtt: validateConfig(MqttClientConfigSchema, { url: mosquitto.url, clientId: 'interop-edge' }), drivers: { modbus: () => countingMeter() }, closeDrainMs: 5000 })
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
