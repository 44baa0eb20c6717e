import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { silentLogger } from '../core/logger.ts'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { edgeClientOptions } from './broker-connection.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { DeviceTable, type DeviceEntry } from './device-table.ts'
import type { Driver } from './driver.ts'
import { createMemoryOutbox } from './outbox.ts'
import type { DeviceProfileError } from './profile-error.ts'
import type { StateCounters, StateStatus } from './publisher.ts'
import type { DeviceSetup } from './setup.ts'
import { StateAnnouncer } from './state-announcer.ts'

/** The parts startEdgeAgent wires (edge-agent/agent.ts), each alone; the agent itself: agent.test.ts. */

const logger = silentLogger()
const CONFIG = validateConfig(
  EdgeConfigSchema,
  {
    agentId: 'edge-t',
    buffer: 'memory',
    devices: ['meter-a', 'meter-b'].map((device, i) => ({
      enterprise: 'acme',
      site: 'wuhan',
      line: 'l1',
      device,
      driver: 'modbus',
      profile: 'eastron-sdm630',
      pollIntervalMs: 20,
      connection: { host: '127.0.0.1', port: 1502 + i },
    })),
  },
  'test',
) as EdgeConfig
const A: DeviceAddress = { enterprise: 'acme', site: 'wuhan', line: 'l1', device: 'meter-a' }
const B: DeviceAddress = { ...A, device: 'meter-b' }
const PROFILE_ERROR: DeviceProfileError = {
  code: 'EDGE_ERR_PROFILE_UNKNOWN',
  message: 'no profile x',
  profile: 'x',
  problems: [{ path: '/', message: 'missing', code: 'EDGE_ERR_PROFILE_UNKNOWN' }],
}

/** A driver that answers every read with one value and counts its closes. */
function fakeDriver(): Driver & { closes: number } {
  return {
    kind: 'fake',
    endpoint: 'fake://1',
    closes: 0,
    async connect() {},
    async read() {
      return { ts: Date.now(), values: { active_power_kw: 12.5 }, quality: {}, errors: [] }
    },
    async close() {
      this.closes++
    },
  }
}

describe('edgeClientOptions', () => {
  it('names the agent, takes the password from the environment when the config has none, and sets the will', () => {
    const o = edgeClientOptions(
      { url: 'mqtt://b', username: 'gw', keepaliveS: 30, reconnectPeriodMs: 1000 },
      'edge-t',
      { ...A, device: 'edge-t' },
      { PLANTWATT_MQTT_PASSWORD: 'env-secret' },
    )
    expect(o.clientId).toMatch(/^plantwatt-edge-edge-t-/)
    expect(o).toMatchObject({ username: 'gw', password: 'env-secret', clean: true, protocolVersion: 4, reconnectOnConnackError: true })
    expect(o.will).toMatchObject({ topic: 'pw/v1/acme/wuhan/l1/edge-t/state', qos: 1, retain: true })
    expect(JSON.parse(String(o.will?.payload))).toMatchObject({ status: 'offline', agent: 'edge-t' })
    const own = edgeClientOptions(
      { url: 'mqtt://b', clientId: 'mine', password: 'file-secret', keepaliveS: 30, reconnectPeriodMs: 1000 },
      'edge-t',
      undefined,
      { PLANTWATT_MQTT_PASSWORD: 'env-secret' },
    )
    expect(own).toMatchObject({ clientId: 'mine', password: 'file-secret' })
    expect(own.will).toBeUndefined()
    expect('username' in own).toBe(false)
  })
})

describe('DeviceTable', () => {
  it('polls devices with a driver, reports one without (profile error), and counts deliveries per device and agent', async () => {
    const outbox = createMemoryOutbox({ maxSamples: 100 })
    const table = new DeviceTable(outbox, 1000)
    const driver = fakeDriver()
    const setups: DeviceSetup[] = [{ driver }, { profileError: PROFILE_ERROR }]
    const samples: [DeviceAddress, Sample][] = []
    const changes: [string, boolean][] = []
    table.add(
      CONFIG,
      setups,
      { onSample: (address, s) => samples.push([address, s]), onConnectionChange: (e, connected) => changes.push([e.key, connected]) },
      logger,
    )
    expect(table.size).toBe(2)
    expect(table.notPolled).toBe(1)

    table.start()
    const deadline = Date.now() + 5000
    while (samples.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await table.close()
    expect(samples[0]?.[0]).toEqual(A)
    expect(samples[0]?.[1].values.active_power_kw).toBe(12.5)
    expect(changes[0]).toEqual(['acme/wuhan/l1/meter-a', true])
    expect(driver.closes).toBe(1)

    table.delivered({ key: 'acme/wuhan/l1/meter-a', address: A, seq: 7, samples: [samples[0]![1], samples[1]![1]] })
    table.failed()
    const [a, b] = table.status()
    expect(a).toMatchObject({
      key: 'acme/wuhan/l1/meter-a',
      driver: 'fake',
      endpoint: 'fake://1',
      polling: true,
      publishedSamples: 2,
      publishedMessages: 1,
      nextSeq: 8,
      lastError: null,
      profileError: null,
    })
    expect(a?.reads).toBeGreaterThanOrEqual(2)
    expect(b).toMatchObject({
      key: 'acme/wuhan/l1/meter-b',
      driver: 'modbus',
      polling: false,
      connected: false,
      reads: 0,
      lastError: { code: 'EDGE_ERR_PROFILE_UNKNOWN', message: 'no profile x', ts: 1000 },
      profileError: PROFILE_ERROR,
    })
    expect(table.publishedMessages).toBe(1)
    expect(table.publishFailures).toBe(1)
    expect(table.countersOf('acme/wuhan/l1/meter-a')).toMatchObject({ published: 2, readErrors: 0, bufferDepth: 0 })
    expect(table.agentCounters()).toMatchObject({ reads: a?.reads, published: 2 })
  })
})

describe('StateAnnouncer', () => {
  type Call = { device: string; status: StateStatus; error?: string }
  function announcer(entries: Partial<DeviceEntry>[]) {
    const calls: Call[] = []
    const publisher = {
      publishState: async (address: DeviceAddress, status: StateStatus, _agent: string, _c?: StateCounters, error?: DeviceProfileError) => {
        calls.push({ device: address.device, status, ...(error ? { error: error.code } : {}) })
      },
    }
    const counters: StateCounters = { reads: 0, readErrors: 0, pointErrors: 0, published: 0, bufferDepth: 0, dropped: 0 }
    const devices = { all: () => (entries as DeviceEntry[]).values(), countersOf: () => counters, agentCounters: () => counters }
    return { calls, states: new StateAnnouncer({ publisher, devices, agentId: 'edge-t', agentAddress: { ...A, device: 'edge-t' } }) }
  }
  const poller = (connected: boolean, reads: number) => ({ connected, counters: { reads, readErrors: 0 } }) as unknown as DeviceEntry['poller']

  it('birth: the agent, each device reached or tried, each unpolled device offline with its error; never-polled devices wait', () => {
    const { calls, states } = announcer([
      { key: 'a', address: A, poller: poller(true, 3) },
      { key: 'b', address: B, poller: poller(false, 2) },
      { key: 'c', address: { ...A, device: 'meter-c' }, poller: poller(false, 0) },
      { key: 'd', address: { ...A, device: 'meter-d' }, profileError: PROFILE_ERROR },
    ])
    states.announceAll()
    expect(calls).toEqual([
      { device: 'edge-t', status: 'online' },
      { device: 'meter-a', status: 'online' },
      { device: 'meter-b', status: 'offline' },
      { device: 'meter-d', status: 'offline', error: 'EDGE_ERR_PROFILE_UNKNOWN' },
    ])
  })

  it('death: every device and the agent offline', async () => {
    const { calls, states } = announcer([{ key: 'a', address: A, poller: poller(true, 3) }])
    await states.announceOffline(1000)
    expect(calls).toEqual([
      { device: 'meter-a', status: 'offline' },
      { device: 'edge-t', status: 'offline' },
    ])
  })
})
