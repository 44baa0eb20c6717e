/**
 * Issue 13: duplicate JSON keys and conflicting samples. Real parts: PlantWatt's broker (port 0),
 * mqtt.js clients, a real influxd and the embedded store. A conflict is a second sample for the
 * same device and ts with another value: the first value stays, the second is dead-lettered
 * (INGEST_ERR_SAMPLE_CONFLICT, both values) and counted; the same sample again is no conflict.
 */
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { isValidPayloadFast } from '../core/payload-scan.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { createInfluxStore } from '../storage/influxdb/index.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { startInfluxd, type RunningInfluxd } from '../test/influxd.ts'
import { IngestConfigSchema } from './config.ts'
import { startIngest, type RunningIngest } from './ingest.ts'
import { startBareBroker, tempDir, waitFor } from './test-helpers.ts'

const logger = silentLogger()
const T0 = Date.UTC(2025, 3, 7, 6, 0, 0)
const DEVICE = 'hb-steel/wuhan/rolling-1/main-meter'
const TOPIC = `pw/v1/${DEVICE}/data`

let influx: RunningInfluxd
let db = 0
let cleanups: (() => Promise<void> | void)[] = []

beforeAll(async () => {
  influx = await startInfluxd()
})
afterAll(async () => {
  await influx?.stop()
})
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function broker(maxPayloadBytes = 8192): Promise<RunningBroker> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes, validatePayloads: true }, { logger })
  cleanups.push(() => b.close())
  return b
}

const stores: Record<'embedded' | 'influxdb', () => Promise<TelemetryStore>> = {
  async embedded() {
    const dir = tempDir()
    const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
    cleanups.push(async () => {
      await store.close()
      dir.cleanup()
    })
    return store
  },
  async influxdb() {
    const database = `conflicts_${++db}`
    const store = await createInfluxStore({ url: influx.url, database })
    cleanups.push(async () => {
      await store.close()
      await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${database}"` }) })
    })
    return store
  },
}

async function ingest(
  url: string,
  store: TelemetryStore,
  over: Record<string, unknown> = {},
  clientId = `ingest-${Math.random().toString(16).slice(2)}`,
): Promise<RunningIngest> {
  const running = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 20, stateIntervalMs: 0, ...over }),
    mqtt: { url, clientId, keepaliveS: 30, reconnectPeriodMs: 100 },
    store,
    logger,
  })
  cleanups.push(() => running.close())
  return running
}

async function publisher(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `pub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 })
  cleanups.push(() => client.endAsync(true))
  return client
}

async function stored(store: TelemetryStore, field: string): Promise<[number, number][]> {
  const rows = await store.raw({
    measurement: 'telemetry',
    fields: [field],
    filter: { device: 'main-meter' },
    start: T0 - 60_000,
    stop: T0 + 60_000,
    limit: 100,
  })
  return rows.map((r) => [r.ts - T0, r.value])
}

describe('duplicate JSON keys', () => {
  const duplicate = `{"seq":1,"samples":[{"ts":${T0},"values":{"active_power_kw":1,"active_power_kw":900}}]}`

  it('are diverted by the broker with CORE_ERR_PAYLOAD_DUPLICATE_KEY naming the key, and nothing is stored', async () => {
    const b = await broker()
    const store = await stores.embedded()
    const ing = await ingest(b.url, store)
    const pub = await publisher(b.url)
    expect(isValidPayloadFast(Buffer.from(duplicate))).toBe(false)
    await pub.publishAsync(TOPIC, duplicate, { qos: 1 })
    await pub.publishAsync(TOPIC, JSON.stringify({ seq: 2, samples: [{ ts: T0 + 1000, values: { active_power_kw: 5 } }] }), { qos: 1 })
    await waitFor('the dead letter and the valid message', () =>
      ing.stats().writtenMessages === 1 && ing.stats().deadLettered.CORE_ERR_PAYLOAD_DUPLICATE_KEY === 1 ? true : undefined,
    )
    const [letter] = ing.deadLetters.list({ reason: 'CORE_ERR_PAYLOAD_DUPLICATE_KEY' })
    expect(letter).toMatchObject({ source: 'broker', topic: TOPIC, payload: duplicate, payloadBytes: duplicate.length })
    expect(letter?.message).toContain('samples[0].values.active_power_kw')
    expect(await stored(store, 'active_power_kw')).toEqual([[1000, 5]])
  })

  for (const backend of ['embedded', 'influxdb'] as const) {
    it(`are dead-lettered by ingest itself behind a broker that does not check (${backend})`, async () => {
      const b = await startBareBroker()
      cleanups.push(() => b.close())
      const store = await stores[backend]()
      const ing = await ingest(b.url, store)
      const pub = await publisher(b.url)
      const dupSeq = `{"seq":1,"samples":[{"ts":${T0},"values":{"gas_m3":1}}],"seq":7}`
      await pub.publishAsync(TOPIC, duplicate, { qos: 1 })
      await pub.publishAsync(TOPIC, dupSeq, { qos: 1 })
      await waitFor('both handled', () => (ing.stats().received === 2 && ing.stats().inFlight === 0 ? true : undefined))
      expect(ing.stats().deadLettered).toEqual({ CORE_ERR_PAYLOAD_DUPLICATE_KEY: 2 })
      expect(ing.deadLetters.list().map((l) => [l.source, l.message])).toEqual([
        ['ingest', 'payload has the key seq more than once (JSON.parse would keep only the last)'],
        ['ingest', 'payload has the key samples[0].values.active_power_kw more than once (JSON.parse would keep only the last)'],
      ])
      expect(ing.stats().writtenSamples).toBe(0)
      expect(await stored(store, 'active_power_kw')).toEqual([])
    })
  }
})

describe('conflicting samples', () => {
  for (const backend of ['embedded', 'influxdb'] as const) {
    describe(backend, () => {
      it('keeps the first value, dead-letters and counts a different later one, and takes a re-delivery as no conflict', async () => {
        const b = await broker()
        const store = await stores[backend]()
        const ing = await ingest(b.url, store)
        const pub = await publisher(b.url)
        const first = JSON.stringify({
          seq: 1,
          samples: [
            { ts: T0, values: { active_power_kw: 401, frequency_hz: 50 } },
            { ts: T0 + 1000, values: { active_power_kw: 402, frequency_hz: 50 } },
          ],
        })
        await pub.publishAsync(TOPIC, first, { qos: 1 })
        await waitFor('the first message written', () => (ing.stats().writtenMessages === 1 ? true : undefined))
        // The same message again (an at-least-once re-delivery): no conflict, nothing doubled.
        await pub.publishAsync(TOPIC, first, { qos: 1 })
        // Same values written another way, and under another seq: still no conflict.
        await pub.publishAsync(TOPIC, `{"seq":2,"samples":[{"ts":${T0 + 1000},"values":{"frequency_hz":50.0,"active_power_kw":402.00}}]}`, { qos: 1 })
        // A different active power for T0, and a field T0 did not have yet: a conflict; energy is new.
        await pub.publishAsync(
          TOPIC,
          JSON.stringify({ seq: 3, samples: [{ ts: T0, values: { active_power_kw: 999.5, frequency_hz: 50, energy_import_kwh: 1200 } }] }),
          { qos: 1 },
        )
        await waitFor('four messages handled', () => (ing.stats().received === 4 && ing.stats().inFlight === 0 ? true : undefined))

        expect(ing.stats()).toMatchObject({ conflicts: 1, deadLettered: { INGEST_ERR_SAMPLE_CONFLICT: 1 }, writtenSamples: 2 + 2 + 1 })
        expect(await stored(store, 'active_power_kw')).toEqual([
          [0, 401],
          [1000, 402],
        ])
        expect(await stored(store, 'energy_import_kwh')).toEqual([[0, 1200]])
        // The first seq stays with the first values.
        expect((await stored(store, 'seq'))[0]).toEqual([0, 1])
        const [letter] = ing.deadLetters.list({ reason: 'INGEST_ERR_SAMPLE_CONFLICT' })
        expect(letter).toMatchObject({ source: 'ingest', topic: TOPIC })
        expect(letter?.message).toBe(
          `device ${DEVICE} at ts ${T0} (${new Date(T0).toISOString()}) already has another value: active_power_kw stored 401, refused 999.5 (seq 3; the first value is kept)`,
        )
        // The refused sample alone, as a payload.
        expect(JSON.parse(letter?.payload ?? '')).toEqual({
          seq: 3,
          samples: [{ ts: T0, values: { active_power_kw: 999.5, frequency_hz: 50, energy_import_kwh: 1200 } }],
        })
      })

      it('finds two samples with the same ts and different values in one payload, on the fast path and the decoded one', async () => {
        const b = await broker()
        const store = await stores[backend]()
        const ing = await ingest(b.url, store)
        const pub = await publisher(b.url)
        // Plain: the byte scanner takes it. The repeat of T0 + 1000 with equal values is no conflict.
        const plain = {
          seq: 4,
          samples: [
            { ts: T0, values: { active_power_kw: 10 } },
            { ts: T0 + 1000, values: { active_power_kw: 11 } },
            { ts: T0, values: { active_power_kw: 12 } },
            { ts: T0 + 1000, values: { active_power_kw: 11 } },
            { ts: T0 + 2000, values: { active_power_kw: 13 } },
          ],
        }
        // With quality: decodePayload and points.
        const withQuality = {
          seq: 5,
          samples: [
            { ts: T0 + 5000, values: { gas_m3: 1, active_power_kw: 20 }, quality: { gas_m3: 'uncertain' } },
            { ts: T0 + 5000, values: { gas_m3: 2, active_power_kw: 20 }, quality: { gas_m3: 'uncertain' } },
          ],
        }
        expect(isValidPayloadFast(Buffer.from(JSON.stringify(plain)))).toBe(true)
        expect(isValidPayloadFast(Buffer.from(JSON.stringify(withQuality)))).toBe(false)
        await pub.publishAsync(TOPIC, JSON.stringify(plain), { qos: 1 })
        await pub.publishAsync(TOPIC, JSON.stringify(withQuality), { qos: 1 })
        await waitFor('both written', () => (ing.stats().writtenMessages === 2 && ing.stats().inFlight === 0 ? true : undefined))
        expect(ing.stats()).toMatchObject({ conflicts: 2, writtenSamples: 4 + 1, deadLettered: { INGEST_ERR_SAMPLE_CONFLICT: 2 } })
        expect(await stored(store, 'active_power_kw')).toEqual([
          [0, 10],
          [1000, 11],
          [2000, 13],
          [5000, 20],
        ])
        expect(await stored(store, 'gas_m3')).toEqual([[5000, 1]])
        const letters = ing.deadLetters.list({ reason: 'INGEST_ERR_SAMPLE_CONFLICT' })
        expect(letters.map((l) => l.message.split(' already has another value: ')[1])).toEqual([
          'gas_m3 stored 1, refused 2 (seq 5; the first value is kept)',
          'active_power_kw stored 10, refused 12 (seq 4; the first value is kept)',
        ])
        expect(JSON.parse(letters[0]?.payload ?? '')).toEqual({
          seq: 5,
          samples: [{ ts: T0 + 5000, values: { gas_m3: 2, active_power_kw: 20 }, quality: { gas_m3: 'uncertain' } }],
        })
      })
    })
  }

  it('InfluxDB: a conflict older than the window is not seen (the documented limit)', async () => {
    const b = await broker(256 * 1024)
    const store = await stores.influxdb()
    const ing = await ingest(b.url, store, { conflictWindowSamples: 10_000 })
    const pub = await publisher(b.url)
    await pub.publishAsync(TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { active_power_kw: 1 } }] }), { qos: 1 })
    // 10,000 newer samples of another device push T0 out of the window.
    const other = 'pw/v1/hb-steel/wuhan/rolling-1/other/data'
    for (let m = 0; m < 2; m++) {
      await pub.publishAsync(
        other,
        JSON.stringify({ seq: m, samples: Array.from({ length: 5000 }, (_, i) => ({ ts: T0 + m * 5000 + i, values: { gas_m3: 1 } })) }),
        { qos: 1 },
      )
    }
    await pub.publishAsync(TOPIC, JSON.stringify({ seq: 2, samples: [{ ts: T0, values: { active_power_kw: 2 } }] }), { qos: 1 })
    await waitFor('four written', () => (ing.stats().writtenMessages === 4 ? true : undefined))
    expect(ing.stats().conflicts).toBe(0)
    expect(await stored(store, 'active_power_kw')).toEqual([[0, 2]])
  }, 30_000)
})
