/**
 * Central configuration over MQTT against real parts: an Aedes broker, a Modbus TCP server serving
 * the SDM630 register map, the agent with a disk folder. Commands are published as the central side
 * would; the agent's answer is read from its retained state, as the central side reads it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectAsync, type MqttClient } from 'mqtt'
import { parse } from 'yaml'
import { afterEach, describe, expect, it } from 'vitest'
import { compileAcl } from '../broker/acl.ts'
import { validateConfig } from '../core/config.ts'
import { startEdgeAgent } from './agent.ts'
import { type AgentConfigState, centralConfigFile } from './central-config.ts'
import { CentralConfigChannel } from './central-channel.ts'
import { silentLogger } from '../core/logger.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { SDM630_WORDS } from './testing/sdm630-fixtures.ts'
import { startTestModbusServer } from './testing/modbus-server.ts'
import { startTestBroker, waitFor } from './testing/mqtt.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const COMMAND = 'pw/v1/acme/wuhan/rolling-1/edge-c/command'
const STATE = 'pw/v1/acme/wuhan/rolling-1/edge-c/state'

function device(id: string, port: number, profile = 'eastron-sdm630'): Record<string, unknown> {
  return {
    enterprise: 'acme',
    site: 'wuhan',
    line: 'rolling-1',
    device: id,
    driver: 'modbus',
    profile,
    pollIntervalMs: 50,
    retries: 0,
    connection: { host: '127.0.0.1', port, timeoutMs: 300 },
  }
}

async function parts(devices: (port: number) => Record<string, unknown>[]) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-central-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  const broker = await startTestBroker()
  cleanups.push(() => broker.close())
  const modbus = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } }, 2: { input: { ...SDM630_WORDS } } } })
  cleanups.push(() => modbus.close())
  const config = validateConfig(EdgeConfigSchema, { agentId: 'edge-c', buffer: 'disk', bufferDir: dir, devices: devices(modbus.port) }, 'test') as EdgeConfig
  const central = await connectAsync(broker.url, { clientId: 'central', reconnectPeriod: 50 })
  cleanups.push(() => central.endAsync(true))
  const states = new Map<string, Record<string, unknown>>()
  const data = new Map<string, number>()
  central.on('message', (topic, payload) => {
    if (topic.endsWith('/command')) return
    const body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>
    if (topic.endsWith('/state')) states.set(topic, body)
    if (topic.endsWith('/data')) data.set(topic.split('/')[5] ?? '', (data.get(topic.split('/')[5] ?? '') ?? 0) + 1)
  })
  await central.subscribeAsync('pw/v1/#', { qos: 1 })
  const start = async () => {
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100, clientId: 'edge-c-test' } })
    cleanups.push(() => agent.close())
    return agent
  }
  const agentConfig = () => states.get(STATE)?.config as AgentConfigState | undefined
  const send = (central: MqttClient, body: unknown) => central.publishAsync(COMMAND, JSON.stringify(body), { qos: 1 })
  return { dir, broker, modbus, config, central, states, data, start, agentConfig, send }
}

describe('central configuration of an edge agent over MQTT', () => {
  it('applies a newer device list without a restart, refuses stale, invalid and bad-profile commands keeping the one in force, and says so in its retained state', async () => {
    const p = await parts((port) => [device('m1', port)])
    const agent = await p.start()
    await waitFor('agent state with config v0', () => p.agentConfig()?.version === 0 && p.agentConfig()?.source === 'file', 10_000)
    await waitFor('m1 data', () => (p.data.get('m1') ?? 0) > 0, 10_000)

    // v1: m1 and m2 (unit 2 of the same server)
    await p.send(p.central, {
      type: 'config',
      version: 1,
      devices: [
        device('m1', p.modbus.port),
        { ...device('m2', p.modbus.port), connection: { host: '127.0.0.1', port: p.modbus.port, unitId: 2, timeoutMs: 300 } },
      ],
    })
    await waitFor('v1 applied', () => p.agentConfig()?.version === 1, 10_000)
    expect(p.agentConfig()?.source).toBe('central')
    await waitFor('m2 data', () => (p.data.get('m2') ?? 0) > 2, 10_000)
    expect(
      agent
        .status()
        .devices.map((d) => d.address.device)
        .sort(),
    ).toEqual(['m1', 'm2'])
    expect(agent.status().config.version).toBe(1)

    // the same version again (a replay): refused, v1 stays
    await p.send(p.central, { type: 'config', version: 1, devices: [device('m1', p.modbus.port)] })
    await waitFor('stale refused', () => p.agentConfig()?.rejected?.code === 'EDGE_ERR_COMMAND_STALE', 10_000)
    expect(p.agentConfig()?.version).toBe(1)

    // a bad profile and a bad field: refused whole, with each problem's path; devices unchanged
    await p.send(p.central, {
      type: 'config',
      version: 2,
      devices: [device('m1', p.modbus.port, 'no-such-profile'), { ...device('m3', p.modbus.port), pollIntervalMs: -5 }],
    })
    await waitFor('v2 refused', () => p.agentConfig()?.rejected?.version === 2, 10_000)
    const rejected = p.agentConfig()?.rejected
    expect(rejected?.code).toBe('EDGE_ERR_COMMAND_CONFIG')
    expect(rejected?.problems.map((x) => x.path)).toContain('/devices/1/pollIntervalMs')
    await p.send(p.central, { type: 'config', version: 3, devices: [device('m1', p.modbus.port, 'no-such-profile')] })
    await waitFor('v3 refused', () => p.agentConfig()?.rejected?.version === 3, 10_000)
    expect(p.agentConfig()?.rejected?.problems[0]?.path).toBe('/devices/0/profile')
    expect(p.agentConfig()?.version).toBe(1)
    expect(
      agent
        .status()
        .devices.map((d) => d.address.device)
        .sort(),
    ).toEqual(['m1', 'm2'])

    // not JSON at all: refused, the agent keeps polling
    await p.central.publishAsync(COMMAND, 'not json', { qos: 1 })
    await waitFor('garbage refused', () => p.agentConfig()?.rejected?.code === 'EDGE_ERR_COMMAND_JSON', 10_000)
    const before = p.data.get('m1') ?? 0
    await waitFor('m1 still polled', () => (p.data.get('m1') ?? 0) > before + 2, 10_000)

    // v4 with a profile document sent along: the device names it
    const sdm = parse(readFileSync(fileURLToPath(new URL('./profiles/eastron-sdm630.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>
    await p.send(p.central, {
      type: 'config',
      version: 4,
      devices: [device('m9', p.modbus.port, 'site-meter')],
      profiles: { 'site-meter': { ...sdm, name: 'site-meter' } },
    })
    await waitFor('v4 applied', () => p.agentConfig()?.version === 4, 10_000)
    await waitFor('m9 data', () => (p.data.get('m9') ?? 0) > 2, 10_000)
    expect(agent.status().devices.map((d) => d.address.device)).toEqual(['m9'])
    expect(p.agentConfig()?.rejected).toBeUndefined()

    // a restart starts with v4, kept on disk
    await agent.close()
    const again = await p.start()
    expect(again.status().config).toMatchObject({ version: 4, source: 'central' })
    expect(again.status().devices.map((d) => d.address.device)).toEqual(['m9'])
  }, 60_000)

  it('reload-profiles retries a device left out for a bad profile once its file is fixed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-central-prof-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'meter.yaml')
    writeFileSync(file, 'name: broken\npoints: []\n')
    const p = await parts((port) => [device('m1', port), device('m5', port, file)])
    const agent = await p.start()
    await waitFor('m1 data', () => (p.data.get('m1') ?? 0) > 0, 10_000)
    expect(agent.status().devices.find((d) => d.address.device === 'm5')?.polling).toBe(false)
    writeFileSync(file, readFileSync(fileURLToPath(new URL('./profiles/eastron-sdm630.yaml', import.meta.url)), 'utf8'))
    await p.send(p.central, { type: 'reload-profiles' })
    await waitFor('m5 data', () => (p.data.get('m5') ?? 0) > 2, 10_000)
    expect(agent.status().devices.find((d) => d.address.device === 'm5')?.polling).toBe(true)
    expect(agent.status().config.version).toBe(0)
  }, 60_000)

  it('a device left out for a bad profile is retried when its profile file changes, without a command or a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-central-watch-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'meter.yaml')
    writeFileSync(file, 'name: broken\npoints: []\n')
    const p = await parts((port) => [device('m1', port), device('m5', port, file)])
    const agent = await p.start()
    await waitFor('m1 data', () => (p.data.get('m1') ?? 0) > 0, 10_000)
    expect(agent.status().devices.find((d) => d.address.device === 'm5')?.polling).toBe(false)
    // Replaced the way editors do it: a new file renamed over the old one.
    writeFileSync(`${file}.new`, readFileSync(fileURLToPath(new URL('./profiles/eastron-sdm630.yaml', import.meta.url)), 'utf8'))
    const { renameSync } = await import('node:fs')
    renameSync(`${file}.new`, file)
    await waitFor('m5 data', () => (p.data.get('m5') ?? 0) > 2, 10_000)
    expect(agent.status().devices.find((d) => d.address.device === 'm5')?.polling).toBe(true)
    expect(agent.status().config.version).toBe(0)
    // Broken again: m5 is left out again with its profile error, m1 keeps flowing.
    writeFileSync(file, 'name: broken\npoints: []\n')
    await waitFor('m5 left out', () => agent.status().devices.find((d) => d.address.device === 'm5')?.polling === false, 10_000)
    const before = p.data.get('m1') ?? 0
    await waitFor('m1 still polled', () => (p.data.get('m1') ?? 0) > before + 2, 10_000)
  }, 60_000)

  it('a command that cannot be kept on disk is refused and nothing is applied; a refused command leaves no profile documents behind', async () => {
    const p = await parts((port) => [device('m1', port)])
    const agent = await p.start()
    await waitFor('m1 data', () => (p.data.get('m1') ?? 0) > 0, 10_000)
    const sdm = parse(readFileSync(fileURLToPath(new URL('./profiles/eastron-sdm630.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>
    // A refused command with a profile document: its folder is gone afterwards.
    await p.send(p.central, {
      type: 'config',
      version: 1,
      devices: [device('m2', p.modbus.port, 'site-meter'), { ...device('m3', p.modbus.port), pollIntervalMs: -1 }],
      profiles: { 'site-meter': { ...sdm, name: 'site-meter' } },
    })
    await waitFor('v1 refused', () => p.agentConfig()?.rejected?.version === 1, 10_000)
    expect(existsSync(join(p.dir, 'central-profiles', 'v1'))).toBe(false)
    // The kept file's temporary path is a folder: the write fails, v2 is refused, m1 stays.
    mkdirSync(`${centralConfigFile(p.config)}.tmp`)
    await p.send(p.central, {
      type: 'config',
      version: 2,
      devices: [device('m2', p.modbus.port, 'site-meter')],
      profiles: { 'site-meter': { ...sdm, name: 'site-meter' } },
    })
    await waitFor('v2 refused', () => p.agentConfig()?.rejected?.version === 2, 10_000)
    expect(p.agentConfig()?.rejected?.code).toBe('EDGE_ERR_COMMAND_SAVE')
    expect(p.agentConfig()?.version).toBe(0)
    expect(agent.status().devices.map((d) => d.address.device)).toEqual(['m1'])
    // Writable again: v3 applied, and only its profile folder is kept.
    rmSync(`${centralConfigFile(p.config)}.tmp`, { recursive: true })
    await p.send(p.central, {
      type: 'config',
      version: 3,
      devices: [device('m2', p.modbus.port, 'site-meter')],
      profiles: { 'site-meter': { ...sdm, name: 'site-meter' } },
    })
    await waitFor('v3 applied', () => p.agentConfig()?.version === 3, 10_000)
    await waitFor('m2 data', () => (p.data.get('m2') ?? 0) > 2, 10_000)
    expect(readdirSync(join(p.dir, 'central-profiles'))).toEqual(['v3'])
  }, 60_000)

  it('a config that fails while being applied is rolled back: the config in force before runs again and stays kept on disk', async () => {
    // The agent's apply (closing the pollers, building the new ones) has no input that makes it fail
    // once a command has validated; the channel is driven here with an apply that fails for one
    // version — the only stand-in in this file — and a real broker and real drivers otherwise.
    const p = await parts((port) => [device('m1', port)])
    const client = await connectAsync(p.broker.url, { clientId: 'edge-c-channel', reconnectPeriod: 50 })
    cleanups.push(() => client.endAsync(true))
    const applied: string[][] = []
    const announced: AgentConfigState[] = []
    const channel: CentralConfigChannel = new CentralConfigChannel({
      client,
      agentAddress: { enterprise: 'acme', site: 'wuhan', line: 'rolling-1', device: 'edge-c' },
      base: p.config,
      current: { version: 0, source: 'file', appliedAt: 0 },
      currentConfig: p.config,
      logger: silentLogger(),
      watchProfiles: false,
      apply: async (next, setups) => {
        await Promise.all(setups.map((s) => s.driver?.close()))
        if (next.devices.some((d) => d.device === 'explodes')) throw new Error('poller could not start')
        applied.push(next.devices.map((d) => d.device))
      },
      announce: () => announced.push(channel.state()),
    })
    cleanups.push(() => channel.close())
    channel.subscribe()
    await new Promise((r) => setTimeout(r, 200))
    await p.send(p.central, { type: 'config', version: 1, devices: [device('m2', p.modbus.port)] })
    await waitFor('v1 applied', () => channel.state().version === 1, 10_000)
    await p.send(p.central, { type: 'config', version: 2, devices: [device('explodes', p.modbus.port)] })
    await waitFor('v2 refused', () => channel.state().rejected?.version === 2, 10_000)
    expect(channel.state().rejected?.code).toBe('EDGE_ERR_COMMAND_APPLY')
    expect(channel.state().version).toBe(1)
    // v1 applied, then (after v2 failed) v1 again.
    expect(applied).toEqual([['m2'], ['m2']])
    // What is kept on disk is v1 again: the next start runs what runs now.
    expect(JSON.parse(readFileSync(centralConfigFile(p.config), 'utf8')).version).toBe(1)
  }, 60_000)

  it('only an admin broker user may publish on a command topic', () => {
    expect(compileAcl({ role: 'gateway', enterprise: 'acme', site: 'wuhan' }).canPublish(COMMAND)).toBe(false)
    expect(compileAcl({ role: 'gateway', enterprise: 'acme', site: 'wuhan' }).canSubscribe(COMMAND)).toBe(true)
    expect(compileAcl({ role: 'gateway', enterprise: 'beta' }).canSubscribe(COMMAND)).toBe(false)
    expect(compileAcl({ role: 'service' }).canPublish(COMMAND)).toBe(false)
    expect(compileAcl({ role: 'ingest' }).canPublish(COMMAND)).toBe(false)
    expect(compileAcl({ role: 'admin' }).canPublish(COMMAND)).toBe(true)
  })
})
