import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { silentLogger } from '../../core/logger.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import type { AgentStatus } from '../../edge-agent/agent.ts'
import { IngestConfigSchema, startIngest, type RunningIngest } from '../../ingest/index.ts'
import { startMeterSimulator, type RunningMeter } from '../../simulators/index.ts'
import { createEmbeddedStore, TELEMETRY_MEASUREMENT, type TelemetryStore } from '../../storage/index.ts'
import { startScript, type ChildScript } from '../child.ts'
import { startRedis, type RunningRedis } from '../redis.ts'

/*
 * Store-and-forward end to end, every part a real process where the fault needs one:
 *   simulated SDM630 meters (simulators/, Modbus TCP) → edge agent (own process, disk buffer, the
 *   default) → PlantWatt broker (own process, sessions in Redis) → ingest → embedded store.
 * The broker is stopped during polling and started again on the same port; in the second test the
 * agent is also SIGKILLed during the outage and restarted on its buffer. The assertions read the
 * STORE: per device, the distinct `seq` values are 0, 1, 2 … without a gap, rows ordered by ts
 * carry non-decreasing seq (in order; a sample sent again under a later seq would break this or
 * leave a gap), and the number of stored samples equals the polls the agent completed.
 */

const ENTERPRISE = 'fault-edge'
const DEVICES = ['m0', 'm1', 'm2']
/** The SDM630 profile reads 20 quantities in 4 coalesced FC4 requests per poll. */
const REQUESTS_PER_POLL = 4
const POLL_MS = 50

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c()
    } catch {
      // keep cleaning up
    }
  }
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

interface World {
  store: TelemetryStore
  ingest: RunningIngest
  meters: RunningMeter[]
  /** Modbus requests each meter answered, by device id. */
  requests: Map<string, number>
  bufferDir: string
  /** The broker ingest first connected to; tests stop it and start another on its port. */
  broker: ChildScript
  startBroker(port?: number): Promise<ChildScript>
  startAgent(brokerUrl: string): Promise<Agent>
}

interface Agent {
  script: ChildScript
  /** The `{"closed": status}` line printed after SIGTERM. */
  closed(): Promise<AgentStatus>
}

async function world(): Promise<World> {
  const redis: RunningRedis = await startRedis()
  cleanups.push(() => redis.stop())
  const dir = mkdtempSync(join(tmpdir(), 'pw-edge-fault-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  // Sessions in Redis: ingest's subscription outlives the broker process, so what the agent replays
  // before ingest has reconnected is queued for it (as in production with the broker cluster).
  const startBroker = async (port = 0): Promise<ChildScript> => {
    const b = await startScript('broker-process.ts', { PW_BROKER_CONFIG: JSON.stringify({ port, cluster: { redisUrl: redis.url, brokerId: 'solo' } }) })
    cleanups.push(() => b.kill('SIGKILL'))
    return b
  }
  const requests = new Map<string, number>(DEVICES.map((d) => [d, 0]))
  const meters: RunningMeter[] = []
  for (const [i, device] of DEVICES.entries()) {
    const meter = await startMeterSimulator({
      profile: 'eastron-sdm630',
      ratedKw: 100 + 50 * i,
      port: 0,
      hooks: {
        online: () => {
          requests.set(device, (requests.get(device) ?? 0) + 1)
          return true
        },
      },
    })
    cleanups.push(() => meter.stop())
    meters.push(meter)
  }
  const store = createEmbeddedStore({ path: join(dir, 'plantwatt.db') })
  cleanups.push(() => store.close())
  const bufferDir = join(dir, 'edge-buffer')
  const startAgent = async (brokerUrl: string): Promise<Agent> => {
    const config = {
      agentId: 'edge-fault',
      // buffer: disk is the default; only its folder is set, inside the test's temp folder
      bufferDir,
      maxSamplesPerMessage: 20,
      statusIntervalMs: 1000,
      devices: meters.map((m, i) => ({
        enterprise: ENTERPRISE,
        site: 's1',
        line: 'l1',
        device: DEVICES[i],
        driver: 'modbus',
        profile: 'eastron-sdm630',
        pollIntervalMs: POLL_MS,
        retries: 0,
        connection: { host: m.host, port: m.port, unitId: m.unitId, timeoutMs: 500 },
      })),
    }
    const script = await startScript('../edge-agent/testing/agent-child.ts', {
      PW_EDGE: JSON.stringify({ config, mqtt: { url: brokerUrl, clientId: 'edge-fault-agent', keepaliveS: 5, reconnectPeriodMs: 100 } }),
    })
    cleanups.push(() => script.kill('SIGKILL'))
    let out = ''
    const closed = new Promise<AgentStatus>((resolve, reject) => {
      script.child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const line = out.split('\n').find((l) => l.startsWith('{"closed"'))
        if (line) resolve((JSON.parse(line) as { closed: AgentStatus }).closed)
      })
      script.child.once('exit', (code, signal) =>
        setTimeout(() => reject(new Error(`agent exited (${code ?? signal}) without a status: ${script.stderr()}`)), 100),
      )
    })
    closed.catch(() => undefined)
    return { script, closed: () => closed }
  }
  const broker0 = await startBroker()
  const ingest = await startIngest({
    config: validateConfig(IngestConfigSchema, { flushIntervalMs: 100 }),
    mqtt: validateConfig(MqttClientConfigSchema, { url: broker0.ready.url as string, clientId: 'fault-edge-ingest', reconnectPeriodMs: 100 }),
    store,
    logger: silentLogger(),
  })
  cleanups.push(() => ingest.close())
  return { store, ingest, meters, requests, bufferDir, broker: broker0, startBroker, startAgent }
}

/** Stored (ts, seq) of each device, ordered by ts. */
async function stored(store: TelemetryStore): Promise<Map<string, { ts: number; seq: number }[]>> {
  const rows = await store.raw({
    measurement: TELEMETRY_MEASUREMENT,
    fields: ['seq'],
    filter: { enterprise: ENTERPRISE },
    start: 0,
    stop: Date.now() + 3_600_000,
    limit: 1_000_000,
  })
  const out = new Map<string, { ts: number; seq: number }[]>(DEVICES.map((d) => [d, []]))
  for (const r of rows) out.get(r.tags.device as string)?.push({ ts: r.ts, seq: r.value })
  for (const list of out.values()) list.sort((a, b) => a.ts - b.ts)
  return out
}

const storedCount = async (store: TelemetryStore): Promise<number> => [...(await stored(store)).values()].reduce((n, l) => n + l.length, 0)

/** Per device: seq contiguous from 0 with no gap, non-decreasing in ts order; returns the rows. */
function expectInOrderWithoutGap(rows: { ts: number; seq: number }[]): { seqs: number[]; batchSizes: Map<number, number> } {
  expect(rows.length).toBeGreaterThan(0)
  for (let i = 1; i < rows.length; i++) {
    // in order: a later sample never carries an earlier message's seq
    if (rows[i]!.seq < rows[i - 1]!.seq) expect.fail(`seq goes back at ts ${rows[i]!.ts}: ${rows[i - 1]!.seq} → ${rows[i]!.seq}`)
  }
  const batchSizes = new Map<number, number>()
  for (const r of rows) batchSizes.set(r.seq, (batchSizes.get(r.seq) ?? 0) + 1)
  const seqs = [...batchSizes.keys()].sort((a, b) => a - b)
  // no gap: 0, 1, 2 … last, each delivered message present
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i))
  // no message bigger than maxSamplesPerMessage (20)
  expect(Math.max(...batchSizes.values())).toBeLessThanOrEqual(20)
  return { seqs, batchSizes }
}

describe('edge agent store-and-forward against real processes', () => {
  it('broker stopped during polling and started again: every sample stored once, seq 0…n without a gap, in order; live data resumes', async () => {
    const w = await world()
    let broker = w.broker
    const url = broker.ready.url as string
    const port = Number(new URL(url).port)
    const agent = await w.startAgent(url)
    await until('live data in the store', async () => [...(await stored(w.store)).values()].every((l) => l.length >= 5))

    await broker.kill('SIGTERM')
    const downAt = Date.now()
    const reqAtDown = w.requests.get('m0') as number
    await sleep(2500)
    // the agent kept polling while the broker was away (2.5 s at 50 ms: ~50 polls, ≥ 15 asserted)
    expect((w.requests.get('m0') as number) - reqAtDown).toBeGreaterThanOrEqual(15 * REQUESTS_PER_POLL)
    broker = await w.startBroker(port)
    const upAt = Date.now()
    await until(
      'live data after the restart',
      async () => [...(await stored(w.store)).values()].every((l) => l.filter((r) => r.ts > upAt + 500).length >= 5),
      20_000,
    )

    await agent.script.kill('SIGTERM')
    const status = await agent.closed()
    const published = status.devices.reduce((n, d) => n + d.publishedSamples, 0)
    await until('every published sample in the store', async () => (await storedCount(w.store)) >= published)
    await sleep(300) // nothing more arrives
    const all = await stored(w.store)
    expect(await storedCount(w.store)).toBe(published)

    for (const d of status.devices) {
      const rows = all.get(d.address.device) as { ts: number; seq: number }[]
      // nothing buffered, nothing dropped, no failed poll: every poll is one stored sample
      expect(d).toMatchObject({ outboxDepth: 0, dropped: 0, readErrors: 0 })
      expect(rows.length).toBe(d.reads)
      expect(rows.length).toBe(d.publishedSamples)
      // the meter saw exactly the requests of those polls (4 per poll)
      expect(Math.floor((w.requests.get(d.address.device) as number) / REQUESTS_PER_POLL)).toBe(d.reads)
      const { seqs, batchSizes } = expectInOrderWithoutGap(rows)
      expect(seqs.length).toBe(d.nextSeq)
      // samples taken during the outage are there, and were replayed several per message
      const outage = rows.filter((r) => r.ts > downAt + 100 && r.ts < upAt - 100)
      expect(outage.length).toBeGreaterThanOrEqual(15)
      expect(Math.max(...outage.map((r) => batchSizes.get(r.seq) as number))).toBeGreaterThan(1)
      // live data resumed after the replay
      expect(rows.filter((r) => r.ts > upAt + 500).length).toBeGreaterThanOrEqual(5)
    }
    await broker.kill('SIGTERM')
  }, 60_000)

  it('agent SIGKILLed during the outage and restarted: the samples it had buffered on disk still arrive, seq continues', async () => {
    const w = await world()
    let broker = w.broker
    const url = broker.ready.url as string
    const port = Number(new URL(url).port)
    const first = await w.startAgent(url)
    await until('live data in the store', async () => [...(await stored(w.store)).values()].every((l) => l.length >= 5))

    await broker.kill('SIGTERM')
    const downAt = Date.now()
    await sleep(2000)
    await first.script.kill('SIGKILL')
    expect(first.script.child.signalCode).toBe('SIGKILL')
    const killedAt = Date.now()
    // polls the killed process completed, from the meters' request counts (both processes poll the same meters)
    const pollsOfFirst = new Map([...w.requests].map(([d, n]) => [d, Math.floor(n / REQUESTS_PER_POLL)]))
    await sleep(500)

    broker = await w.startBroker(port)
    const second = await w.startAgent(broker.ready.url as string)
    const restartAt = Date.now()
    await until(
      'live data from the restarted agent',
      async () => [...(await stored(w.store)).values()].every((l) => l.filter((r) => r.ts > restartAt + 500).length >= 5),
      20_000,
    )
    await second.script.kill('SIGTERM')
    const status = await second.closed()
    const polls = new Map([...w.requests].map(([d, n]) => [d, Math.floor(n / REQUESTS_PER_POLL)]))
    const expectedMin = [...status.devices].reduce((n, d) => n + (polls.get(d.address.device) as number) - 1, 0)
    await until('the backlog and the live samples in the store', async () => (await storedCount(w.store)) >= expectedMin)
    await sleep(300)
    const all = await stored(w.store)

    for (const d of status.devices) {
      const device = d.address.device
      const rows = all.get(device) as { ts: number; seq: number }[]
      expect(d).toMatchObject({ outboxDepth: 0, dropped: 0 })
      const { seqs } = expectInOrderWithoutGap(rows)
      // seq continued from the killed process' buffer: the restarted agent ended where the store does
      expect(seqs.length).toBe(d.nextSeq)
      // every completed poll of both processes is stored once; at most the poll cut by SIGKILL
      // (answered by the meter, not yet committed to the buffer) is missing
      const n = polls.get(device) as number
      expect(rows.length).toBeGreaterThanOrEqual(n - 1)
      expect(rows.length).toBeLessThanOrEqual(n)
      // the samples buffered by the killed process arrived: ~40 polls in 2 s at 50 ms, ≥ 15 asserted
      const outage = rows.filter((r) => r.ts > downAt + 100 && r.ts < killedAt)
      expect(outage.length).toBeGreaterThanOrEqual(15)
      expect(rows.filter((r) => r.ts <= killedAt).length).toBeGreaterThanOrEqual((pollsOfFirst.get(device) as number) - 1)
      // and the restarted agent's live data follows them
      expect(rows.filter((r) => r.ts > restartAt + 500).length).toBeGreaterThanOrEqual(5)
    }
    await broker.kill('SIGTERM')
  }, 60_000)
})
