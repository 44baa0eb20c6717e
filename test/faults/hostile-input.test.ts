import mqtt from 'mqtt'
import { afterAll, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import { startBroker } from '../../broker/index.ts'
import { IngestConfigSchema, startIngest } from '../../ingest/index.ts'
import { createInfluxStore } from '../../storage/index.ts'
import { startInfluxd, type RunningInfluxd } from '../influxd.ts'
import { ENTERPRISE, expectExactlyOnce, startLoad } from './harness.ts'

let influx: RunningInfluxd | undefined
afterAll(async () => {
  await influx?.stop()
})

const GOOD_TOPIC = `pw/v1/${ENTERPRISE}/s1/l1/hostile-target/data`
const TS = Date.UTC(2025, 0, 1)
const sample = (values: Record<string, unknown>, ts: unknown = TS): unknown => ({ ts, values })

/** One hostile message of each kind, with the dead-letter reason it must get. */
const KINDS: { topic: string; payload: () => Buffer; reason: string }[] = [
  { topic: GOOD_TOPIC, payload: () => Buffer.from('not json at all'), reason: 'CORE_ERR_PAYLOAD_JSON' },
  { topic: GOOD_TOPIC, payload: () => Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7b]), reason: 'CORE_ERR_PAYLOAD_JSON' },
  { topic: GOOD_TOPIC, payload: () => Buffer.from('['.repeat(2000) + ']'.repeat(2000)), reason: 'CORE_ERR_PAYLOAD_SCHEMA' },
  { topic: GOOD_TOPIC, payload: () => Buffer.from('{"seq":-1,"samples":[]}'), reason: 'CORE_ERR_PAYLOAD_SCHEMA' },
  {
    topic: GOOD_TOPIC,
    payload: () => Buffer.from(JSON.stringify({ seq: 1, samples: [sample({ active_power_kw: 1 })], __proto__x: 1 }).replace('__proto__x', '__proto__')),
    reason: 'CORE_ERR_PAYLOAD_SCHEMA',
  },
  {
    topic: GOOD_TOPIC,
    payload: () => Buffer.from(JSON.stringify({ seq: 1, samples: [sample({ active_power_kw: '1e999' })] })),
    reason: 'CORE_ERR_PAYLOAD_SCHEMA',
  },
  {
    topic: GOOD_TOPIC,
    payload: () => Buffer.from(JSON.stringify({ seq: 1, samples: [sample({ active_power_kw: 1 }, 42)] })),
    reason: 'CORE_ERR_PAYLOAD_SCHEMA',
  },
  { topic: GOOD_TOPIC, payload: () => Buffer.from(JSON.stringify({ seq: 1, samples: [sample({ watts: 1 })] })), reason: 'CORE_ERR_QUANTITY_UNKNOWN' },
  { topic: GOOD_TOPIC, payload: () => Buffer.from(JSON.stringify({ seq: 1, samples: [sample({ frequency_hz: 5000 })] })), reason: 'CORE_ERR_VALUE_RANGE' },
  { topic: GOOD_TOPIC, payload: () => Buffer.alloc(5000, 0x7b), reason: 'CORE_ERR_PAYLOAD_SIZE' },
  { topic: `pw/v1/${ENTERPRISE.toUpperCase()}/s1/l1/m1/data`, payload: () => Buffer.from('{}'), reason: 'CORE_ERR_TOPIC' },
  { topic: `pw/v1/${ENTERPRISE}//l1/m1/data`, payload: () => Buffer.from('{}'), reason: 'CORE_ERR_TOPIC' },
  { topic: `pw/v1/${ENTERPRISE}/s1/l1/m1/data/extra`, payload: () => Buffer.from('{}'), reason: 'CORE_ERR_TOPIC' },
  { topic: `pw/v1/${ENTERPRISE}/s1/l1/m1/exec`, payload: () => Buffer.from('{}'), reason: 'CORE_ERR_TOPIC' },
  { topic: `pw/v1/${ENTERPRISE}/s1/l1/${'x'.repeat(600)}/data`, payload: () => Buffer.from('{}'), reason: 'CORE_ERR_TOPIC' },
]
const HOSTILE = 10_000

it('fault 4: 10,000 malformed and hostile messages mixed into valid traffic — no crash, each dead-lettered, every valid sample stored', async () => {
  influx = await startInfluxd()
  const db = 'fault_hostile'
  const store = await createInfluxStore({ backend: 'influxdb', url: influx.url, database: db, createDatabase: true, timeoutMs: 5000 })
  const broker = await startBroker({ port: 0, maxPayloadBytes: 4096 }, { logger: silentLogger() })
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 100, deadLetterMemory: 100 }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker.url, clientId: 'fault-ingest-hostile', reconnectPeriodMs: 100 }),
    store,
    logger: silentLogger(),
  })
  try {
    const load = await startLoad({ url: broker.url, devices: 10, ticksPerS: 20 })
    const hostile = await mqtt.connectAsync(broker.url, { clientId: 'hostile', reconnectPeriod: 0 })
    const expected: Record<string, number> = {}
    for (let i = 0; i < HOSTILE; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => {
          const kind = KINDS[(i + j) % KINDS.length] as (typeof KINDS)[number]
          expected[kind.reason] = (expected[kind.reason] ?? 0) + 1
          return hostile.publishAsync(kind.topic, kind.payload(), { qos: 1 })
        }),
      )
    }
    // Refused outright (the connection is closed), not dead-lettered: the broker goes on for everyone else.
    for (const topic of ['$SYS/broker/clients', 'pw/dead-letter', 'elsewhere/x']) {
      const c = await mqtt.connectAsync(broker.url, { clientId: `refused-${topic.length}`, reconnectPeriod: 0 })
      await new Promise<void>((resolve) => {
        c.once('close', () => resolve())
        c.publish(topic, '{}', { qos: 1 })
      })
      c.end(true)
    }
    await hostile.endAsync()
    await new Promise((r) => setTimeout(r, 1000))
    await load.stop()
    await expectExactlyOnce(load, influx.url, db)
    await ingest.flush()
    const deadline = Date.now() + 10_000
    const total = (): number => Object.values(ingest.deadLetters.counts()).reduce((a, b) => a + b, 0)
    while (total() < HOSTILE && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(ingest.deadLetters.counts()).toEqual(expected)
    expect(broker.stats()).toMatchObject({ diverted: HOSTILE, rejected: 3, divertedByReason: expected })
    const newest = ingest.deadLetters.list({ limit: 1 })[0]
    expect(newest).toMatchObject({ source: 'broker', reason: expect.stringMatching(/^CORE_ERR_/) })
    expect(ingest.stats().connected).toBe(true)
  } finally {
    await ingest.close()
    await broker.close()
    await store.close()
  }
})
