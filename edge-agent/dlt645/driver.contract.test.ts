import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../../core/config.ts'
import { SimMeter } from '../../simulators/dlt645/meter.ts'
import { type Dlt645Simulator, startDlt645Simulator } from '../../simulators/dlt645/server.ts'
import { requireCommand } from '../../test/system.ts'
import { ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import { describeDriverContract, type DriverPeer, type DriverUnderTest, startFaultProxy } from '../driver.contract.ts'
import { BUILTIN_DRIVERS } from '../drivers.ts'
import { loadDlt645Profile } from './profile.ts'
import { portHeld, ptyPairAt as ptyPair } from '../testing/pty-pair.ts'

/**
 * The driver contract for DL/T 645-2007, against the project's own 645 simulator (simulators/dlt645,
 * which encodes frames on its own): through a DTU (TCP, behind a fault proxy) and on a serial line
 * (socat pty pair).
 */

const PROFILE = 'dlt645-2007-generic'
const POINTS = loadDlt645Profile(PROFILE).points
const ADDRESS = '000012345678'
/** Served as FF bytes (BCD out of range) when spoiled. */
const SPOILED_DIS = ['0201FF00', '02800002']

function meterControl(): { meter: SimMeter; control: Pick<DriverPeer, 'expected' | 'change' | 'spoil' | 'heal'> } {
  const meter = new SimMeter({ address: ADDRESS })
  return {
    meter,
    control: {
      expected() {
        const out: Record<string, number> = {}
        for (const p of POINTS) {
          const v = meter.served(p.di, p.quantity)
          if (v === undefined) throw new Error(`the simulator serves no ${p.quantity} in ${p.di}`)
          out[p.quantity] = v
        }
        return out
      },
      change: () => meter.tick(),
      spoil() {
        meter.setFault({ kind: 'bad-bcd' }, SPOILED_DIS)
        return POINTS.filter((p) => SPOILED_DIS.includes(p.di)).map((p) => p.quantity)
      },
      heal: () => meter.clearFaults(),
    },
  }
}

const create = (config: EdgeDeviceConfig) => (BUILTIN_DRIVERS.dlt645 as (d: EdgeDeviceConfig) => ReturnType<DriverUnderTest['create']>)(config)
const deviceConfig = (dlt645: Record<string, unknown>, over: Record<string, unknown> = {}): EdgeDeviceConfig =>
  validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: 'm1', driver: 'dlt645', profile: PROFILE, retries: 0, dlt645, ...over },
    'contract',
  ) as EdgeDeviceConfig
// BCD values are exact decimals: only float rounding of the division.
const tolerance = (v: number) => Math.max(1e-9, Math.abs(v) * 1e-12)

describeDriverContract('dlt645 through a DTU (TCP, 645 simulator)', async () => {
  const { meter, control } = meterControl()
  const sim = await startDlt645Simulator({ meters: [meter], tcp: { port: 0 } })
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: sim.port as number })
  const tcp = { transport: 'tcp', host: '127.0.0.1', port: proxy.port, address: ADDRESS }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...tcp, timeoutMs }),
    badConfigs: {
      'a serial path on a DTU connection': deviceConfig({ ...tcp, path: '/dev/ttyUSB0' }),
      'a DTU without a port': deviceConfig({ transport: 'tcp', host: '127.0.0.1', address: ADDRESS }),
      'no dlt645: section': deviceConfig(tcp, { dlt645: undefined }),
      'an opcua: section on a DL/T 645 device': deviceConfig(tcp, { opcua: { endpointUrl: 'opc.tcp://127.0.0.1:4840' } }),
    },
    // One bus: after the first unanswered request the rest of the poll is skipped.
    readTimeoutBoundMs: (timeoutMs) => timeoutMs,
    tolerance,
    peer: {
      ...control,
      setResponding: (on) => proxy.setResponding(on),
      drop: () => proxy.drop(),
      restore: () => proxy.restore(),
      clientLinks: async () => proxy.open,
      activity: () => proxy.accepted + sim.stats().requests,
      close: () => proxy.close(),
    },
    async cleanup() {
      await proxy.close()
      await sim.close()
    },
  }
})

describeDriverContract('dlt645 on a serial line (645 simulator, socat pty pair)', async () => {
  requireCommand('socat', 'socat')
  const dir = mkdtempSync(join(tmpdir(), 'pw-dlt645-contract-'))
  const pty = ptyPair(join(dir, 'ttyA'), join(dir, 'ttyB'))
  const { meter, control } = meterControl()
  let sim: Dlt645Simulator | undefined
  let requestsBefore = 0
  let responding = true
  const up = async () => {
    await pty.up()
    sim = await startDlt645Simulator({ meters: [meter], serial: { path: pty.b } })
    sim.setResponding(responding)
  }
  const down = async () => {
    if (sim) requestsBefore += sim.stats().requests
    await sim?.close()
    sim = undefined
    await pty.down()
  }
  await up()
  const serial = { transport: 'serial', path: pty.a, address: ADDRESS }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...serial, timeoutMs }),
    badConfigs: {
      'a host on a serial connection': deviceConfig({ ...serial, host: '127.0.0.1' }),
      'a serial connection without a path': deviceConfig({ transport: 'serial', address: ADDRESS }),
      'no dlt645: section': deviceConfig(serial, { dlt645: undefined }),
    },
    readTimeoutBoundMs: (timeoutMs) => timeoutMs,
    tolerance,
    peer: {
      ...control,
      setResponding(on) {
        responding = on
        sim?.setResponding(on)
      },
      drop: down,
      restore: up,
      clientLinks: () => portHeld(pty.a),
      activity: () => requestsBefore + (sim?.stats().requests ?? 0),
      close: down,
    },
    async cleanup() {
      await down()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
