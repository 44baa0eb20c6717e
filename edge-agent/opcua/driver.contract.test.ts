import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../../core/config.ts'
import type { MachineSnapshot } from '../../simulators/opcua/machine.ts'
import { startOpcuaMachineServer } from '../../simulators/opcua/server.ts'
import { ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import { describeDriverContract, startFaultProxy, type DriverUnderTest } from '../driver.contract.ts'
import { BUILTIN_DRIVERS } from '../drivers.ts'

/**
 * The driver contract for OPC UA, against the project's machine server (simulators/opcua) behind a
 * fault proxy: polled (Read service) and pushed (subscription), each through the registry's
 * factory as the agent builds it.
 */

const create = (config: EdgeDeviceConfig) => (BUILTIN_DRIVERS.opcua as (d: EdgeDeviceConfig) => ReturnType<DriverUnderTest['create']>)(config)
/** A NaN on a Double node (good status) is garbage the driver must not publish as good. */
const SPOILED = ['active_power_kw']

async function opcuaUnderTest(mode: 'poll' | 'subscribe'): Promise<DriverUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-opcua-contract-'))
  let snap: MachineSnapshot = { ts: Date.now(), state: 2, stateName: 'running', powerKw: 41.5, energyKwh: 1200.25, partCount: 17, product: 'brake-disc' }
  let spoiled = false
  const server = await startOpcuaMachineServer({
    pkiFolder: join(dir, 'server-pki'),
    name: 'contract',
    machines: [{ id: 'cnc1', kind: 'cnc', snapshot: () => (spoiled ? { ...snap, powerKw: Number.NaN } : snap) }],
  })
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port })
  const ids = server.nodeIds.cnc1!
  const profile = join(dir, 'sim-machine.yaml')
  writeFileSync(
    profile,
    [
      'name: sim-machine',
      'vendor: PlantWatt',
      'model: simulator',
      'source: simulators/opcua/server.ts',
      'points:',
      `  - { quantity: machine_state, nodeId: "${ids.State}" }`,
      `  - { quantity: active_power_kw, nodeId: "${ids.PowerKw}" }`,
      `  - { quantity: energy_import_kwh, nodeId: "${ids.EnergyKwh}" }`,
      `  - { quantity: output_count, nodeId: "${ids.PartCount}" }`,
    ].join('\n'),
  )
  const url = server.endpointUrl.replace(`:${server.port}`, `:${proxy.port}`)
  const opcua = {
    endpointUrl: url,
    securityMode: 'None',
    securityPolicy: 'None',
    pkiDir: join(dir, 'client-pki'),
    mode,
    samplingIntervalMs: 0,
    publishingIntervalMs: 50,
  }
  const config = (timeoutMs: number, over: Record<string, unknown> = {}, top: Record<string, unknown> = {}): EdgeDeviceConfig =>
    validateConfig(
      ModbusDeviceSchema,
      { enterprise: 'e', site: 's', line: 'l', device: 'cnc1', driver: 'opcua', profile, opcua: { ...opcua, timeoutMs, ...over }, ...top },
      'contract',
    ) as EdgeDeviceConfig
  const publish = () => {
    snap = { ...snap, ts: Math.max(Date.now(), snap.ts + 1) }
    server.publish()
  }
  return {
    mode: mode === 'poll' ? 'poll' : 'push',
    create,
    config: (timeoutMs) => config(timeoutMs),
    badConfigs: {
      'security mode None with policy Basic256Sha256': config(1000, { securityPolicy: 'Basic256Sha256' }),
      'SignAndEncrypt with policy None': config(1000, { securityMode: 'SignAndEncrypt' }),
      'no opcua: section': validateConfig(
        ModbusDeviceSchema,
        { enterprise: 'e', site: 's', line: 'l', device: 'cnc1', driver: 'opcua', profile },
        'contract',
      ) as EdgeDeviceConfig,
    },
    // One Read request per poll; a push driver's keep-alive (publishing interval × 10) plus the timeout.
    readTimeoutBoundMs: (timeoutMs) => (mode === 'poll' ? timeoutMs : 10 * 50 + 2 * timeoutMs),
    shortTimeoutMs: 1000,
    tolerance: (v) => Math.max(1e-12, Math.abs(v) * 1e-12), // Double and UInt32 nodes: exact
    peer: {
      expected: () => ({ machine_state: snap.state, active_power_kw: snap.powerKw, energy_import_kwh: snap.energyKwh, output_count: snap.partCount }),
      change() {
        snap = {
          ...snap,
          powerKw: snap.powerKw + 1.25,
          energyKwh: snap.energyKwh + 0.5,
          partCount: snap.partCount + 1,
          state: snap.state === 2 ? 1 : 2,
          stateName: snap.state === 2 ? 'idle' : 'running',
        }
        publish()
      },
      spoil() {
        spoiled = true
        publish()
        return SPOILED
      },
      heal() {
        spoiled = false
        publish()
      },
      setResponding: (on) => proxy.setResponding(on),
      drop: () => proxy.drop(),
      restore: () => proxy.restore(),
      clientLinks: async () => proxy.open,
      activity: () => proxy.accepted,
      close: () => proxy.close(),
    },
    async cleanup() {
      await proxy.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describeDriverContract('opcua poll (simulator machine server, Read service)', () => opcuaUnderTest('poll'))
describeDriverContract('opcua subscribe (simulator machine server, monitored items)', () => opcuaUnderTest('subscribe'))
