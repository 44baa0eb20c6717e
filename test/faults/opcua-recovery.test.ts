/**
 * OPC UA faults under a running edge agent (issue 19 item 4): a machine server in its own process
 * loses a node, is killed (SIGKILL), comes back with a regenerated certificate the agent does not
 * trust, and is trusted again. Two devices on it, one subscribed and one polled. The agent must say
 * what happened: bad quality published, the current error code and text in each device's retained
 * state, each change of cause logged once, node-opcua's own output in our log at debug and not on
 * the console.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { decodePayload, type Sample } from '../../core/payload.ts'
import { startEdgeAgent } from '../../edge-agent/agent.ts'
import { EdgeConfigSchema } from '../../edge-agent/config.ts'
import { ensureOpcuaCertificate, opcuaCertificateManager } from '../../edge-agent/opcua/certificates.ts'
import type { StateMessage } from '../../edge-agent/publisher.ts'
import { startTestBroker, waitFor } from '../../edge-agent/testing/mqtt.ts'
import { type OpcuaServerProcess, startOpcuaServerProcess } from '../../simulators/opcua/server-process.ts'

const root = mkdtempSync(join(tmpdir(), 'pw-opcua-faults-'))
const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined)
  rmSync(root, { recursive: true, force: true })
})

interface LogLine {
  level: number
  msg: string
  device?: string
  code?: string
  library?: string
}

const DEVICES = ['cnc-sub', 'cnc-poll'] as const
const derOfPem = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')

describe('OPC UA server faults under a running agent', () => {
  it('lost node, SIGKILL, new untrusted certificate, trusted again: bad quality, state error, one log line per cause', { timeout: 120_000 }, async () => {
    const pkiDir = join(root, 'agent-pki')
    const serverPki = join(root, 'server-pki')
    const conn = { pkiDir, applicationName: 'PlantWatt edge' }
    const agentCert = derOfPem(readFileSync(await ensureOpcuaCertificate({ ...conn, endpointUrl: 'opc.tcp://x:1' } as never), 'utf8'))
    const trustServer = async (server: OpcuaServerProcess) => {
      const cm = await opcuaCertificateManager(conn)
      await cm.trustCertificate(server.certificate)
      await cm.dispose()
    }
    const start = (port = 0, newCertificate = false) =>
      startOpcuaServerProcess({
        port,
        pkiFolder: serverPki,
        newCertificate,
        name: 'faults',
        machines: ['cnc1'],
        trust: [agentCert.toString('base64')],
        tickMs: 100,
      })
    let server = await start()
    cleanups.push(() => server.stop())
    await trustServer(server)
    const port = server.port
    const ids = server.nodeIds.cnc1 as Record<string, string>
    const profile = join(root, 'machine.yaml')
    writeFileSync(
      profile,
      [
        'name: faults',
        'vendor: PlantWatt',
        'model: simulator',
        'source: simulators/opcua',
        'points:',
        `  - { quantity: output_count, nodeId: "${ids.PartCount}" }`,
        `  - { quantity: active_power_kw, nodeId: "${ids.PowerKw}" }`,
      ].join('\n'),
    )

    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub: MqttClient = await connectAsync(broker.url, { clientId: 'faults-sub', reconnectPeriod: 0 })
    cleanups.push(() => sub.endAsync(true))
    const states: Record<string, StateMessage[]> = { 'cnc-sub': [], 'cnc-poll': [] }
    const samples: Record<string, Sample[]> = { 'cnc-sub': [], 'cnc-poll': [] }
    sub.on('message', (topic, payload) => {
      const [, , , , , device, channel] = topic.split('/')
      if (!device || !(device in states)) return
      if (channel === 'state') states[device]?.push(JSON.parse(payload.toString()) as StateMessage)
      if (channel === 'data') samples[device]?.push(...decodePayload(payload).samples)
    })
    await sub.subscribeAsync('pw/v1/#', { qos: 1 })

    const logs: LogLine[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) })
    const consoleLog = vi.spyOn(console, 'log')
    cleanups.push(async () => consoleLog.mockRestore())
    const opcua = {
      endpointUrl: server.endpointUrl,
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      ...conn,
      timeoutMs: 2000,
      samplingIntervalMs: 100,
      publishingIntervalMs: 100,
    }
    const place = { enterprise: 'e', site: 's', line: 'l', driver: 'opcua', profile, pollIntervalMs: 200 }
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-faults',
        buffer: 'memory',
        statusIntervalMs: 60_000,
        devices: [
          { ...place, device: 'cnc-sub', opcua: { ...opcua, mode: 'subscribe' } },
          { ...place, device: 'cnc-poll', opcua: { ...opcua, mode: 'poll' } },
        ],
      },
      't',
    )
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 }, logger })
    cleanups.push(() => agent.close())
    const lastState = (d: string) => states[d]?.at(-1)
    const good = (d: string) => samples[d]?.some((s) => (s.values.output_count ?? 0) > 0 && s.values.active_power_kw !== undefined) ?? false
    await waitFor('values from both devices', () => DEVICES.every(good), 20_000)

    // 1. A node disappears: bad quality for that point in both modes, the other goes on; the state says which.
    const before = Object.fromEntries(DEVICES.map((d) => [d, samples[d]?.length ?? 0]))
    await server.removeVariable('cnc1', 'PowerKw')
    const lostPower = (d: string) => samples[d]?.slice(before[d]).some((s) => s.quality?.active_power_kw === 'bad') ?? false
    await waitFor('the lost node published bad', () => DEVICES.every(lostPower), 10_000)
    await waitFor('the lost node in the state', () => DEVICES.every((d) => lastState(d)?.error?.code === 'EDGE_ERR_OPCUA_NODE'), 10_000)
    for (const d of DEVICES) {
      expect(lastState(d)).toMatchObject({
        status: 'online',
        error: { code: 'EDGE_ERR_OPCUA_NODE', message: expect.stringContaining(`${ids.PowerKw}: BadNodeIdUnknown`) },
      })
      const after = samples[d]?.slice(before[d]) ?? []
      // once marked bad, the lost point is never published as a number
      const firstBad = after.findIndex((s) => s.quality?.active_power_kw === 'bad')
      expect(after.slice(firstBad).filter((s) => s.values.active_power_kw !== undefined)).toEqual([])
      // the other point goes on counting
      const countBefore = Math.max(...(samples[d]?.slice(0, before[d]).map((s) => s.values.output_count ?? 0) ?? [0]))
      await waitFor(`${d} counting on`, () => samples[d]?.slice(before[d]).some((s) => (s.values.output_count ?? 0) > countBefore) ?? false, 5000)
      expect(logs.filter((l) => l.device === `e/s/l/${d}` && l.msg === 'device trouble' && l.code === 'EDGE_ERR_OPCUA_NODE')).toHaveLength(1)
    }

    // 2. SIGKILL: every point bad while the server is away, the state offline with the connect error.
    const beforeKill = Object.fromEntries(DEVICES.map((d) => [d, samples[d]?.length ?? 0]))
    server.signal('SIGKILL')
    await server.exited
    await waitFor(
      'offline with the connect error',
      () => DEVICES.every((d) => lastState(d)?.status === 'offline' && lastState(d)?.error?.code === 'EDGE_ERR_CONNECT'),
      15_000,
    ).catch((err) => {
      console.error(
        JSON.stringify(states, null, 1).slice(-3000),
        logs
          .filter((l) => l.level >= 30)
          .map((l) => JSON.stringify(l))
          .join('\n'),
      )
      throw err
    })
    const allBad = (s: Sample) => Object.keys(s.values).length === 0 && s.quality?.output_count === 'bad' && s.quality?.active_power_kw === 'bad'
    await waitFor('all-bad samples during the outage', () => DEVICES.every((d) => (samples[d]?.slice(beforeKill[d]).filter(allBad).length ?? 0) >= 3), 15_000)
    for (const d of DEVICES)
      expect(lastState(d)?.error?.message).toMatch(/cannot connect to opc\.tcp:\/\/127\.0\.0\.1:\d+\/plantwatt SignAndEncrypt\/Basic256Sha256/)

    // 3. The server comes back with a new certificate: the cause changes, and is logged once.
    server = await start(port, true)
    await waitFor('certificate refused in the state', () => DEVICES.every((d) => lastState(d)?.error?.code === 'EDGE_ERR_OPCUA_CERTIFICATE'), 20_000)
    const errorsNow = agent.status().devices.map((d) => d.readErrors)
    await waitFor('three more refused attempts', () => agent.status().devices.every((d, i) => d.readErrors >= (errorsNow[i] ?? 0) + 3), 20_000)
    for (const d of DEVICES) {
      expect(lastState(d)).toMatchObject({
        status: 'offline',
        error: { code: 'EDGE_ERR_OPCUA_CERTIFICATE', message: expect.stringContaining('BadCertificateUntrusted') },
      })
      const changes = logs.filter((l) => l.device === `e/s/l/${d}` && l.msg === 'device trouble changed' && l.code === 'EDGE_ERR_OPCUA_CERTIFICATE')
      expect(changes).toHaveLength(1)
    }
    // node-opcua's own lines (a certificate dump per attempt) are in our log at debug, not on the console
    const library = logs.filter((l) => l.library === 'node-opcua')
    expect(library.length).toBeGreaterThan(0)
    expect(library.every((l) => l.level === 20)).toBe(true)
    expect(library.some((l) => /certificate/i.test(l.msg))).toBe(true)
    expect(consoleLog.mock.calls.filter((c) => c.some((a) => /client_base_impl|NODE-OPCUA/.test(String(a))))).toEqual([])

    // 4. Trusted again: online, no error, values again, the end of the trouble logged.
    await trustServer(server)
    const beforeTrust = Object.fromEntries(DEVICES.map((d) => [d, samples[d]?.length ?? 0]))
    await waitFor('online without error', () => DEVICES.every((d) => lastState(d)?.status === 'online' && lastState(d)?.error === undefined), 20_000).catch(
      (err) => {
        console.error(
          JSON.stringify(DEVICES.map((d) => lastState(d))),
          logs
            .filter((l) => l.level >= 30)
            .slice(-10)
            .map((l) => JSON.stringify(l))
            .join('\n'),
        )
        throw err
      },
    )
    await waitFor(
      'values again',
      () => DEVICES.every((d) => samples[d]?.slice(beforeTrust[d]).some((s) => s.values.active_power_kw !== undefined) ?? false),
      10_000,
    )
    for (const d of DEVICES) expect(logs.filter((l) => l.device === `e/s/l/${d}` && l.msg === 'device trouble over').length).toBeGreaterThanOrEqual(1)
  })
})
