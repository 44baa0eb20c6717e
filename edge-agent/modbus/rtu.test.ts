import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { requireCommand } from '../../test/system.ts'
import { ModbusDeviceSchema, type ModbusDeviceConfig } from '../config.ts'
import type { Driver } from '../driver.ts'
import { loadProfile } from './profile.ts'
import { createModbusDriver } from './driver.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from '../testing/sdm630-fixtures.ts'
import { crc16, startRtuSlaveOnPort, startRtuSlaveOnTcp, type RtuSlave, type RtuSlaveOptions } from '../testing/rtu-slave.ts'

const dir = mkdtempSync(join(tmpdir(), 'pw-rtu-'))
const A = join(dir, 'ttyA') // the agent's end
const B = join(dir, 'ttyB') // the slaves' end
const sdm630 = loadProfile('eastron-sdm630')
const small = join(dir, 'small.yaml')
writeFileSync(
  small,
  [
    'name: small',
    'vendor: T',
    'model: T',
    'source: test',
    'points:',
    '  - { quantity: voltage_l1_v, function: holding, address: 0x61, type: uint16, scale: 0.1 }',
    '  - { quantity: energy_import_kwh, function: holding, address: 0x0A, type: uint32, scale: 0.01 }',
  ].join('\n'),
)
const smallProfile = loadProfile(small)
const SMALL_WORDS = { 0x61: 0x08fc, 0x0a: 0x0001, 0x0b: 0xe240 } // 230.0 V, 1234.56 kWh

let socat: ChildProcess | undefined
async function startSocat(): Promise<void> {
  for (const f of [A, B]) rmSync(f, { force: true })
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${A}`, `pty,raw,echo=0,link=${B}`], { stdio: 'ignore' })
  socat = proc
  const until = Date.now() + 5000
  while (!(existsSync(A) && existsSync(B))) {
    if (Date.now() > until || proc.exitCode !== null) throw new Error('socat did not create the pty pair')
    await new Promise((r) => setTimeout(r, 10))
  }
}
async function stopSocat(): Promise<void> {
  const proc = socat
  socat = undefined
  if (!proc || proc.exitCode !== null) return
  const exited = new Promise((r) => proc.on('exit', r))
  proc.kill('SIGTERM')
  await exited
}

beforeAll(() => requireCommand('socat', 'socat'))
afterAll(async () => {
  await stopSocat()
  rmSync(dir, { recursive: true, force: true })
})

const opened: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close()
  await stopSocat()
})

async function bus(options: RtuSlaveOptions): Promise<RtuSlave> {
  await startSocat()
  const slave = await startRtuSlaveOnPort(B, options)
  opened.push(slave)
  return slave
}

function device(unitId: number, over: Record<string, unknown> = {}, connection: Record<string, unknown> = {}): ModbusDeviceConfig {
  return validateConfig(
    ModbusDeviceSchema,
    {
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: `u${unitId}`,
      driver: 'modbus',
      profile: 'x',
      retries: 0,
      connection: { transport: 'rtu', path: A, baudRate: 9600, parity: 'even', unitId, timeoutMs: 150, ...connection },
      ...over,
    },
    'test',
  ) as ModbusDeviceConfig
}

async function connected(d: ModbusDeviceConfig, profile = sdm630): Promise<Driver> {
  const driver = createModbusDriver(d, profile)
  opened.push(driver)
  await driver.connect(AbortSignal.timeout(2000))
  return driver
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

describe('modbus RTU over a serial line (socat pty pair)', () => {
  it('the CRC is the spec’s: 01 03 00 00 00 0A → C5 CD', () => {
    expect(crc16(Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]))).toBe(0xcdc5) // sent low byte first: C5 CD
  })

  it('polls two slaves on one bus one at a time, each with its own values', async () => {
    const slave = await bus({ units: { 1: { input: { ...SDM630_WORDS } }, 2: { holding: { ...SMALL_WORDS } } } })
    const meter = await connected(device(1))
    const other = await connected(device(2), smallProfile)
    expect(meter.endpoint).toBe(`rtu:${A} 9600 8E1 unit 1`)
    const [r1, r2] = await Promise.all([meter.read(AbortSignal.timeout(3000)), other.read(AbortSignal.timeout(3000))])
    expect(closeTo(r1.values, SDM630_VALUES)).toEqual([])
    expect(r1.errors).toEqual([])
    expect(closeTo(r2.values, { voltage_l1_v: 230, energy_import_kwh: 1234.56 })).toEqual([])
    // One poll at a time on the line: unit 1's four requests, then unit 2's two (or the reverse), never mixed.
    const units = slave.requests.map((r) => r.unit)
    expect(units).toHaveLength(6)
    expect([units.join(''), units.join('')]).toContain(units[0] === 1 ? '111122' : '221111')
    expect(slave.requests.filter((r) => r.unit === 1).map((r) => [r.fc, r.address, r.count])).toEqual([
      [4, 0x00, 0x12],
      [4, 0x1e, 6],
      [4, 0x34, 0x1c],
      [4, 0x156, 2],
    ])
  })

  it('a CRC error and a reply from the wrong slave id mark only their points bad, with clear codes; the next read is clean', async () => {
    const options: RtuSlaveOptions = {
      units: { 1: { input: { ...SDM630_WORDS } } },
      badCrc: [{ table: 'input', from: 0x156, to: 0x157 }],
      wrongUnit: [{ table: 'input', from: 0x1e, to: 0x23, unit: 9 }],
    }
    await bus(options)
    const meter = await connected(device(1))
    const r = await meter.read(AbortSignal.timeout(3000))
    expect(r.quality).toEqual({ energy_total_kwh: 'bad', power_factor_l1: 'bad', power_factor_l2: 'bad', power_factor_l3: 'bad' })
    expect(r.errors.find((e) => e.point === 'energy_total_kwh')).toMatchObject({
      code: 'EDGE_ERR_CRC',
      message: expect.stringMatching(/input 0x0156 ×2: reply from unit 1 failed its CRC check/),
    })
    expect(r.errors.find((e) => e.point === 'power_factor_l1')).toMatchObject({
      code: 'EDGE_ERR_FRAME',
      message: expect.stringMatching(/no valid reply from unit 1 within 150 ms; got 17 byte\(s\) from unit 9 \(wrong slave id\): 09 04 0c/),
    })
    expect(r.values.voltage_l1_v).toBe(230)
    expect(r.values.active_power_kw).toBeCloseTo(4.096, 9)
    options.badCrc = []
    options.wrongUnit = []
    const again = await meter.read(AbortSignal.timeout(3000))
    expect(again.errors).toEqual([])
    expect(closeTo(again.values, SDM630_VALUES)).toEqual([])
  })

  it('a garbled reply is retried with backoff and then succeeds', async () => {
    const options: RtuSlaveOptions = { units: { 1: { holding: { ...SMALL_WORDS } } }, badCrc: [{ table: 'holding', from: 0x61, to: 0x61 }] }
    const slave = await bus(options)
    const meter = await connected(device(1, { retries: 3, retryBackoffMs: 30 }), smallProfile)
    setTimeout(() => (options.badCrc = []), 60) // the noise stops after the first tries
    const r = await meter.read(AbortSignal.timeout(3000))
    expect(r.errors).toEqual([])
    expect(r.values.voltage_l1_v).toBe(230)
    const tries = slave.requests.filter((x) => x.address === 0x61)
    expect(tries.length).toBeGreaterThanOrEqual(2)
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(20) // the 30 ms backoff, less arrival jitter; without it ~1 ms
  })

  it('a dead slave costs the bus one timeout per poll and does not stop the live one', async () => {
    const slave = await bus({ units: { 1: { input: { ...SDM630_WORDS } } } })
    const live = await connected(device(1))
    const dead = await connected(device(5))
    const t0 = performance.now()
    const [d, l] = await Promise.all([codeOf(dead.read(AbortSignal.timeout(3000))), live.read(AbortSignal.timeout(3000))])
    const elapsed = performance.now() - t0
    expect(d).toBe('EDGE_ERR_TIMEOUT')
    expect(closeTo(l.values, SDM630_VALUES)).toEqual([])
    // unit 5 was asked once (the other 3 requests of its poll were skipped), not 4 × 150 ms
    expect(slave.requests.filter((r) => r.unit === 5)).toHaveLength(1)
    expect(elapsed).toBeLessThan(580) // four unanswered requests alone would take 600 ms
    // the shared port stays open for the live slave
    expect((await live.read(AbortSignal.timeout(3000))).values.voltage_l1_v).toBe(230)
  })

  it('throughput over the pty (figures printed; a pty ignores the baud rate)', async () => {
    await bus({ units: { 1: { input: { ...SDM630_WORDS } } } })
    const meter = await connected(device(1))
    const polls = 100
    const t0 = performance.now()
    let values = 0
    for (let i = 0; i < polls; i++) values += Object.keys((await meter.read(AbortSignal.timeout(3000))).values).length
    const s = (performance.now() - t0) / 1000
    expect(values).toBe(polls * 22)
    console.log(`modbus rtu over pty: ${Math.round((polls * 4) / s)} requests/s, ${Math.round(values / s)} decoded values/s (SDM630, 4 requests per poll)`)
    expect(values / s).toBeGreaterThan(200)
  })

  it('rejects a connection that mixes transports, naming the keys', () => {
    expect(() => createModbusDriver(device(1, {}, { host: '10.0.0.1' }), sdm630)).toThrow(/host is not used by transport rtu/)
    const tcp = validateConfig(
      ModbusDeviceSchema,
      { enterprise: 'e', site: 's', line: 'l', device: 'd', driver: 'modbus', profile: 'x', connection: { host: 'h', baudRate: 9600 } },
      't',
    ) as ModbusDeviceConfig
    expect(() => createModbusDriver(tcp, sdm630)).toThrow(/baudRate is only used by transport rtu/)
    const noPath = validateConfig(
      ModbusDeviceSchema,
      { enterprise: 'e', site: 's', line: 'l', device: 'd', driver: 'modbus', profile: 'x', connection: { transport: 'rtu' } },
      't',
    ) as ModbusDeviceConfig
    expect(() => createModbusDriver(noPath, sdm630)).toThrow(/transport rtu needs path/)
  })
})

describe('modbus RTU over TCP (raw RTU frames through a serial gateway)', () => {
  it('reads two unit ids through one gateway connection; a CRC error stays a per-request error', async () => {
    const slave = await startRtuSlaveOnTcp({
      units: { 1: { input: { ...SDM630_WORDS } }, 2: { holding: { ...SMALL_WORDS } } },
      badCrc: [{ table: 'holding', from: 0x0a, to: 0x0b }],
    })
    opened.push(slave)
    const conn = { transport: 'rtu-over-tcp', path: undefined, host: '127.0.0.1', port: slave.port }
    const d1 = validateConfig(
      ModbusDeviceSchema,
      { enterprise: 'e', site: 's', line: 'l', device: 'a', driver: 'modbus', profile: 'x', retries: 0, connection: { ...conn, unitId: 1, timeoutMs: 150 } },
      't',
    ) as ModbusDeviceConfig
    const d2 = validateConfig(
      ModbusDeviceSchema,
      { enterprise: 'e', site: 's', line: 'l', device: 'b', driver: 'modbus', profile: 'x', retries: 0, connection: { ...conn, unitId: 2, timeoutMs: 150 } },
      't',
    ) as ModbusDeviceConfig
    const a = await connected(d1)
    const b = await connected(d2, smallProfile)
    expect(a.endpoint).toBe(`rtu-over-tcp://127.0.0.1:${slave.port} unit 1`)
    const [ra, rb] = await Promise.all([a.read(AbortSignal.timeout(3000)), b.read(AbortSignal.timeout(3000))])
    expect(closeTo(ra.values, SDM630_VALUES)).toEqual([])
    expect(rb.values.voltage_l1_v).toBe(230)
    expect(rb.errors).toEqual([{ point: 'energy_import_kwh', code: 'EDGE_ERR_CRC', message: expect.stringMatching(/failed its CRC check/) }])
    expect(new Set(slave.requests.map((r) => r.unit))).toEqual(new Set([1, 2]))
  })
})

describe('edge agent on an RTU bus', () => {
  it('publishes two live slaves and reports the dead one, all sharing one port', async () => {
    const { startEdgeAgent } = await import('../agent.ts')
    const { EdgeConfigSchema } = await import('../config.ts')
    const { startTestBroker, subscribeData, waitFor } = await import('../testing/mqtt.ts')
    await bus({ units: { 1: { input: { ...SDM630_WORDS } }, 2: { holding: { ...SMALL_WORDS } } } })
    const broker = await startTestBroker()
    opened.push(broker)
    const sub = await subscribeData(broker.url)
    opened.push({ close: () => sub.client.endAsync(true) })
    const dev = (device: string, unitId: number, profile: string) => ({
      enterprise: 'e',
      site: 's',
      line: 'l',
      device,
      driver: 'modbus',
      profile,
      pollIntervalMs: 30,
      retries: 0,
      connection: { transport: 'rtu', path: A, parity: 'even', unitId, timeoutMs: 100 },
    })
    const config = validateConfig(
      EdgeConfigSchema,
      { agentId: 'edge-rtu', buffer: 'memory', devices: [dev('meter', 1, 'eastron-sdm630'), dev('small', 2, small), dev('dead', 5, small)] },
      't',
    )
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })
    opened.push(agent)
    const samplesOf = (device: string) => sub.messages.filter((m) => m.topic === `pw/v1/e/s/l/${device}/data`).flatMap((m) => m.payload.samples)
    await waitFor('samples from both live slaves', () => samplesOf('meter').length >= 5 && samplesOf('small').length >= 5, 8000)
    for (const s of samplesOf('meter')) expect(closeTo(s.values, SDM630_VALUES)).toEqual([])
    for (const s of samplesOf('small')) expect(closeTo(s.values, { voltage_l1_v: 230, energy_import_kwh: 1234.56 })).toEqual([])
    expect(samplesOf('dead')).toEqual([])
    const [meter, , dead] = agent.status().devices
    expect(meter).toMatchObject({ connected: true, readErrors: 0, endpoint: `rtu:${A} 9600 8E1 unit 1` })
    expect(dead!.readErrors).toBeGreaterThanOrEqual(1)
    expect(dead!.lastError?.code).toBe('EDGE_ERR_TIMEOUT')
    // a second bus definition with other line settings is a config error
    const clash = validateConfig(
      EdgeConfigSchema,
      { devices: [dev('a', 1, small), { ...dev('b', 2, small), connection: { transport: 'rtu', path: A, baudRate: 19200, unitId: 2 } }] },
      't',
    )
    await expect(startEdgeAgent({ config: clash, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })).rejects.toThrow(
      /bus rtu:.* is configured with other line settings at \/devices\/0\/connection/,
    )
  })
})
