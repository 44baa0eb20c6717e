import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { decodePayload, type Payload } from '../core/payload.ts'
import { startEdgeAgent, type RunningEdgeAgent } from './agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from './testing/sdm630-fixtures.ts'
import { startTestModbusServer, type TestModbusServer, type TestServerOptions } from './testing/modbus-server.ts'
import { startTestBroker as startBroker, waitFor, type TestBroker as Broker } from './testing/mqtt.ts'

interface Received {
  topic: string
  qos: number
  retain: boolean
  body: unknown
  at: number
}

async function subscribe(url: string): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, { clientId: `test-sub-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 50 })
  const messages: Received[] = []
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, qos: packet.qos, retain: packet.retain, body: JSON.parse(payload.toString('utf8')), at: Date.now() })
  })
  await client.subscribeAsync('pw/v1/#', { qos: 1 })
  return { client, messages }
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function modbus(options: Partial<TestServerOptions> = {}): Promise<TestModbusServer> {
  const s = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } }, ...options })
  cleanups.push(() => s.close())
  return s
}

function edgeConfig(devices: { device: string; port: number; pollIntervalMs?: number; timeoutMs?: number }[], over: Partial<EdgeConfig> = {}): EdgeConfig {
  return validateConfig(
    EdgeConfigSchema,
    {
      agentId: 'edge-t',
      buffer: 'memory', // the disk buffer has its own tests (disk-outbox, agent.crash, test/faults/edge-*)
      ...over,
      devices: devices.map((d) => ({
        enterprise: 'acme',
        site: 'wuhan',
        line: 'rolling-1',
        device: d.device,
        driver: 'modbus',
        profile: 'eastron-sdm630',
        pollIntervalMs: d.pollIntervalMs ?? 40,
        retries: 0,
        connection: { host: '127.0.0.1', port: d.port, timeoutMs: d.timeoutMs ?? 200 },
      })),
    },
    'test',
  ) as EdgeConfig
}

async function agent(config: EdgeConfig, broker: Broker): Promise<RunningEdgeAgent> {
  const a = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100, clientId: 'edge-t-test' } })
  cleanups.push(() => a.close())
  return a
}

const dataOf = (messages: Received[], device: string): (Payload & { qos: number })[] =>
  messages.filter((m) => m.topic === `pw/v1/acme/wuhan/rolling-1/${device}/data`).map((m) => ({ ...decodePayload(JSON.stringify(m.body)), qos: m.qos }))
const statesOf = (messages: Received[], device: string) =>
  messages.filter((m) => m.topic === `pw/v1/acme/wuhan/rolling-1/${device}/state`).map((m) => m.body as { status: string; agent: string; ts: number })
const seqsOf = (payloads: Payload[]) => payloads.map((p) => p.seq)
const consecutiveFrom0 = (seqs: number[]) => seqs.every((s, i) => s === i)

describe('edge agent: Modbus TCP → MQTT', () => {
  it("with publishIntervalMs, batches each device's polls into one message per interval and loses none; close sends the rest", async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const meter = await modbus()
    const a = await agent(edgeConfig([{ device: 'meter-a', port: meter.port, pollIntervalMs: 20 }], { publishIntervalMs: 400 }), broker)
    await waitFor('3 messages', () => dataOf(sub.messages, 'meter-a').length >= 3, 10_000)
    const batched = dataOf(sub.messages, 'meter-a')
    expect(consecutiveFrom0(seqsOf(batched))).toBe(true)
    // 400 ms of 20 ms polls: ~20 samples per message (the first interval starts with the connect;
    // a loaded machine polls slower, hence the low bound — unbatched, every message has 1)
    for (const msg of batched.slice(1, 3)) expect(msg.samples.length).toBeGreaterThanOrEqual(4)
    const received = (m: Received[]) => dataOf(m, 'meter-a').flatMap((p) => p.samples.map((s) => s.ts))
    await a.close()
    // What was polled after the last tick went out on close: every read published, once, in order.
    const all = received(sub.messages)
    expect(all.length).toBe(a.status().devices[0]!.publishedSamples)
    expect(all.length).toBe(a.status().devices[0]!.reads)
    expect([...all].sort((x, y) => x - y)).toEqual(all)
    expect(new Set(all).size).toBe(all.length)

    // Without it, each poll is its own message.
    const sub2 = await subscribe(broker.url)
    cleanups.push(() => sub2.client.endAsync(true))
    const b = await agent(edgeConfig([{ device: 'meter-a', port: meter.port, pollIntervalMs: 200 }], { agentId: 'edge-u' }), broker)
    await waitFor('4 messages', () => dataOf(sub2.messages, 'meter-a').length >= 4, 10_000)
    expect(
      dataOf(sub2.messages, 'meter-a')
        .slice(0, 4)
        .every((p) => p.samples.length === 1),
    ).toBe(true)
    await b.close()
  })

  it('publishes canonical values with QoS 1 and continuous seq; an exception leaves the other points published', async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const meterA = await modbus()
    // MB §7 exception 04 (server device failure) for the totals block (0x34–0x4F) of meter B only;
    // an 02 would be learned as a hole and read around (modbus/driver.test.ts)
    const meterB = await modbus({ exceptions: [{ table: 'input', from: 0x40, to: 0x41, code: 0x04 }] })
    const a = await agent(
      edgeConfig([
        { device: 'meter-a', port: meterA.port },
        { device: 'meter-b', port: meterB.port },
      ]),
      broker,
    )

    await waitFor('3 messages per meter', () => dataOf(sub.messages, 'meter-a').length >= 3 && dataOf(sub.messages, 'meter-b').length >= 3)

    const fromA = dataOf(sub.messages, 'meter-a')
    expect(consecutiveFrom0(seqsOf(fromA))).toBe(true)
    for (const msg of fromA) {
      expect(msg.qos).toBe(1)
      for (const s of msg.samples) {
        expect(closeTo(s.values, SDM630_VALUES)).toEqual([])
        expect(s.quality).toBeUndefined()
        expect(Math.abs(s.ts - Date.now())).toBeLessThan(10_000)
      }
    }
    const failed = [
      'active_power_kw',
      'apparent_power_kva',
      'reactive_power_kvar',
      'power_factor',
      'frequency_hz',
      'energy_import_kwh',
      'energy_export_kwh',
      'reactive_energy_import_kvarh',
      'reactive_energy_export_kvarh',
    ]
    const fromB = dataOf(sub.messages, 'meter-b')
    expect(consecutiveFrom0(seqsOf(fromB))).toBe(true)
    for (const msg of fromB) {
      expect(msg.qos).toBe(1)
      for (const s of msg.samples) {
        expect(closeTo(s.values, Object.fromEntries(Object.entries(SDM630_VALUES).filter(([k]) => !failed.includes(k))))).toEqual([])
        expect(s.quality).toEqual(Object.fromEntries(failed.map((q) => [q, 'bad'])))
      }
    }
    // births: the agent on its own topic, each device naming the agent; all retained
    await waitFor('births', () => statesOf(sub.messages, 'edge-t').length > 0 && statesOf(sub.messages, 'meter-b').length > 0)
    expect(statesOf(sub.messages, 'edge-t')[0]).toMatchObject({ status: 'online', agent: 'edge-t' })
    expect(statesOf(sub.messages, 'meter-a')[0]).toMatchObject({ status: 'online', agent: 'edge-t' })

    const status = a.status()
    expect(status.stateTopic).toBe('pw/v1/acme/wuhan/rolling-1/edge-t/state')
    const [sa, sb] = status.devices
    expect(sa).toMatchObject({ key: 'acme/wuhan/rolling-1/meter-a', connected: true, readErrors: 0, pointErrors: 0, lastError: null })
    expect(sa!.reads).toBeGreaterThanOrEqual(3)
    expect(sb!.pointErrors).toBeGreaterThanOrEqual(7 * 3)
    expect(sb!.lastError).toMatchObject({ code: 'EDGE_ERR_MODBUS_EXCEPTION' })
    const delivered = fromA.reduce((n, p) => n + p.samples.length, 0)
    expect(sa!.publishedSamples).toBeGreaterThanOrEqual(delivered)

    await a.close()
    const totalA = dataOf(sub.messages, 'meter-a').reduce((n, p) => n + p.samples.length, 0)
    expect(a.status().devices[0]!.publishedSamples).toBe(totalA)
    // death on close: retained offline for the agent and the devices
    await waitFor(
      'offline states',
      () => statesOf(sub.messages, 'edge-t').at(-1)?.status === 'offline' && statesOf(sub.messages, 'meter-a').at(-1)?.status === 'offline',
    )
    const late = await subscribe(broker.url)
    cleanups.push(() => late.client.endAsync(true))
    await waitFor('retained states', () => late.messages.filter((m) => m.retain).length >= 3)
    expect(statesOf(late.messages, 'edge-t')).toEqual([expect.objectContaining({ status: 'offline', agent: 'edge-t' })])
    // a clean close sends DISCONNECT, so the broker drops the will: one offline, not two
    expect(statesOf(sub.messages, 'edge-t').map((s) => s.status)).toEqual(['online', 'offline'])
  })

  it('reconnects after the Modbus server is closed and restarted on the same port, seq unbroken', async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const meter = await modbus()
    const a = await agent(edgeConfig([{ device: 'meter-a', port: meter.port }]), broker)
    await waitFor('first message', () => dataOf(sub.messages, 'meter-a').length >= 2)

    await meter.close()
    await waitFor('read errors', () => (a.status().devices[0]?.readErrors ?? 0) >= 2)
    expect(a.status().devices[0]).toMatchObject({ connected: false, lastError: { code: expect.stringMatching(/^EDGE_ERR_(CONNECT|CONNECTION|TIMEOUT)$/) } })
    await waitFor('offline state', () => statesOf(sub.messages, 'meter-a').at(-1)?.status === 'offline')

    const restarted = await modbus({ port: meter.port })
    restarted.setWords(1, 'input', 0x00, [0x4367, 0x0000]) // V L1 now 231.0
    await waitFor('values after restart', () => dataOf(sub.messages, 'meter-a').some((p) => p.samples.some((s) => s.values.voltage_l1_v === 231)))
    await waitFor('online state', () => statesOf(sub.messages, 'meter-a').at(-1)?.status === 'online')
    expect(a.status().devices[0]?.connected).toBe(true)
    expect(consecutiveFrom0(seqsOf(dataOf(sub.messages, 'meter-a')))).toBe(true)
  })

  it('buffers while the broker is down and delivers every sample afterwards, in order, seq unbroken', async () => {
    const broker = await startBroker()
    const sub = await subscribe(broker.url)
    const meter = await modbus()
    const a = await agent(edgeConfig([{ device: 'meter-a', port: meter.port, pollIntervalMs: 20 }]), broker)
    await waitFor('first message', () => dataOf(sub.messages, 'meter-a').length >= 1)
    // Outage: first cut the agent off, let the subscriber receive what the broker already acked,
    // then take the broker down.
    broker.stopAccepting()
    broker.drop('edge-t-test')
    const seen = (payloads: Payload[]) => new Set(payloads.flatMap((p) => p.samples.map((s) => s.ts))).size
    await waitFor(
      'acked samples forwarded',
      () => !a.status().mqtt.connected && seen(dataOf(sub.messages, 'meter-a')) === a.status().devices[0]!.publishedSamples,
    )
    await sub.client.endAsync(true)
    await broker.close()
    const readsAtOutage = a.status().devices[0]!.reads
    await waitFor('samples buffered', () => a.status().devices[0]!.outboxDepth >= 10)
    expect(a.status().mqtt.connected).toBe(false)

    // The agent is let in only once the new subscriber listens, so that it sees the whole backlog.
    let subscribed = false
    const again = await startBroker(broker.port, (id) => id !== 'edge-t-test' || subscribed)
    cleanups.push(() => again.close())
    const sub2 = await subscribe(again.url)
    cleanups.push(() => sub2.client.endAsync(true))
    subscribed = true
    await waitFor('backlog delivered', () => a.status().devices[0]!.outboxDepth === 0 && a.status().devices[0]!.reads > readsAtOutage + 10)
    await a.close()
    const reads = a.status().devices[0]!.reads
    const before = dataOf(sub.messages, 'meter-a')
    // the broker acknowledges the agent before it forwards to subscribers: wait for the forward
    await waitFor('every sample at the subscriber', () => seen([...before, ...dataOf(sub2.messages, 'meter-a')]) === reads)

    const after = dataOf(sub2.messages, 'meter-a')
    // A message in flight at the outage may arrive twice (at least once); never a gap.
    const seqs = [...new Set([...seqsOf(before), ...seqsOf(after)])].sort((x, y) => x - y)
    expect(consecutiveFrom0(seqs)).toBe(true)
    expect(after.some((p) => p.samples.length >= 10)).toBe(true) // the backlog went out batched
    const ts = [...before, ...after].flatMap((p) => p.samples.map((s) => s.ts))
    const unique = [...new Set(ts)]
    expect(unique).toEqual([...unique].sort((x, y) => x - y))
    expect(unique).toHaveLength(reads)
    expect(a.status().devices[0]!.publishedSamples).toBeGreaterThanOrEqual(reads)
    expect(a.status().devices[0]!.dropped).toBe(0)
  })

  it('publishes the last will when the agent drops off the broker, and its birth again on reconnect', async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const meter = await modbus()
    await agent(edgeConfig([{ device: 'meter-a', port: meter.port }]), broker)
    await waitFor('birth', () => statesOf(sub.messages, 'edge-t').length >= 1)
    broker.drop('edge-t-test') // the broker drops it without a DISCONNECT: [MQTT-3.1.2-8] the will is published
    await waitFor('will', () => statesOf(sub.messages, 'edge-t').some((s) => s.status === 'offline'))
    await waitFor('birth after reconnect', () => statesOf(sub.messages, 'edge-t').at(-1)?.status === 'online')
    expect(statesOf(sub.messages, 'edge-t').map((s) => s.status)).toEqual(['online', 'offline', 'online'])
  })

  it('a silent device never delays another, and polls of one device never overlap', async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const fast = await modbus()
    const slow = await modbus({ silent: [{ table: 'input', from: 0, to: 0x1000 }] })
    const a = await agent(
      edgeConfig([
        { device: 'fast', port: fast.port, pollIntervalMs: 20 },
        { device: 'slow', port: slow.port, pollIntervalMs: 20, timeoutMs: 50 },
      ]),
      broker,
    )
    const t0 = Date.now()
    await waitFor('fast samples', () => dataOf(sub.messages, 'fast').reduce((n, p) => n + p.samples.length, 0) >= 20)
    const elapsed = Date.now() - t0
    // 20 polls at 20 ms ≈ 400 ms, while one poll of the silent device takes 200 ms (4 requests × 50 ms)
    expect(elapsed).toBeLessThan(1500)
    await waitFor('slow device failures', () => a.status().devices[1]!.readErrors >= 2)
    const s = a.status().devices[1]!
    expect(s.readErrors).toBeGreaterThanOrEqual(1)
    expect(s.lastError?.code).toBe('EDGE_ERR_TIMEOUT')
    // no overlap: each request to the silent device started only after the previous one timed out
    // (50 ms). Overlapping polls would start a request every 20 ms tick or less; the margin below
    // that absorbs the arrival jitter of a loaded machine (seen at 41.6 ms in a full parallel run).
    const at = slow.requests.map((r) => r.at)
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(30)
    expect(at.length).toBeGreaterThanOrEqual(5)
    expect(dataOf(sub.messages, 'slow')).toEqual([])
  })

  it('republishes each retained state with growing counters every statusIntervalMs', async () => {
    const broker = await startBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const meter = await modbus()
    const a = await agent(edgeConfig([{ device: 'meter-a', port: meter.port, pollIntervalMs: 20 }], { statusIntervalMs: 150 }), broker)
    const withCounters = (device: string) => statesOf(sub.messages, device).filter((s) => (s as StateBody).counters !== undefined) as StateBody[]
    await waitFor('3 periodic states', () => withCounters('meter-a').filter((s) => s.counters.published > 0).length >= 3)
    const states = withCounters('meter-a').filter((s) => s.counters.published > 0)
    const [first, second] = [states.at(-2)!, states.at(-1)!]
    for (const s of [first, second]) {
      expect(s).toMatchObject({ status: 'online', agent: 'edge-t' })
      expect(Object.keys(s.counters).sort()).toEqual(['bufferDepth', 'dropped', 'pointErrors', 'published', 'readErrors', 'reads'])
      expect(s.counters).toMatchObject({ readErrors: 0, pointErrors: 0, dropped: 0 })
      expect(s.counters.reads).toBeGreaterThan(0)
      expect(s.counters.bufferDepth).toBeGreaterThanOrEqual(0)
      // every published sample was read first
      expect(s.counters.published).toBeLessThanOrEqual(s.counters.reads)
    }
    // ~150 ms apart at 20 ms polls: several more reads and deliveries
    expect(second.ts - first.ts).toBeGreaterThanOrEqual(100)
    expect(second.counters.reads).toBeGreaterThan(first.counters.reads + 2)
    expect(second.counters.published).toBeGreaterThan(first.counters.published)
    // the agent's own state sums its devices
    const agentStates = withCounters('edge-t')
    expect(agentStates.length).toBeGreaterThanOrEqual(2)
    expect(agentStates.at(-1)!.counters.reads).toBeGreaterThan(0)

    // retained: a late subscriber gets the latest state, counters included, not older than the last tick
    const late = await subscribe(broker.url)
    cleanups.push(() => late.client.endAsync(true))
    await waitFor('retained device state', () => statesOf(late.messages, 'meter-a').length > 0)
    const retained = late.messages.find((m) => m.topic.endsWith('/meter-a/state'))!
    expect(retained.retain).toBe(true)
    const body = retained.body as StateBody
    expect(body.status).toBe('online')
    expect(body.counters.reads).toBeGreaterThanOrEqual(second.counters.reads)
    expect(body.counters.reads).toBeLessThanOrEqual(a.status().devices[0]!.reads)
    expect(body.counters.published).toBeGreaterThanOrEqual(second.counters.published)

    // the offline state on close carries the final counters
    await a.close()
    const final = a.status().devices[0]!
    await waitFor('offline with counters', () => withCounters('meter-a').at(-1)?.status === 'offline')
    expect(withCounters('meter-a').at(-1)!.counters).toMatchObject({ reads: final.reads, published: final.publishedSamples, bufferDepth: 0, dropped: 0 })
  })

  it('counts samples dropped beyond outboxMaxSamples in the retained state', async () => {
    // a free port with no broker yet: the agent keeps retrying while its samples pile up
    const probe = await startBroker()
    const port = probe.port
    await probe.close()
    const meter = await modbus()
    const a = await agent(edgeConfig([{ device: 'meter-a', port: meter.port, pollIntervalMs: 10 }], { statusIntervalMs: 100, outboxMaxSamples: 3 }), {
      url: `mqtt://127.0.0.1:${port}`,
    } as Broker)
    await waitFor('drops', () => a.status().devices[0]!.dropped >= 5)
    expect(a.status().devices[0]!.outboxDepth).toBe(3)
    const broker = await startBroker(port)
    cleanups.push(() => broker.close())
    const sub = await subscribe(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    await waitFor('state with drops', () => statesOf(sub.messages, 'meter-a').some((s) => ((s as StateBody).counters?.dropped ?? 0) >= 5))
    const s = statesOf(sub.messages, 'meter-a').find((m) => ((m as StateBody).counters?.dropped ?? 0) >= 5) as StateBody
    expect(s.counters.dropped).toBeLessThanOrEqual(a.status().devices[0]!.dropped)
    expect(s.counters.bufferDepth).toBeLessThanOrEqual(3)
    // nothing dropped silently: every read is delivered, buffered or dropped
    await waitFor('a later state', () => statesOf(sub.messages, 'meter-a').filter((m) => (m as StateBody).counters).length >= 3)
    const last = statesOf(sub.messages, 'meter-a').at(-1) as StateBody
    expect(last.counters.published + last.counters.bufferDepth + last.counters.dropped).toBeGreaterThanOrEqual(last.counters.reads - 1)
    expect(last.counters.published + last.counters.bufferDepth + last.counters.dropped).toBeLessThanOrEqual(last.counters.reads)
  })
})

interface StateBody {
  status: string
  agent: string
  ts: number
  counters: { reads: number; readErrors: number; pointErrors: number; published: number; bufferDepth: number; dropped: number }
}
