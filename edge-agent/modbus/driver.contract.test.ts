import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SerialPort } from 'serialport'
import { validateConfig } from '../../core/config.ts'
import { requireCommand } from '../../test/system.ts'
import { createMeterDevice, type MeterDevice } from '../../simulators/modbus-meter.ts'
import type { MeterReading } from '../../simulators/load.ts'
import { startModbusRtuServer, type ModbusRtuServer } from '../../simulators/modbus/rtu-server.ts'
import { startModbusTcpServer } from '../../simulators/modbus/tcp-server.ts'
import { ModbusDeviceSchema, type EdgeDeviceConfig } from '../config.ts'
import { describeDriverContract, startFaultProxy, type DriverPeer, type DriverUnderTest } from '../driver.contract.ts'
import { BUILTIN_DRIVERS } from '../drivers.ts'
import { loadProfile } from './profile.ts'
import { planReads } from './plan.ts'

/**
 * The driver contract for Modbus, against the project's SDM630 simulator (simulators/): over TCP
 * (behind a fault proxy), and over RTU on a socat pty pair.
 */

const PROFILE = 'eastron-sdm630'
const QUANTITIES = loadProfile(PROFILE).points.map((p) => p.quantity)
/** Requests per poll of the profile (the driver's own plan, default gaps). */
const REQUESTS_PER_POLL = planReads(loadProfile(PROFILE).points, { maxRegistersPerRead: 125, maxGapRegisters: 10 }).length
/** Spoiled by a NaN in their float32 registers (the SDM630 "no value" marker). */
const SPOILED = ['frequency_hz', 'voltage_l1_v']

/** An SDM630 on a manual clock: values change only through `change()`. */
function meter(): { device: MeterDevice; control: Pick<DriverPeer, 'expected' | 'change' | 'spoil' | 'heal' | 'setResponding'> } {
  let t = Date.UTC(2026, 0, 12, 2) // a Monday, 10:00 in Shanghai: the load is up
  let responding = true
  let spoiled = false
  const device = createMeterDevice({
    profile: 'eastron-sdm630',
    ratedKw: 250,
    seed: 7,
    startEnergyKwh: 1234.5,
    clock: () => t,
    hooks: {
      online: () => responding,
      present: (r: MeterReading): MeterReading => (spoiled ? { ...r, values: { ...r.values, ...Object.fromEntries(SPOILED.map((q) => [q, Number.NaN])) } } : r),
    },
  })
  const control = {
    expected() {
      // The kvarh counters are canonical quantities the simulator keeps among its extra values.
      const snap = device.snapshot()
      const values = { ...snap.extra, ...snap.values } as unknown as Record<string, number>
      const out: Record<string, number> = {}
      for (const q of QUANTITIES) {
        const v = values[q]
        if (typeof v !== 'number') throw new Error(`the simulator serves no ${q}`)
        out[q] = v
      }
      return out
    },
    change() {
      t += 60_000
      device.tick()
    },
    spoil() {
      spoiled = true
      device.tick()
      return SPOILED
    },
    heal() {
      spoiled = false
      device.tick()
    },
    setResponding(on: boolean) {
      responding = on
    },
  }
  return { device, control }
}

const float32Tolerance = (v: number) => Math.max(1e-9, Math.abs(v) * 1e-6)
const create = (config: EdgeDeviceConfig) => (BUILTIN_DRIVERS.modbus as (d: EdgeDeviceConfig) => ReturnType<DriverUnderTest['create']>)(config)
const deviceConfig = (connection: Record<string, unknown>, over: Record<string, unknown> = {}): EdgeDeviceConfig =>
  validateConfig(
    ModbusDeviceSchema,
    { enterprise: 'e', site: 's', line: 'l', device: 'm1', driver: 'modbus', profile: PROFILE, retries: 0, connection, ...over },
    'contract',
  ) as EdgeDeviceConfig

describeDriverContract('modbus over TCP (SDM630 simulator)', async () => {
  const { device, control } = meter()
  const server = await startModbusTcpServer({ units: new Map([[1, device]]) })
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port })
  const tcp = { host: '127.0.0.1', port: proxy.port }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...tcp, unitId: 1, timeoutMs }),
    badConfigs: {
      'serial settings on a TCP connection': deviceConfig({ ...tcp, baudRate: 9600 }),
      'a serial path on a TCP connection': deviceConfig({ ...tcp, path: '/dev/ttyUSB0' }),
      'an opcua: section on a Modbus device': deviceConfig(tcp, { opcua: { endpointUrl: 'opc.tcp://127.0.0.1:4840' } }),
    },
    // MB TCP: every request of a poll waits its own timeout (a silent range marks only its points bad).
    readTimeoutBoundMs: (timeoutMs) => REQUESTS_PER_POLL * timeoutMs,
    tolerance: float32Tolerance,
    peer: {
      ...control,
      // The proxy keeps the connection and swallows replies: a peer that hangs, not one that is gone.
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

describeDriverContract('modbus RTU over a serial line (SDM630 simulator, socat pty pair)', async () => {
  requireCommand('socat', 'socat')
  const dir = mkdtempSync(join(tmpdir(), 'pw-rtu-contract-'))
  const A = join(dir, 'ttyA') // the driver's end
  const B = join(dir, 'ttyB') // the simulator's end
  const { device, control } = meter()
  let socat: ChildProcess | undefined
  let server: ModbusRtuServer | undefined
  let requestsBefore = 0
  const up = async () => {
    for (const f of [A, B]) rmSync(f, { force: true })
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${A}`, `pty,raw,echo=0,link=${B}`], { stdio: 'ignore' })
    socat = proc
    const until = Date.now() + 5000
    while (!(existsSync(A) && existsSync(B))) {
      if (Date.now() > until || proc.exitCode !== null) throw new Error('socat did not create the pty pair')
      await new Promise((r) => setTimeout(r, 10))
    }
    server = await startModbusRtuServer({ path: B, baudRate: 9600, parity: 'even', units: new Map([[1, device]]) })
  }
  const down = async () => {
    if (server) requestsBefore += server.stats().requests
    await server?.close()
    server = undefined
    const proc = socat
    socat = undefined
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.on('exit', r))
      proc.kill('SIGTERM')
      await exited
    }
  }
  await up()
  const serial = { transport: 'rtu', path: A, baudRate: 9600, parity: 'even' }
  return {
    mode: 'poll',
    create,
    config: (timeoutMs) => deviceConfig({ ...serial, unitId: 1, timeoutMs }),
    badConfigs: {
      'a host on an RTU connection': deviceConfig({ ...serial, host: '127.0.0.1' }),
      '7 data bits (Modbus ASCII) on RTU': deviceConfig({ ...serial, dataBits: 7 }),
      'an opcua: section on a Modbus device': deviceConfig(serial, { opcua: { endpointUrl: 'opc.tcp://127.0.0.1:4840' } }),
    },
    // On a shared bus a unit that does not answer gives up the line after its first timeout.
    readTimeoutBoundMs: (timeoutMs) => timeoutMs,
    tolerance: float32Tolerance,
    peer: {
      ...control,
      drop: down,
      restore: up,
      // The driver's end of the pty is held while its port is open: an exclusive open then fails.
      async clientLinks() {
        const probe = new SerialPort({ path: A, baudRate: 9600, autoOpen: false, lock: true })
        const held = await new Promise<boolean>((resolve) => probe.open((err) => resolve(err !== null)))
        if (probe.isOpen) await new Promise<void>((resolve) => probe.close(() => resolve()))
        return held ? 1 : 0
      },
      activity: () => requestsBefore + (server?.stats().requests ?? 0),
      close: down,
    },
    async cleanup() {
      await down()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
