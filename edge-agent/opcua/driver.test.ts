import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type StatusCode,
  Variant,
  type UAVariable,
} from 'node-opcua'
import { validateConfig } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { EdgeConfigSchema, ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import type { ReadResult } from '../driver.ts'
import { startTestBroker, subscribeData, waitFor } from '../testing/mqtt.ts'
import { createOpcuaDriver, ensureOpcuaCertificate, toNumber } from './driver.ts'
import { loadOpcuaProfile, shippedOpcuaProfiles } from './profile.ts'

const root = mkdtempSync(join(tmpdir(), 'pw-opcua-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const SERVER_PKI = join(root, 'server-pki')
const USER_PKI = join(root, 'user-pki')
const CLIENT_PKI = join(root, 'client-pki')
const profile = loadOpcuaProfile('generic-cnc')
const withMissingNode = join(root, 'missing-node.yaml')
writeFileSync(
  withMissingNode,
  [
    'name: missing',
    'vendor: T',
    'model: T',
    'source: test',
    'points:',
    '  - { quantity: output_count, nodeId: ns=2;s=Machine.PartCount }',
    '  - { quantity: temperature_c, nodeId: ns=2;s=Machine.NoSuchNode }',
  ].join('\n'),
)

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

interface Machine {
  server: OPCUAServer
  url: string
  set(name: string, value: number | string, status?: StatusCode): void
  /** Deletes a variable from the address space (its monitored items are told, as node-opcua does). */
  remove(name: string): void
}

/** An OPC UA server with the generic-cnc variables, SignAndEncrypt only, user edge/s3cret. */
async function startMachine(port: number): Promise<Machine> {
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: SERVER_PKI, automaticallyAcceptUnknownCertificate: false })
  const userCertificateManager = new OPCUACertificateManager({ rootFolder: USER_PKI, automaticallyAcceptUnknownCertificate: false })
  const server = new OPCUAServer({
    port,
    hostname: '127.0.0.1',
    serverCertificateManager,
    userCertificateManager,
    securityModes: [MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.Basic256Sha256],
    allowAnonymous: false,
    userManager: { isValidUser: (user: string, password: string) => user === 'edge' && password === 's3cret' },
  })
  await server.initialize()
  const ns = server.engine.addressSpace!.registerNamespace('urn:plantwatt:test-machine') // index 2, as in generic-cnc
  const machine = ns.addObject({ organizedBy: server.engine.addressSpace!.rootFolder.objects, browseName: 'Machine' })
  const vars = new Map<string, UAVariable>()
  const types = new Map<string, DataType>()
  const add = (name: string, dataType: DataType, value: number | string) => {
    types.set(name, dataType)
    const v = ns.addVariable({ componentOf: machine, browseName: name, nodeId: `ns=${ns.index};s=Machine.${name}`, dataType })
    v.setValueFromSource(new Variant({ dataType, value }))
    vars.set(name, v)
  }
  add('State', DataType.Int32, 2)
  add('ActivePowerKw', DataType.Double, 12.5)
  add('EnergyKwh', DataType.Double, 1000)
  add('PartCount', DataType.UInt32, 7)
  await server.start()
  return {
    server,
    url: `opc.tcp://127.0.0.1:${port}`,
    set(name, value, status = StatusCodes.Good) {
      const v = vars.get(name)!
      v.setValueFromSource(new Variant({ dataType: types.get(name)!, value }), status)
    },
    remove(name) {
      server.engine.addressSpace!.deleteNode(vars.get(name)!)
    },
  }
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

function device(url: string, opcua: Record<string, unknown> = {}, profileName = 'generic-cnc'): EdgeDeviceConfig {
  return validateConfig(
    ModbusDeviceSchema,
    {
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: 'cnc-1',
      driver: 'opcua',
      profile: profileName,
      pollIntervalMs: 50,
      opcua: {
        endpointUrl: url,
        pkiDir: CLIENT_PKI,
        username: 'edge',
        password: 's3cret',
        samplingIntervalMs: 20,
        publishingIntervalMs: 50,
        timeoutMs: 3000,
        ...opcua,
      },
    },
    't',
  ) as EdgeDeviceConfig
}

/** Certificates made in the test: each side trusts the other's. */
async function trustEachOther(machine: Machine): Promise<void> {
  const d = device(machine.url)
  const clientCertFile = await ensureOpcuaCertificate(d.opcua!)
  const der = Buffer.from(readFileSync(clientCertFile, 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')
  await machine.server.serverCertificateManager.trustCertificate(der)
  const cm = new OPCUACertificateManager({ rootFolder: CLIENT_PKI, automaticallyAcceptUnknownCertificate: false })
  await cm.initialize()
  await cm.trustCertificate(machine.server.getCertificate())
  await cm.dispose()
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isPlantWattError(err)) return err.code
    throw err
  }
  return 'resolved'
}

describe('OPC UA driver (SignAndEncrypt, Basic256Sha256, user name)', () => {
  it('refuses an untrusted server, then subscribes: values pushed, quality from StatusCode, unknown node a per-point error', async () => {
    const port = await freePort()
    const machine = await startMachine(port)
    cleanups.push(() => machine.server.shutdown(0))
    const results: ReadResult[] = []

    // not trusted yet: a clear connect error pointing at the PKI folders
    const untrusted = createOpcuaDriver(device(machine.url), profile)
    cleanups.push(() => untrusted.close())
    await expect(untrusted.connect(AbortSignal.timeout(8000))).rejects.toMatchObject({
      code: 'EDGE_ERR_OPCUA_CERTIFICATE',
      message: expect.stringMatching(/certificate refused \(BadCertificateUntrusted\)[\s\S]*trusted/),
    })
    expect(untrusted.condition()).toMatchObject({ code: 'EDGE_ERR_OPCUA_CERTIFICATE' })

    await trustEachOther(machine)
    const bad = createOpcuaDriver(device(machine.url, { password: 'wrong' }), profile)
    cleanups.push(() => bad.close())
    expect(await codeOf(bad.connect(AbortSignal.timeout(8000)))).toBe('EDGE_ERR_AUTH')

    const driver = createOpcuaDriver(device(machine.url), profile)
    cleanups.push(() => driver.close())
    driver.subscribe!((r) => results.push(r))
    await driver.connect(AbortSignal.timeout(8000))
    await waitFor(
      'initial values',
      () => ['machine_state', 'active_power_kw', 'energy_import_kwh', 'output_count'].every((q) => results.some((r) => q in r.values)),
      5000,
    )
    const merged = Object.assign({}, ...results.map((r) => r.values)) as Record<string, number>
    expect(merged).toEqual({ machine_state: 2, active_power_kw: 12.5, energy_import_kwh: 1000, output_count: 7 })

    machine.set('PartCount', 8)
    await waitFor('changed count', () => results.some((r) => r.values.output_count === 8))
    // a bad status is marked bad and never published as a number
    machine.set('ActivePowerKw', 99, StatusCodes.BadSensorFailure)
    await waitFor('bad power', () => results.some((r) => r.quality.active_power_kw === 'bad'))
    const badOne = results.find((r) => r.quality.active_power_kw === 'bad')!
    expect(badOne.values).not.toHaveProperty('active_power_kw')
    expect(badOne.errors).toEqual([
      { point: 'active_power_kw', code: 'EDGE_ERR_OPCUA_STATUS', message: expect.stringMatching(/node ns=2;s=Machine.ActivePowerKw: BadSensorFailure/) },
    ])
    const poll = await driver.read(AbortSignal.timeout(2000))
    expect(poll.errors).toEqual([])
    expect(poll.values).toEqual({})

    // a node id that does not exist: a per-point error on every poll, the other point still flows
    const partial = createOpcuaDriver(device(machine.url), loadOpcuaProfile(withMissingNode))
    cleanups.push(() => partial.close())
    const got: ReadResult[] = []
    partial.subscribe!((r) => got.push(r))
    await partial.connect(AbortSignal.timeout(8000))
    await waitFor('count through the partial profile', () => got.some((r) => r.values.output_count === 8))
    const partialPoll = await partial.read(AbortSignal.timeout(2000))
    expect(partialPoll.errors).toEqual([
      { point: 'temperature_c', code: 'EDGE_ERR_OPCUA_NODE', message: expect.stringMatching(/node ns=2;s=Machine.NoSuchNode: BadNodeIdUnknown/) },
    ])
    // a missing node is bad quality on every poll, and the device's condition
    expect(partialPoll.quality).toEqual({ temperature_c: 'bad' })
    expect(partial.condition()).toMatchObject({ code: 'EDGE_ERR_OPCUA_NODE', message: expect.stringContaining('Machine.NoSuchNode') })

    // polled reads (mode poll) over the same secure channel settings
    const polled = createOpcuaDriver(device(machine.url, { mode: 'poll' }, withMissingNode), loadOpcuaProfile(withMissingNode))
    cleanups.push(() => polled.close())
    await polled.connect(AbortSignal.timeout(8000))
    const r = await polled.read(AbortSignal.timeout(3000))
    expect(r.values).toEqual({ output_count: 8 })
    expect(r.quality).toEqual({ temperature_c: 'bad' })
    expect(r.errors.map((e) => e.code)).toEqual(['EDGE_ERR_OPCUA_NODE'])
  })
})

describe('OPC UA monitored item settings', () => {
  it('an absolute deadband suppresses changes smaller than it (OPC UA Part 4 DataChangeFilter)', async () => {
    const port = await freePort()
    const machine = await startMachine(port)
    cleanups.push(() => machine.server.shutdown(0))
    await trustEachOther(machine)
    const driver = createOpcuaDriver(device(machine.url, { deadband: 'absolute', deadbandValue: 1, queueSize: 5 }), profile)
    cleanups.push(() => driver.close())
    const power: number[] = []
    driver.subscribe!((r) => {
      if (r.values.active_power_kw !== undefined) power.push(r.values.active_power_kw)
    })
    await driver.connect(AbortSignal.timeout(8000))
    await waitFor('initial power', () => power.length === 1)
    machine.set('ActivePowerKw', 12.9) // within the deadband of 12.5
    await new Promise((r) => setTimeout(r, 150))
    machine.set('ActivePowerKw', 14) // 1.5 away from the last reported value
    await waitFor('reported change', () => power.includes(14))
    expect(power).toEqual([12.5, 14])
  })

  it('values the server queued between two publishes (queueSize > 1) each arrive, in order, none overwritten', async () => {
    const port = await freePort()
    const machine = await startMachine(port)
    cleanups.push(() => machine.server.shutdown(0))
    await trustEachOther(machine)
    // sampled every 20 ms, published once a second: one publish response carries several values of an item
    const driver = createOpcuaDriver(device(machine.url, { samplingIntervalMs: 20, publishingIntervalMs: 1000, queueSize: 10 }), profile)
    cleanups.push(() => driver.close())
    const parts: { ts: number; n: number }[] = []
    driver.subscribe!((r) => {
      if (r.values.output_count !== undefined) parts.push({ ts: r.ts, n: r.values.output_count })
    })
    await driver.connect(AbortSignal.timeout(8000))
    await waitFor('initial count', () => parts.length === 1, 5000)
    for (const n of [8, 9, 10, 11]) {
      await new Promise((r) => setTimeout(r, 120))
      machine.set('PartCount', n)
    }
    await waitFor('every queued count', () => parts.length >= 5, 5000)
    expect(parts.map((p) => p.n)).toEqual([7, 8, 9, 10, 11])
    // one sample per source timestamp, oldest first
    expect(parts.map((p) => p.ts)).toEqual([...parts.map((p) => p.ts)].sort((a, b) => a - b))
    expect(new Set(parts.map((p) => p.ts)).size).toBe(5)
  })
})

describe('OPC UA subscribe mode: the node check', () => {
  it('a deleted node is bad in the next pushed sample, before any poll; every poll reads every node', async () => {
    const port = await freePort()
    const machine = await startMachine(port)
    cleanups.push(() => machine.server.shutdown(0))
    await trustEachOther(machine)
    const driver = createOpcuaDriver(device(machine.url), profile)
    cleanups.push(() => driver.close())
    const results: ReadResult[] = []
    driver.subscribe!((r) => results.push(r))
    await driver.connect(AbortSignal.timeout(8000))
    await waitFor('initial values', () => results.some((r) => r.values.output_count === 7), 5000)
    // What the server is asked: the node ids of each Read.
    const reads: string[][] = []
    machine.server.on('request', (request: { schema: { name: string }; nodesToRead?: { nodeId: { toString(): string } }[] }) => {
      if (request.schema.name === 'ReadRequest') reads.push((request.nodesToRead ?? []).map((n) => n.nodeId.toString()))
    })
    const all = ['ns=2;s=Machine.State', 'ns=2;s=Machine.ActivePowerKw', 'ns=2;s=Machine.EnergyKwh', 'ns=2;s=Machine.PartCount']
    machine.set('PartCount', 8)
    await waitFor('the change pushed', () => results.some((r) => r.values.output_count === 8))
    // a node that notified is checked too: a server that deletes a node need not say so
    expect(await driver.read(AbortSignal.timeout(2000))).toMatchObject({ values: {}, quality: {}, errors: [] })
    expect(reads).toEqual([all])

    // Deleted: the server's notification makes it bad at once, without waiting for a poll.
    const before = results.length
    machine.remove('ActivePowerKw')
    await waitFor('bad power pushed', () => results.slice(before).some((r) => r.quality.active_power_kw === 'bad'), 3000)
    const pushed = results.slice(before).find((r) => r.quality.active_power_kw === 'bad')!
    expect(pushed.values).not.toHaveProperty('active_power_kw')
    expect(pushed.errors).toEqual([
      {
        point: 'active_power_kw',
        code: 'EDGE_ERR_OPCUA_NODE',
        message: expect.stringMatching(/node ns=2;s=Machine.ActivePowerKw: BadNodeId(Invalid|Unknown)$/),
      },
    ])
    // The next poll reads it, reports it as the device's trouble, and on every poll after.
    for (let i = 0; i < 2; i++) {
      const check = await driver.read(AbortSignal.timeout(2000))
      expect(check.quality).toEqual({ active_power_kw: 'bad' })
      expect(check.errors).toEqual([
        {
          point: 'active_power_kw',
          code: 'EDGE_ERR_OPCUA_NODE',
          message: expect.stringMatching(/node ns=2;s=Machine.ActivePowerKw: BadNodeIdUnknown \(no longer in the server's address space\)/),
        },
      ])
      expect(reads.at(-1)).toEqual(all)
    }
    expect(driver.condition()).toMatchObject({ code: 'EDGE_ERR_OPCUA_NODE', message: expect.stringContaining('Machine.ActivePowerKw: BadNodeIdUnknown') })
    machine.set('PartCount', 9)
    await waitFor('the others still flow', () => results.some((r) => r.values.output_count === 9))
  })
})

describe('edge agent with an OPC UA machine', () => {
  it('publishes pushed values and re-creates its session and subscription after the server restarts', async () => {
    const { startEdgeAgent } = await import('../agent.ts')
    const port = await freePort()
    let machine = await startMachine(port)
    cleanups.push(() => machine.server.shutdown(0))
    await trustEachOther(machine)
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribeData(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const d = device(machine.url)
    const config = validateConfig(EdgeConfigSchema, { agentId: 'edge-ua', buffer: 'memory', devices: [{ ...structuredClone(d) }] }, 't')
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })
    cleanups.push(() => agent.close())
    const samples = () => sub.messages.flatMap((m) => m.payload.samples)
    await waitFor('first values', () => samples().some((s) => s.values.output_count === 7), 8000)
    expect(agent.status().devices[0]).toMatchObject({ driver: 'opcua', connected: true, endpoint: `${machine.url} SignAndEncrypt/Basic256Sha256` })

    await machine.server.shutdown(0)
    await waitFor('the agent notices', () => agent.status().devices[0]!.connected === false, 8000)
    machine = await startMachine(port)
    machine.set('PartCount', 42)
    await waitFor('values from the restarted server', () => samples().some((s) => s.values.output_count === 42), 10_000)
    expect(agent.status().devices[0]!.connected).toBe(true)
    const seqs = sub.messages.map((m) => m.payload.seq)
    expect(seqs).toEqual(seqs.map((_, i) => i))
  })
})

describe('OPC UA helpers', () => {
  it('every shipped OPC UA profile loads and names its source', () => {
    expect(shippedOpcuaProfiles()).toContain('generic-cnc')
    for (const name of shippedOpcuaProfiles()) expect(loadOpcuaProfile(name).source.length).toBeGreaterThan(20)
    const file = join(root, 'bad.yaml')
    writeFileSync(
      file,
      [
        'name: b',
        'vendor: V',
        'model: M',
        'source: s',
        'points:',
        '  - { quantity: watts, nodeId: ns=2;s=A }',
        '  - { quantity: output_count, nodeId: Machine.Count }',
      ].join('\n'),
    )
    expect(() => loadOpcuaProfile(file)).toThrow(
      /\/points\/0\/quantity: unknown quantity "watts" \(node ns=2;s=A\)[\s\S]*\/points\/1\/nodeId: output_count: "Machine.Count" is not a node id/,
    )
  })

  it('converts variant values and maps text', () => {
    const p = { scale: 0.001, offset: 0, map: { RUN: 2 } }
    expect(toNumber(1500, p)).toEqual({ ok: true, value: 1.5 })
    expect(toNumber(true, { scale: 1, offset: 0 })).toEqual({ ok: true, value: 1 })
    expect(toNumber([1, 0], { scale: 1, offset: 0 })).toEqual({ ok: true, value: 2 ** 32 })
    expect(toNumber('RUN', { scale: 1, offset: 0, map: { RUN: 2 } })).toEqual({ ok: true, value: 2 })
    expect(toNumber('JAM', { scale: 1, offset: 0, map: { RUN: 2 } })).toMatchObject({ ok: false })
    expect(toNumber(null, p)).toMatchObject({ ok: false })
  })
})
