import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { startBroker, type RunningBroker } from '../broker/index.ts'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC, ingestStateTopic } from '../core/mqtt.ts'
import { PlantModelSchema } from '../core/plant.ts'
import type { TelemetryStore } from '../storage/store.ts'
import { createEmbeddedStore } from '../storage/embedded/index.ts'
import { IngestConfigSchema, type IngestConfig } from './config.ts'
import { startIngest, type RunningIngest } from './ingest.ts'
import { partitionOf } from './telemetry.ts'
import { controlledStore as wrapStore, startBareBroker, tempDir, waitFor, type BareBroker, type ControlledStore } from './test-helpers.ts'

const logger = process.env.DBG ? (await import('../core/logger.ts')).createLogger('t', 'debug') : silentLogger()
const T0 = Date.UTC(2025, 0, 6, 0, 0, 0)
const TOPIC = 'pw/v1/hb-steel/wuhan/rolling-1/main-meter/data'
const TAGS = { enterprise: 'hb-steel', site: 'wuhan', line: 'rolling-1', device: 'main-meter' }

let cleanups: (() => Promise<void> | void)[] = []
let held: ControlledStore[] = []
afterEach(async () => {
  // A failed assertion may leave a store holding its writes: release it so close() can flush.
  for (const s of held) s.release()
  held = []
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

function ingestConfig(over: Record<string, unknown> = {}): IngestConfig {
  return validateConfig(IngestConfigSchema, { flushIntervalMs: 20, retry: { initialMs: 10, maxMs: 40 }, ...over }) as IngestConfig
}

async function broker(): Promise<RunningBroker> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 4096, validatePayloads: true }, { logger })
  cleanups.push(() => b.close())
  return b
}

async function bareBroker(): Promise<BareBroker> {
  const b = await startBareBroker()
  cleanups.push(() => b.close())
  return b
}

function controlledStore(inner: TelemetryStore): ControlledStore {
  const store = wrapStore(inner)
  held.push(store)
  return store
}

function embeddedStore(): TelemetryStore {
  const dir = tempDir()
  const store = createEmbeddedStore({ path: join(dir.path, 'telemetry.db') })
  cleanups.push(async () => {
    await store.close()
    dir.cleanup()
  })
  return store
}

async function ingest(
  url: string,
  store: TelemetryStore,
  opts: { clientId?: string; config?: Record<string, unknown>; plant?: unknown; reconnectPeriodMs?: number } = {},
): Promise<RunningIngest> {
  const running = await startIngest({
    config: ingestConfig(opts.config),
    mqtt: { url, clientId: opts.clientId ?? `ingest-${Math.random().toString(16).slice(2)}`, keepaliveS: 30, reconnectPeriodMs: opts.reconnectPeriodMs ?? 100 },
    store,
    plant: opts.plant === undefined ? undefined : validateConfig(PlantModelSchema, opts.plant),
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

function message(seq: number, ts: number, values: Record<string, number> = { active_power_kw: 400 + seq }): string {
  return JSON.stringify({ seq, samples: [{ ts, values }] })
}

async function countStored(store: TelemetryStore, field = 'active_power_kw', device = TAGS.device): Promise<number> {
  const rows = await store.aggregate({
    measurement: 'telemetry',
    fields: [field],
    filter: { device },
    start: T0 - 3_600_000,
    stop: T0 + 3_600_000,
    fn: 'count',
  })
  return rows[0]?.value ?? 0
}

describe('ingest: broker → validate → batch → store', () => {
  it('publishes its counters (received, written, retried, dead-lettered per reason, lag) to pw/sys/ingest/{clientId}', async () => {
    const b = await broker()
    const store = controlledStore(embeddedStore())
    const ing = await ingest(b.url, store, { clientId: 'ingest-metrics/1', config: { stateIntervalMs: 30 } })
    expect(ing.stateTopic).toBe('pw/sys/ingest/ingest-metrics-1')
    expect(ingestStateTopic('ingest-metrics/1')).toBe(ing.stateTopic)
    const watcher = await publisher(b.url)
    const states: Record<string, unknown>[] = []
    watcher.on('message', (topic, payload) => {
      if (topic === ing.stateTopic) states.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>)
    })
    await watcher.subscribeAsync('pw/sys/ingest/#', { qos: 0 })
    const pub = await publisher(b.url)
    // One store failure: the batch is retried once (retried = 1) and then written.
    store.failNext(1)
    // 2 valid messages of 2 and 1 samples; 1 with an unknown quantity (the broker diverts it:
    // CORE_ERR_QUANTITY_UNKNOWN); 1 not JSON (CORE_ERR_PAYLOAD_JSON).
    await pub.publishAsync(
      TOPIC,
      JSON.stringify({
        seq: 1,
        samples: [
          { ts: T0, values: { active_power_kw: 1 } },
          { ts: T0 + 1000, values: { active_power_kw: 2 } },
        ],
      }),
      { qos: 1 },
    )
    await pub.publishAsync(TOPIC, message(2, T0 + 2000), { qos: 1 })
    await pub.publishAsync(TOPIC, message(3, T0 + 3000, { no_such_quantity: 1 }), { qos: 1 })
    await pub.publishAsync(TOPIC, 'not json', { qos: 1 })
    // received 4 = 2 data messages + 2 dead-letter envelopes from the broker.
    const expected = {
      clientId: 'ingest-metrics/1',
      connected: true,
      received: 4,
      writtenMessages: 2,
      writtenSamples: 3,
      writtenPoints: 3,
      retried: 1,
      deadLettered: { CORE_ERR_QUANTITY_UNKNOWN: 1, CORE_ERR_PAYLOAD_JSON: 1 },
      skipped: 0,
      inFlight: 0,
      lagMs: 0,
      conflicts: 0,
      disconnects: 0,
    }
    const state = await waitFor('a state message with every count', () => states.find((s) => s.writtenPoints === 3 && s.received === 4 && s.inFlight === 0))
    expect(state).toMatchObject(expected)
    expect(typeof state.ts).toBe('number')
    const { clientId: _, ...counters } = expected
    const { writes, writeMsLast, writeMsMax, writeMsSum, batches, lastBatchPoints, batchPointsSum, ...rest } = ing.stats()
    expect(rest).toEqual(counters)
    // Store writes and batch sizes: the 3 points went in one or two batches, each one write (this
    // store takes points only); the failed write is not timed.
    expect(batchPointsSum).toBe(3)
    expect([1, 2]).toContain(batches)
    expect(writes).toBe(batches)
    expect(lastBatchPoints).toBe(batches === 1 ? 3 : 1)
    expect(writeMsMax).toBeGreaterThanOrEqual(writeMsLast)
    expect(writeMsSum).toBeGreaterThanOrEqual(writeMsMax)
    // The state is retained: a reader that comes later gets it at once.
    const late = await publisher(b.url)
    const retained = new Promise<Record<string, unknown>>((resolve) =>
      late.on('message', (_t, p) => resolve(JSON.parse(p.toString('utf8')) as Record<string, unknown>)),
    )
    await late.subscribeAsync(ing.stateTopic, { qos: 0 })
    expect(await retained).toMatchObject({ clientId: 'ingest-metrics/1', received: 4 })
    // Closing publishes a last state marked disconnected.
    await ing.close()
    await waitFor('the closing state', () => (states.at(-1)?.connected === false ? true : undefined))
    expect(states.at(-1)).toMatchObject({ connected: false, writtenPoints: 3 })
  })

  it('reports lag and messages in flight while the store hangs', async () => {
    const b = await broker()
    const store = controlledStore(embeddedStore())
    const ing = await ingest(b.url, store)
    const pub = await publisher(b.url)
    store.hold()
    await pub.publishAsync(TOPIC, message(1, T0), { qos: 1 })
    await pub.publishAsync(TOPIC, message(2, T0 + 1000), { qos: 1 })
    await waitFor('two in flight', () => (ing.stats().inFlight === 2 ? true : undefined))
    await new Promise((r) => setTimeout(r, 120))
    // The oldest message has waited at least the 120 ms slept since both were in flight.
    expect(ing.stats().lagMs).toBeGreaterThanOrEqual(120)
    expect(ing.stats()).toMatchObject({ received: 2, writtenMessages: 0 })
    store.release()
    await waitFor('written', () => (ing.stats().writtenMessages === 2 ? true : undefined))
    expect(ing.stats()).toMatchObject({ inFlight: 0, lagMs: 0, writtenPoints: 2 })
  })

  it('stores every value of a valid message with seq and quality markers, numbers as sent', async () => {
    const b = await broker()
    const store = embeddedStore()
    const ing = await ingest(b.url, store)
    const pub = await publisher(b.url)
    const payload = {
      seq: 1042,
      samples: [
        { ts: T0, values: { active_power_kw: 412.5, energy_import_kwh: 1834021.7, voltage_l1_v: 231.25 } },
        {
          ts: T0 + 1000,
          values: { active_power_kw: -12.75, energy_import_kwh: 1834021.9, voltage_l1_v: 229.5, power_factor: 0.93 },
          quality: { voltage_l1_v: 'uncertain', power_factor: 'bad', active_power_kw: 'good' },
        },
      ],
    }
    await pub.publishAsync(TOPIC, JSON.stringify(payload), { qos: 1 })
    await waitFor('two points written', () => (ing.stats().writtenPoints === 2 ? true : undefined))

    const latest = await store.latest({ measurement: 'telemetry', filter: { device: 'main-meter' } })
    const byField = Object.fromEntries(latest.map((r) => [r.field, { ts: r.ts, value: r.value }]))
    expect(byField).toEqual({
      active_power_kw: { ts: T0 + 1000, value: -12.75 },
      energy_import_kwh: { ts: T0 + 1000, value: 1834021.9 },
      voltage_l1_v: { ts: T0 + 1000, value: 229.5 },
      seq: { ts: T0 + 1000, value: 1042 },
      q_voltage_l1_v: { ts: T0 + 1000, value: 1 },
      q_power_factor: { ts: T0 + 1000, value: 2 },
    })
    expect(latest[0]?.tags).toEqual(TAGS)
    const first = await store.aggregate({ measurement: 'telemetry', fields: ['active_power_kw', 'energy_import_kwh'], start: T0, stop: T0 + 2000, fn: 'first' })
    expect(Object.fromEntries(first.map((r) => [r.field, r.value]))).toEqual({ active_power_kw: 412.5, energy_import_kwh: 1834021.7 })
    expect(ing.stats()).toMatchObject({ received: 1, writtenMessages: 1, writtenSamples: 2, writtenPoints: 2, retried: 0, inFlight: 0, deadLettered: {} })
  })

  it('records what the broker diverts, refuses hostile topics, and keeps storing valid traffic', async () => {
    const b = await broker()
    const store = embeddedStore()
    const ing = await ingest(b.url, store)
    const pub = await publisher(b.url)
    const bad: [string, string | Buffer, string][] = [
      [TOPIC, 'this is not json', 'CORE_ERR_PAYLOAD_JSON'],
      [TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { active_power_kw: 'high' } }] }), 'CORE_ERR_PAYLOAD_SCHEMA'],
      [TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { watts: 5 } }] }), 'CORE_ERR_QUANTITY_UNKNOWN'],
      [TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { power_factor: 7 } }] }), 'CORE_ERR_VALUE_RANGE'],
      [TOPIC, Buffer.alloc(5000, 0x61), 'CORE_ERR_PAYLOAD_SIZE'],
      ['pw/v1//x/y/z/data', message(1, T0), 'CORE_ERR_TOPIC'],
      ['pw/v1/HB-steel/wuhan/rolling-1/main-meter/data', message(1, T0), 'CORE_ERR_TOPIC'],
      ['pw/v1/hb-steel/wu han/rolling-1/main-meter/data', message(1, T0), 'CORE_ERR_TOPIC'],
    ]
    // Every bad publish is acknowledged to its sender: a refused one would be replayed forever.
    for (const [topic, payload] of bad) await pub.publishAsync(topic, payload, { qos: 1 })
    await pub.publishAsync(TOPIC, message(7, T0 + 7000), { qos: 1 })

    await waitFor('all dead letters and the valid message', () =>
      ing.stats().deadLettered.CORE_ERR_TOPIC === 3 && ing.stats().writtenMessages === 1 ? true : undefined,
    )
    expect(ing.deadLetters.counts()).toEqual({
      CORE_ERR_PAYLOAD_JSON: 1,
      CORE_ERR_PAYLOAD_SCHEMA: 1,
      CORE_ERR_QUANTITY_UNKNOWN: 1,
      CORE_ERR_VALUE_RANGE: 1,
      CORE_ERR_PAYLOAD_SIZE: 1,
      CORE_ERR_TOPIC: 3,
    })
    const entries = ing.deadLetters.list()
    expect(entries).toHaveLength(8)
    expect(entries.every((e) => e.source === 'broker')).toBe(true)
    // Newest first: the last bad publish heads the list.
    expect(entries.map((e) => e.reason)).toEqual(bad.map(([, , reason]) => reason).reverse())
    expect(entries.find((e) => e.reason === 'CORE_ERR_PAYLOAD_JSON')).toMatchObject({ topic: TOPIC, payload: 'this is not json', payloadBytes: 16 })
    expect(entries.find((e) => e.reason === 'CORE_ERR_PAYLOAD_SIZE')).toMatchObject({ payloadBytes: 5000 })
    expect(
      entries
        .filter((e) => e.reason === 'CORE_ERR_TOPIC')
        .map((e) => e.topic)
        .sort(),
    ).toEqual(
      bad
        .slice(5)
        .map(([t]) => t)
        .sort(),
    )

    // $SYS is the broker's: the publish is refused and that connection closed, nothing dead-lettered.
    const hostile = await publisher(b.url)
    let acknowledged = false
    hostile.publish('$SYS/x', 'spoofed', { qos: 1 }, (err) => {
      if (!err) acknowledged = true
    })
    await waitFor('the hostile connection closed', () => (hostile.connected ? undefined : true))
    expect(acknowledged).toBe(false)
    expect(b.stats().rejected).toBe(1)

    await pub.publishAsync(TOPIC, message(8, T0 + 8000), { qos: 1 })
    await waitFor('the next valid message', () => (ing.stats().writtenMessages === 2 ? true : undefined))
    expect(await countStored(store)).toBe(2)
    const seq = await store.aggregate({ measurement: 'telemetry', fields: ['seq'], start: T0, stop: T0 + 10_000, fn: 'sum' })
    expect(seq[0]?.value).toBe(15)
    expect(ing.deadLetters.list().length).toBe(8)
  })

  it('validates again behind a broker that does not, and applies the strict plant model', async () => {
    const b = await bareBroker()
    const store = embeddedStore()
    const plant = { strict: true, enterprises: [{ id: 'hb-steel', sites: [{ id: 'wuhan', lines: [{ id: 'rolling-1', devices: [{ id: 'main-meter' }] }] }] }] }
    const ing = await ingest(b.url, store, { plant, config: { maxPayloadBytes: 4096 } })
    const pub = await publisher(b.url)
    const bad: [string, string | Buffer, string][] = [
      [TOPIC, '{"seq": 1, "samples": [', 'CORE_ERR_PAYLOAD_JSON'],
      [TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { active_power_kw: '412' } }] }), 'CORE_ERR_PAYLOAD_SCHEMA'],
      [TOPIC, JSON.stringify({ seq: 1, samples: [{ ts: T0, values: { kilowatts: 5 } }] }), 'CORE_ERR_QUANTITY_UNKNOWN'],
      [TOPIC, Buffer.alloc(5000, 0x7b), 'CORE_ERR_PAYLOAD_SIZE'],
      // No empty level here: Aedes 1.2 itself drops a persistent subscriber that a `+` matched to an
      // empty level (its persistence and its router disagree: "no such packet"). PlantWatt's broker
      // diverts such topics before routing, as the previous test shows.
      ['pw/v1/hb-steel/wuhan/Rolling-1/main-meter/data', message(1, T0), 'CORE_ERR_TOPIC'],
      ['pw/v1/hb-steel/wuhan/rolling-1/main meter/data', message(1, T0), 'CORE_ERR_TOPIC'],
      ['pw/v1/hb-steel/wuhan/rolling-1/ghost-meter/data', message(1, T0), 'INGEST_ERR_UNKNOWN_DEVICE'],
      [DEAD_LETTER_TOPIC, '{"forged": true}', 'INGEST_ERR_DEAD_LETTER_ENVELOPE'],
    ]
    for (const [topic, payload] of bad) await pub.publishAsync(topic, payload, { qos: 1 })
    await pub.publishAsync(TOPIC, message(3, T0 + 3000), { qos: 1 })

    await waitFor('all messages handled', () => (ing.stats().received === bad.length + 1 && ing.stats().inFlight === 0 ? true : undefined))
    expect(ing.deadLetters.list().map((e) => [e.reason, e.source, e.topic])).toEqual(bad.map(([topic, , reason]) => [reason, 'ingest', topic]).reverse())
    expect(ing.stats().deadLettered).toEqual({
      CORE_ERR_PAYLOAD_JSON: 1,
      CORE_ERR_PAYLOAD_SCHEMA: 1,
      CORE_ERR_QUANTITY_UNKNOWN: 1,
      CORE_ERR_PAYLOAD_SIZE: 1,
      CORE_ERR_TOPIC: 2,
      INGEST_ERR_UNKNOWN_DEVICE: 1,
      INGEST_ERR_DEAD_LETTER_ENVELOPE: 1,
    })
    expect(ing.stats().writtenMessages).toBe(1)
    expect(await countStored(store)).toBe(1)
    expect(await countStored(store, 'active_power_kw', 'ghost-meter')).toBe(0)
  })

  it('acknowledges a message to the broker only after the store write resolved', async () => {
    const b = await bareBroker()
    const store = controlledStore(embeddedStore())
    const events: string[] = []
    b.aedes.on('ack', (_packet, client) => {
      if (client.id === 'ingest-ack') events.push('puback')
    })
    await ingest(b.url, store, { clientId: 'ingest-ack' })
    const pub = await publisher(b.url)
    store.hold()
    await pub.publishAsync(TOPIC, message(1, T0), { qos: 1 })
    await waitFor('the write to start', () => (store.attempts.length === 1 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(events).toEqual([])
    events.push('write released')
    store.release()
    await waitFor('the PUBACK', () => (events.includes('puback') ? true : undefined))
    expect(events).toEqual(['write released', 'puback'])
    expect(await countStored(store)).toBe(1)
  })

  it('redelivers to the next instance a message taken but never written when ingest dies', async () => {
    const b = await bareBroker()
    const store = embeddedStore()
    const stuck = controlledStore(store)
    stuck.hold()
    const clients = new Map<string, Duplex>()
    b.aedes.on('client', (client) => clients.set(client.id, client.conn))
    // A long reconnect period: once its connection is cut, the first instance stays away like a dead process.
    const first = await ingest(b.url, stuck, { clientId: 'ingest-crash', reconnectPeriodMs: 60_000 })
    const pub = await publisher(b.url)
    await pub.publishAsync(TOPIC, message(1, T0), { qos: 1 })
    await waitFor('the first instance to take it', () => (stuck.attempts.length === 1 ? true : undefined))
    const conn = clients.get('ingest-crash')
    expect(conn).toBeDefined()
    conn!.destroy()
    await waitFor('the first instance disconnected', () => (first.stats().connected ? undefined : true))

    const second = await ingest(b.url, store, { clientId: 'ingest-crash' })
    await waitFor('the redelivered message written', () => (second.stats().writtenMessages === 1 ? true : undefined))
    expect(await countStored(store)).toBe(1)
    stuck.release()
  })

  it('retries a failing store with backoff until it succeeds, writing each (series, ts) once', async () => {
    const b = await broker()
    const store = controlledStore(embeddedStore())
    store.failNext(3)
    const ing = await ingest(b.url, store, { config: { flushIntervalMs: 50 } })
    const pub = await publisher(b.url)
    for (let seq = 1; seq <= 5; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    await waitFor('five messages written', () => (ing.stats().writtenMessages === 5 ? true : undefined))
    expect(ing.stats().retried).toBe(3)
    // The first batch was retried whole, never split or dropped.
    expect(store.attempts[1]).toEqual(store.attempts[0])
    expect(store.attempts[3]).toEqual(store.attempts[0])
    expect(await countStored(store)).toBe(5)
    expect(await countStored(store, 'seq')).toBe(5)
    const sum = await store.aggregate({ measurement: 'telemetry', fields: ['active_power_kw'], start: T0, stop: T0 + 10_000, fn: 'sum' })
    expect(sum[0]?.value).toBe(401 + 402 + 403 + 404 + 405)
    expect(ing.stats().inFlight).toBe(0)
  })

  it('stops taking messages at maxInFlightMessages while the store hangs, and loses none', async () => {
    const b = await broker()
    const store = controlledStore(embeddedStore())
    store.hold()
    const ing = await ingest(b.url, store, { config: { maxInFlightMessages: 5, batchSize: 2 } })
    const pub = await publisher(b.url)
    for (let seq = 1; seq <= 20; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    await waitFor('the in-flight bound reached', () => (ing.stats().inFlight === 5 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(ing.stats()).toMatchObject({ received: 5, inFlight: 5, writtenMessages: 0 })
    expect(ing.stats().lagMs).toBeGreaterThanOrEqual(300)
    store.release()
    await waitFor('all twenty written', () => (ing.stats().writtenMessages === 20 ? true : undefined))
    expect(ing.stats()).toMatchObject({ received: 20, inFlight: 0, lagMs: 0 })
    expect(await countStored(store)).toBe(20)
    // Batches carry at most batchSize points (one per sample).
    expect(Math.max(...store.attempts.map((a) => a.length))).toBe(2)
  })

  it('loses nothing when ingest stops while publishing goes on, and restarts with the same client id', async () => {
    const b = await broker()
    const store = embeddedStore()
    const pub = await publisher(b.url)
    const first = await ingest(b.url, store, { clientId: 'ingest-restart' })
    for (let seq = 1; seq <= 5; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    // The broker's PUBACK to the publisher can come before ingest has the message: wait for it, or
    // close() leaves it unacknowledged and the second instance rightly gets it again.
    await waitFor('the first five taken', () => (first.stats().received === 5 ? true : undefined))
    await first.close()
    for (let seq = 6; seq <= 15; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    const second = await ingest(b.url, store, { clientId: 'ingest-restart' })
    for (let seq = 16; seq <= 20; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    await waitFor('all twenty stored', async () => ((await countStored(store)) === 20 ? true : undefined))
    const seq = await store.aggregate({ measurement: 'telemetry', fields: ['seq'], start: T0, stop: T0 + 60_000, fn: 'sum' })
    expect(seq[0]?.value).toBe(210)
    expect(second.stats().writtenMessages).toBe(15)
  })

  it('close() writes what is pending before disconnecting', async () => {
    const b = await broker()
    const store = embeddedStore()
    const ing = await ingest(b.url, store, { config: { flushIntervalMs: 60_000 } })
    const pub = await publisher(b.url)
    for (let seq = 1; seq <= 3; seq++) await pub.publishAsync(TOPIC, message(seq, T0 + seq * 1000), { qos: 1 })
    await waitFor('three received', () => (ing.stats().received === 3 ? true : undefined))
    expect(await countStored(store)).toBe(0)
    await ing.close()
    expect(await countStored(store)).toBe(3)
    expect(ing.stats()).toMatchObject({ writtenMessages: 3, inFlight: 0, connected: false })
  })

  it('with partitions, each device is written by exactly one instance', async () => {
    const b = await broker()
    const store = embeddedStore()
    const devices = ['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6']
    const owners = devices.map((d) => partitionOf(`hb-steel/wuhan/rolling-1/${d}`, 2))
    expect(new Set(owners).size).toBe(2)
    const p0 = await ingest(b.url, store, { config: { partition: { index: 0, count: 2 } } })
    const p1 = await ingest(b.url, store, { config: { partition: { index: 1, count: 2 } } })
    const pub = await publisher(b.url)
    for (const d of devices) await pub.publishAsync(`pw/v1/hb-steel/wuhan/rolling-1/${d}/data`, message(1, T0), { qos: 1 })
    const expected0 = owners.filter((o) => o === 0).length
    await waitFor('every device written', () => (p0.stats().writtenMessages + p1.stats().writtenMessages === devices.length ? true : undefined))
    expect(p0.stats()).toMatchObject({ writtenMessages: expected0, skipped: devices.length - expected0 })
    expect(p1.stats()).toMatchObject({ writtenMessages: devices.length - expected0, skipped: expected0 })
    for (const d of devices) expect(await countStored(store, 'active_power_kw', d)).toBe(1)
  })

  it('refuses a partition index outside the partition count', async () => {
    const b = await broker()
    await expect(ingest(b.url, embeddedStore(), { config: { partition: { index: 2, count: 2 } } })).rejects.toMatchObject({ code: 'INGEST_ERR_CONFIG' })
  })

  it('refuses partition and sharedGroup together, and fails at start when the broker has no shared subscriptions', async () => {
    const b = await broker()
    await expect(ingest(b.url, embeddedStore(), { config: { partition: { index: 0, count: 2 }, sharedGroup: 'ingest' } })).rejects.toMatchObject({
      code: 'INGEST_ERR_CONFIG',
    })
    // PlantWatt's broker (Aedes) refuses $share/… (SUBACK 0x80): a clear error, not a subscription that never delivers.
    const err = await ingest(b.url, embeddedStore(), { config: { sharedGroup: 'ingest' } }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    )
    expect(err?.code).toBe('INGEST_ERR_SUBSCRIBE')
    expect(err?.message).toContain('$share/ingest/pw/v1/+/+/+/+/data')
    expect(err?.message).toContain('ingest.partition')
  })

  it('counts every disconnect with its reason: a session taken over, a CONNACK refusal on reconnect', async () => {
    let allow = true
    /** Connections admitted while allow is false: the intruder's. */
    let passes = 0
    const authenticate = (): boolean => allow || passes-- > 0
    const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 4096, validatePayloads: true }, { logger, authenticate })
    cleanups.push(() => b.close())
    const warnings: { obj: Record<string, unknown>; msg: string }[] = []
    const warnLogger = { ...logger, warn: (obj: Record<string, unknown>, msg: string) => void warnings.push({ obj, msg }) } as typeof logger
    const ing = await startIngest({
      config: ingestConfig(),
      mqtt: { url: b.url, clientId: 'ingest-kicked', keepaliveS: 30, reconnectPeriodMs: 100 },
      store: embeddedStore(),
      logger: warnLogger,
    })
    cleanups.push(() => ing.close())
    expect(ing.stats()).toMatchObject({ connected: true, disconnects: 0 })
    expect(ing.stats().lastConnectionError).toBeUndefined()
    // [MQTT-3.1.4-2] another client with the same id takes the session over: the broker closes ingest's connection.
    for (let n = 1; n <= 2; n++) {
      const intruder = await mqtt.connectAsync(b.url, { clientId: 'ingest-kicked', clean: false, reconnectPeriod: 0 })
      await waitFor(`disconnect ${n} counted`, () => (ing.stats().disconnects === n ? true : undefined))
      await intruder.endAsync(true)
      await waitFor('ingest back', () => (ing.stats().connected ? true : undefined))
    }
    expect(ing.stats().lastConnectionError).toMatchObject({ code: 'INGEST_ERR_DISCONNECTED' })
    expect(ing.stats().lastConnectionError?.message).toContain(`disconnected from ${b.url}`)
    // A warning for every disconnect, not only the first.
    expect(warnings.filter((w) => w.obj.code === 'INGEST_ERR_DISCONNECTED').map((w) => w.obj.disconnects)).toEqual([1, 2])
    // Now the broker refuses ingest: its reconnects are refused with CONNACK 5 (not authorized).
    allow = false
    passes = 1
    const before = Date.now()
    const intruder = await mqtt.connectAsync(b.url, { clientId: 'ingest-kicked', clean: false, reconnectPeriod: 0 })
    await intruder.endAsync(true)
    await waitFor('the refusal recorded', () => (ing.stats().lastConnectionError?.code === 'INGEST_ERR_BROKER_REFUSED' ? true : undefined))
    const refused = ing.stats()
    expect(refused).toMatchObject({ connected: false, disconnects: 3 })
    expect(refused.lastConnectionError?.message).toContain('CONNACK return code 5')
    expect(refused.lastConnectionError?.at).toBeGreaterThanOrEqual(before)
    allow = true
    await waitFor('reconnected once allowed', () => (ing.stats().connected ? true : undefined))
    expect(ing.stats().disconnects).toBe(3)
  })

  it('fails to start with INGEST_ERR_CONNECT when the broker refuses the connection', async () => {
    const b = await startBroker({ host: '127.0.0.1', port: 0, maxPayloadBytes: 4096, validatePayloads: true }, { logger, authenticate: () => false })
    cleanups.push(() => b.close())
    const started = Date.now()
    await expect(ingest(b.url, embeddedStore())).rejects.toMatchObject({ code: 'INGEST_ERR_CONNECT' })
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
