import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { AttributeIds, OPCUACertificateManager, OPCUAClient, VariableIds } from 'node-opcua'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { decodePayload, type Sample } from '../../core/payload.ts'
import type { MachineSnapshot } from '../../simulators/opcua/machine.ts'
import { startOpcuaMachineServer } from '../../simulators/opcua/server.ts'
import { startOpcuaServerProcess } from '../../simulators/opcua/server-process.ts'
import { EdgeConfigSchema, ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import type { ObservableDriver } from '../device-table.ts'
import type { ReadResult } from '../driver.ts'
import type { StateMessage } from '../publisher.ts'
import { startTestBroker, waitFor } from '../testing/mqtt.ts'
import { createOpcuaDriver, opcuaSessionsInUse } from './driver.ts'
import { loadOpcuaProfile } from './profile.ts'

/**
 * Devices on one OPC UA endpoint share one session and subscription (session.ts), each with its own
 * items, node check, qualities and condition. The session count is the server's own
 * (ServerDiagnosticsSummary.CurrentSessionCount, OPC UA Part 5), read by a client of the test.
 */

const root = mkdtempSync(join(tmpdir(), 'pw-opcua-shared-'))
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Sessions the server has open, not counting the one this function opens to ask. */
async function serverSessions(endpointUrl: string): Promise<number> {
  const clientCertificateManager = new OPCUACertificateManager({ rootFolder: join(root, 'reader-pki'), automaticallyAcceptUnknownCertificate: false })
  const client = OPCUAClient.create({ endpointMustExist: false, clientCertificateManager, connectionStrategy: { maxRetry: 0 } })
  await client.connect(endpointUrl)
  try {
    const session = await client.createSession()
    const dv = await session.read({
      nodeId: VariableIds.Server_ServerDiagnostics_ServerDiagnosticsSummary_CurrentSessionCount,
      attributeId: AttributeIds.Value,
    })
    await session.close()
    return (dv.value.value as number) - 1
  } finally {
    await client.disconnect()
  }
}

function profileOf(name: string, ids: Record<string, string>): string {
  const file = join(root, `${name}.yaml`)
  const points = [
    ['machine_state', ids.State],
    ['active_power_kw', ids.PowerKw],
    ['energy_import_kwh', ids.EnergyKwh],
    ['output_count', ids.PartCount],
  ].map(([q, n]) => `  - { quantity: ${q}, nodeId: "${n}" }`)
  writeFileSync(file, [`name: ${name}`, 'vendor: PlantWatt', 'model: simulator', 'source: simulators/opcua', 'points:', ...points, ''].join('\n'))
  return file
}

function deviceConfig(name: string, profile: string, endpointUrl: string, opcua: Record<string, unknown> = {}): EdgeDeviceConfig {
  return validateConfig(
    ModbusDeviceSchema,
    {
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: name,
      driver: 'opcua',
      profile,
      pollIntervalMs: 200,
      opcua: {
        endpointUrl,
        securityMode: 'None',
        securityPolicy: 'None',
        pkiDir: join(root, 'agent-pki'),
        samplingIntervalMs: 50,
        publishingIntervalMs: 100,
        timeoutMs: 3000,
        ...opcua,
      },
    },
    't',
  ) as EdgeDeviceConfig
}

const snapshot = (powerKw: number, partCount: number): MachineSnapshot => ({
  ts: Date.now(),
  state: 2,
  stateName: 'running',
  powerKw,
  energyKwh: 1000 + powerKw,
  partCount,
  product: 'disc',
})

describe('OPC UA devices on one endpoint', () => {
  it('share one session and subscription, each with its own values and bad nodes; `session: own` opts out; the last close ends it', async () => {
    let parts = { cnc1: 10, cnc2: 500 }
    const server = await startOpcuaMachineServer({
      pkiFolder: join(root, 'server-pki'),
      name: 'shared',
      machines: [
        { id: 'cnc1', kind: 'cnc', snapshot: () => snapshot(11.5, parts.cnc1) },
        { id: 'cnc2', kind: 'cnc', snapshot: () => snapshot(22.5, parts.cnc2) },
      ],
    })
    cleanups.push(() => server.close())
    const url = server.endpointUrl
    const p1 = profileOf('cnc1', server.nodeIds.cnc1 as Record<string, string>)
    const p2 = profileOf('cnc2', server.nodeIds.cnc2 as Record<string, string>)
    const start = async (config: EdgeDeviceConfig, profile: string) => {
      const driver = createOpcuaDriver(config, loadOpcuaProfile(profile))
      cleanups.push(() => driver.close())
      const got: ReadResult[] = []
      driver.subscribe?.((r) => got.push(r))
      return { driver, got, merged: () => Object.assign({}, ...got.map((r) => r.values)) as Record<string, number> }
    }
    const a = await start(deviceConfig('a', p1, url), p1)
    const b = await start(deviceConfig('b', p2, url), p2)
    await Promise.all([a.driver.connect(AbortSignal.timeout(8000)), b.driver.connect(AbortSignal.timeout(8000))])
    await waitFor('values of both machines', () => a.merged().output_count === 10 && b.merged().output_count === 500, 5000)
    expect(a.merged()).toEqual({ machine_state: 2, active_power_kw: 11.5, energy_import_kwh: 1011.5, output_count: 10 })
    expect(b.merged()).toEqual({ machine_state: 2, active_power_kw: 22.5, energy_import_kwh: 1022.5, output_count: 500 })
    // no value of one machine in the other device's samples
    expect(a.got.every((r) => r.values.output_count === undefined || r.values.output_count < 100)).toBe(true)
    expect(await serverSessions(url)).toBe(1)
    expect(opcuaSessionsInUse()).toMatchObject([{ key: expect.stringContaining(url), devices: 2 }])
    // Node checks of one event-loop turn (the pollers tick on one grid) go out as one Read.
    const readsBefore = opcuaSessionsInUse()[0]!.reads
    const [checkedA, checkedB] = await Promise.all([a.driver.read(AbortSignal.timeout(3000)), b.driver.read(AbortSignal.timeout(3000))])
    expect([checkedA.errors, checkedB.errors]).toEqual([[], []])
    expect(opcuaSessionsInUse()[0]!.reads).toBe(readsBefore + 1)

    // A node deleted from device a's machine: a's point is bad and a's condition; b is untouched.
    server.removeVariable('cnc1', 'PowerKw')
    const checkA = await a.driver.read(AbortSignal.timeout(3000))
    expect(checkA.quality).toEqual({ active_power_kw: 'bad' })
    expect(checkA.errors).toEqual([
      { point: 'active_power_kw', code: 'EDGE_ERR_OPCUA_NODE', message: expect.stringContaining('cnc1.PowerKw: BadNodeIdUnknown') },
    ])
    expect((a.driver as ObservableDriver).condition()).toMatchObject({ code: 'EDGE_ERR_OPCUA_NODE' })
    expect(await b.driver.read(AbortSignal.timeout(3000))).toMatchObject({ quality: {}, errors: [] })
    expect((b.driver as ObservableDriver).condition()).toBeUndefined()
    parts = { cnc1: 11, cnc2: 501 }
    server.publish()
    await waitFor('both go on', () => a.merged().output_count === 11 && b.merged().output_count === 501, 5000)

    // Opting out: a device with `session: own` on the same endpoint gets a second session.
    const c = await start(deviceConfig('c', p2, url, { session: 'own' }), p2)
    await c.driver.connect(AbortSignal.timeout(8000))
    await waitFor('own values', () => c.merged().output_count === 501, 5000)
    expect(await serverSessions(url)).toBe(2)

    // Closing a keeps b flowing on the shared session (a's items gone from it); closing b ends it.
    await a.driver.close()
    expect(await serverSessions(url)).toBe(2)
    const aBefore = a.got.length
    parts = { cnc1: 12, cnc2: 502 }
    server.publish()
    await waitFor('b after a closed', () => b.merged().output_count === 502, 5000)
    expect(a.got.slice(aBefore)).toEqual([])
    expect(await b.driver.read(AbortSignal.timeout(3000))).toMatchObject({ errors: [] })
    await b.driver.close()
    await waitFor('the shared session closed', () => opcuaSessionsInUse().length === 0)
    expect(await serverSessions(url)).toBe(1)
    await c.driver.close()
    expect(await serverSessions(url)).toBe(0)
  })

  it('a server killed and restarted: every device on the session publishes bad with the error, and each comes back', { timeout: 60_000 }, async () => {
    const start = (port = 0) =>
      startOpcuaServerProcess({ port, pkiFolder: join(root, 'process-pki'), name: 'shared-restart', machines: ['cnc1', 'cnc2'], tickMs: 100 })
    let server = await start()
    cleanups.push(() => server.stop())
    const port = server.port
    const devices = ['m1', 'm2'] as const
    const p1 = profileOf('proc-cnc1', server.nodeIds.cnc1 as Record<string, string>)
    const p2 = profileOf('proc-cnc2', server.nodeIds.cnc2 as Record<string, string>)
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub: MqttClient = await connectAsync(broker.url, { clientId: 'shared-sub', reconnectPeriod: 0 })
    cleanups.push(() => sub.endAsync(true))
    const states: Record<string, StateMessage[]> = { m1: [], m2: [] }
    const samples: Record<string, Sample[]> = { m1: [], m2: [] }
    sub.on('message', (topic, payload) => {
      const [, , , , , device, channel] = topic.split('/')
      if (!device || !(device in states)) return
      if (channel === 'state') states[device]?.push(JSON.parse(payload.toString()) as StateMessage)
      if (channel === 'data') samples[device]?.push(...decodePayload(payload).samples)
    })
    await sub.subscribeAsync('pw/v1/#', { qos: 1 })
    const { startEdgeAgent } = await import('../agent.ts')
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-shared',
        buffer: 'memory',
        statusIntervalMs: 60_000,
        devices: [deviceConfig('m1', p1, server.endpointUrl), deviceConfig('m2', p2, server.endpointUrl)],
      },
      't',
    )
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })
    cleanups.push(() => agent.close())
    const counting = (d: string, from = 0) => samples[d]?.slice(from).some((s) => (s.values.output_count ?? 0) > 0) ?? false
    await waitFor('values from both devices', () => devices.every((d) => counting(d)), 20_000)
    expect(await serverSessions(server.endpointUrl)).toBe(1)

    const before = Object.fromEntries(devices.map((d) => [d, samples[d]?.length ?? 0]))
    server.signal('SIGKILL')
    await server.exited
    const lastState = (d: string) => states[d]?.at(-1)
    await waitFor('both offline with the error', () => devices.every((d) => lastState(d)?.status === 'offline' && lastState(d)?.error !== undefined), 15_000)
    const allBad = (s: Sample) => Object.keys(s.values).length === 0 && s.quality?.output_count === 'bad' && s.quality?.machine_state === 'bad'
    await waitFor('all-bad samples from both', () => devices.every((d) => (samples[d]?.slice(before[d]).filter(allBad).length ?? 0) >= 2), 15_000)
    for (const d of devices) {
      expect(lastState(d)?.error?.code).toMatch(/^EDGE_ERR_(CONNECT|CONNECTION)$/)
      expect(lastState(d)?.error?.message).toContain(`127.0.0.1:${port}`)
    }

    server = await start(port)
    const restarted = Object.fromEntries(devices.map((d) => [d, samples[d]?.length ?? 0]))
    await waitFor('both back', () => devices.every((d) => lastState(d)?.status === 'online' && counting(d, restarted[d])), 20_000)
    expect(await serverSessions(server.endpointUrl)).toBe(1)
    await agent.close()
    expect(await serverSessions(server.endpointUrl)).toBe(0)
  })
})
