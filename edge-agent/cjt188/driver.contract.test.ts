import { SerialPort } from 'serialport'
import { validateConfig } from '../../core/config.ts'
import { SimCjt188Meter } from '../../simulators/cjt188/meter.ts'
import { type Cjt188Server, startCjt188Server } from '../../simulators/cjt188/server.ts'
import { type EdgeDeviceConfig, ModbusDeviceSchema } from '../config.ts'
import { type DriverPeer, type DriverUnderTest, describeDriverContract, startFaultProxy } from '../driver.contract.ts'
import { BUILTIN_DRIVERS } from '../drivers.ts'
import { ptyPair } from '../testing/pty-pair.ts'

/**
 * The driver contract for CJ/T 188, against the project's own simulator (simulators/cjt188, which
 * encodes frames on its own): a heat meter sharing its bus with a water and a gas meter, through a
 * DTU (TCP, behind a fault proxy) and on a serial line (socat pty pair).
 */

const HEAT = '00000000201001'

function meters() {
  const heat = new SimCjt188Meter({ kind: 'heat', address: HEAT, heatUnit: 'MWh' })
  const others = [new SimCjt188Meter({ kind: 'water', address: '00000000101002' }), new SimCjt188Meter({ kind: 'gas', address: '00000000301003' })]
  const control: Pick<DriverPeer, 'expected' | 'change' | 'spoil' | 'heal'> = {
    expected: () => heat.expected(),
    change: () => heat.tick(),
    spoil() {
      heat.fault = 'bcd-out-of-range'
      return ['heat_kwh', 'supply_temp_c']
    },
    heal() {
      heat.fault = 'none'
    },
  }
  return { all: [heat, ...others], control }
}

const create = (config: EdgeDeviceConfig) => (BUILTIN_DRIVERS.cjt188 as (d: EdgeDeviceConfig) => ReturnType<DriverUnderTest['create']>)(config)
const deviceConfig = (cjt188: Record<string, unknown>, over: Record<string, unknown> = {}): EdgeDeviceConfig =>
  validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: 'heat-1', driver: 'cjt188', profile: 'cjt188-heat', retries: 0, cjt188, ...over },
    'contract',
  ) as EdgeDeviceConfig
/** BCD values are decimals: exact but for one rounding of a unit factor. */
const tolerance = (v: number) => Math.max(1e-9, Math.abs(v) * 1e-12)

describeDriverContract('cjt188 through a DTU (TCP; heat, water and gas meters on one port)', async () => {
  const { all, control } = meters()
  const server = await startCjt188Server({ tcp: { port: 0 }, meters: all })
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port as number })
  const tcp = { transport: 'tcp', host: '127.0.0.1', port: proxy.port, address: HEAT }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...tcp, timeoutMs }),
    badConfigs: {
      'a serial path on a tcp connection': deviceConfig({ ...tcp, path: '/dev/ttyUSB0' }),
      'a gas meter type on a heat profile': deviceConfig({ ...tcp, meterType: 0x30 }),
      'a Modbus connection: section on a CJ/T 188 device': deviceConfig(tcp, { connection: { transport: 'tcp', host: '127.0.0.1' } }),
      'no cjt188: section': deviceConfig(tcp, { cjt188: undefined }),
    },
    // One request per poll; silence ends the poll after its timeout.
    readTimeoutBoundMs: (timeoutMs) => timeoutMs,
    tolerance,
    peer: {
      ...control,
      setResponding: (on) => proxy.setResponding(on),
      drop: () => proxy.drop(),
      restore: () => proxy.restore(),
      clientLinks: async () => proxy.open,
      activity: () => proxy.accepted + server.stats().requests,
      close: () => proxy.close(),
    },
    async cleanup() {
      await proxy.close()
      await server.close()
    },
  }
})

describeDriverContract('cjt188 on a serial line (socat pty pair; heat, water and gas meters on one bus)', async () => {
  const pty = ptyPair('pw-cjt188-contract-')
  const { all, control } = meters()
  let server: Cjt188Server | undefined
  let requestsBefore = 0
  const up = async () => {
    await pty.up()
    server = await startCjt188Server({ serial: { path: pty.b }, meters: all })
  }
  const down = async () => {
    if (server) requestsBefore += server.stats().requests
    await server?.close()
    server = undefined
    await pty.down()
  }
  await up()
  const serial = { transport: 'serial', path: pty.a, address: HEAT }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...serial, timeoutMs }),
    badConfigs: {
      'a host on a serial connection': deviceConfig({ ...serial, host: '127.0.0.1' }),
      'a cooling meter type on a heat profile': deviceConfig({ ...serial, meterType: 0x21 }),
      'an opcua: section on a CJ/T 188 device': deviceConfig(serial, { opcua: { endpointUrl: 'opc.tcp://127.0.0.1:4840' } }),
    },
    readTimeoutBoundMs: (timeoutMs) => timeoutMs,
    tolerance,
    peer: {
      ...control,
      setResponding: (on) => server?.setResponding(on),
      drop: down,
      restore: up,
      // The driver's end of the pty is held while its port is open: an exclusive open then fails.
      async clientLinks() {
        const probe = new SerialPort({ path: pty.a, baudRate: 2400, autoOpen: false, lock: true })
        const held = await new Promise<boolean>((resolve) => probe.open((err) => resolve(err !== null)))
        if (probe.isOpen) await new Promise<void>((resolve) => probe.close(() => resolve()))
        return held ? 1 : 0
      },
      activity: () => requestsBefore + (server?.stats().requests ?? 0),
      close: down,
    },
    async cleanup() {
      await down()
      await pty.cleanup()
    },
  }
})
