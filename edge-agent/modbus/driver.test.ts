import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { isPlantWattError } from '../../core/errors.ts'
import { ModbusDeviceSchema, type ModbusDeviceConfig } from '../config.ts'
import type { Driver } from '../driver.ts'
import { loadProfile } from './profile.ts'
import { createModbusDriver } from './driver.ts'
import { startTestModbusServer, type TestModbusServer, type TestServerOptions } from '../testing/modbus-server.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from '../testing/sdm630-fixtures.ts'

const tempDirs: string[] = []
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

const sdm630 = loadProfile('eastron-sdm630')
const opened: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close()
})

async function server(options: Partial<TestServerOptions> = {}): Promise<TestModbusServer> {
  const s = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } }, ...options })
  opened.push(s)
  return s
}

function device(port: number, over: Record<string, unknown> = {}): ModbusDeviceConfig {
  return validateConfig(
    ModbusDeviceSchema,
    {
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: 'm1',
      driver: 'modbus',
      profile: 'eastron-sdm630',
      connection: { host: '127.0.0.1', port, timeoutMs: 150 },
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
  throw new Error('expected a rejection')
}

describe('modbus driver over TCP', () => {
  it('reads the SDM630 map in four planned requests and publishes canonical units', async () => {
    const s = await server()
    const driver = await connected(device(s.port))
    expect(driver.endpoint).toBe(`tcp://127.0.0.1:${s.port} unit 1`)
    const before = Date.now()
    const result = await driver.read(AbortSignal.timeout(2000))
    expect(closeTo(result.values, SDM630_VALUES)).toEqual([])
    expect(result.values.active_power_l1_kw).toBeCloseTo(2.048, 12)
    expect(result.quality).toEqual({})
    expect(result.errors).toEqual([])
    expect(result.ts).toBeGreaterThanOrEqual(before)
    expect(s.requests.map(({ at: _at, ...r }) => r)).toEqual([
      { unit: 1, fc: 4, address: 0x00, count: 0x12 },
      { unit: 1, fc: 4, address: 0x1e, count: 6 },
      { unit: 1, fc: 4, address: 0x34, count: 0x1c },
      { unit: 1, fc: 4, address: 0x156, count: 2 },
    ])
  })

  it('learns the holes of a device that refuses reads across unmapped registers (exception 02)', async () => {
    // 0x36–0x37 lies between total W (0x34) and VA (0x38) and is not implemented on this device.
    const s = await server({ exceptions: [{ table: 'input', from: 0x36, to: 0x37, code: 2 }] })
    const driver = await connected(device(s.port))
    const first = await driver.read(AbortSignal.timeout(2000))
    expect(closeTo(first.values, SDM630_VALUES)).toEqual([])
    expect(first.errors).toEqual([])
    const firstPoll = s.requests.map(({ at: _at, ...r }) => r)
    expect(firstPoll).toContainEqual({ unit: 1, fc: 4, address: 0x34, count: 0x1c })
    // The split: gap-free runs around the hole, read in the same poll.
    expect(firstPoll.slice(-5)).toEqual([
      { unit: 1, fc: 4, address: 0x34, count: 2 },
      { unit: 1, fc: 4, address: 0x38, count: 2 },
      { unit: 1, fc: 4, address: 0x3c, count: 4 },
      { unit: 1, fc: 4, address: 0x46, count: 10 },
      { unit: 1, fc: 4, address: 0x156, count: 2 },
    ])
    s.requests.length = 0
    const second = await driver.read(AbortSignal.timeout(2000))
    expect(closeTo(second.values, SDM630_VALUES)).toEqual([])
    // The next poll uses the learned plan: no request spans the hole any more.
    expect(s.requests.some((r) => r.fc === 4 && r.address <= 0x37 && r.address + r.count > 0x36)).toBe(false)
    expect(s.requests).toHaveLength(7)
  })

  it('an exception on one request marks only its points bad; the others keep their values', async () => {
    // MB §7 exception 04 Server Device Failure for the totals block 0x34–0x4F (02 is learned
    // as a hole instead: see the next test)
    const s = await server({ exceptions: [{ table: 'input', from: 0x40, to: 0x41, code: 0x04 }] })
    const driver = await connected(device(s.port))
    const result = await driver.read(AbortSignal.timeout(2000))
    const failed = [
      'active_power_kw',
      'apparent_power_kva',
      'reactive_power_kvar',
      'power_factor',
      'frequency_hz',
      'energy_import_kwh',
      'energy_export_kwh',
      'reactive_energy_import_kvarh',
      'reactive_energy_export_kvarh',
    ]
    const good = Object.fromEntries(Object.entries(SDM630_VALUES).filter(([k]) => !failed.includes(k)))
    expect(closeTo(result.values, good)).toEqual([])
    expect(result.quality).toEqual(Object.fromEntries(failed.map((q) => [q, 'bad'])))
    expect(result.errors.map((e) => [e.point, e.code])).toEqual(failed.map((q) => [q, 'EDGE_ERR_MODBUS_EXCEPTION']))
    expect(result.errors[0]?.message).toMatch(/input 0x0034 ×28: Modbus exception 4/)
    // a deterministic exception is not retried
    expect(s.requests.filter((r) => r.address === 0x34)).toHaveLength(1)
  })

  it('a request without a reply times out, is retried, and marks only its points bad', async () => {
    const s = await server({ silent: [{ table: 'input', from: 0x156, to: 0x157 }] })
    const driver = await connected(device(s.port, { retries: 2 }))
    const result = await driver.read(AbortSignal.timeout(5000))
    expect(result.quality).toEqual({ energy_total_kwh: 'bad' })
    expect(result.errors).toEqual([
      { point: 'energy_total_kwh', code: 'EDGE_ERR_TIMEOUT', message: expect.stringMatching(/input 0x0156 ×2: no reply within 150 ms/) },
    ])
    expect(Object.keys(result.values)).toHaveLength(21)
    expect(s.requests.filter((r) => r.address === 0x156)).toHaveLength(3)
    // the connection survives a single timeout: the next read works without reconnecting
    const again = await driver.read(AbortSignal.timeout(5000))
    expect(again.values.voltage_l1_v).toBe(230)
  })

  it('NaN in a float register is a decode error, never a value', async () => {
    const s = await server()
    s.setWords(1, 'input', 0x46, [0x7fc0, 0x0000])
    s.setWords(1, 'input', 0x00, [0xffff, 0xffff])
    const driver = await connected(device(s.port))
    const result = await driver.read(AbortSignal.timeout(2000))
    expect(result.values).not.toHaveProperty('frequency_hz')
    expect(result.values).not.toHaveProperty('voltage_l1_v')
    expect(result.quality).toEqual({ frequency_hz: 'bad', voltage_l1_v: 'bad' })
    expect(result.errors.map((e) => e.code)).toEqual(['EDGE_ERR_DECODE', 'EDGE_ERR_DECODE'])
    expect(result.values.voltage_l2_v).toBe(231)
  })

  it('no reply to any request throws EDGE_ERR_TIMEOUT and drops the connection', async () => {
    const s = await server({ silent: [{ table: 'input', from: 0, to: 0xffff }] })
    const driver = await connected(device(s.port, { retries: 0 }))
    expect(await codeOf(driver.read(AbortSignal.timeout(5000)))).toBe('EDGE_ERR_TIMEOUT')
    expect(await codeOf(driver.read(AbortSignal.timeout(5000)))).toBe('EDGE_ERR_NOT_CONNECTED')
  })

  it('reports a lost connection and reads again after reconnecting to the restarted server', async () => {
    const s = await server()
    const d = device(s.port)
    const driver = await connected(d)
    expect((await driver.read(AbortSignal.timeout(2000))).values.voltage_l1_v).toBe(230)
    await s.close()
    expect(await codeOf(driver.read(AbortSignal.timeout(2000)))).toBe('EDGE_ERR_CONNECTION')
    expect(await codeOf(driver.connect(AbortSignal.timeout(2000)))).toBe('EDGE_ERR_CONNECT')
    const restarted = await server({ port: s.port })
    restarted.setWords(1, 'input', 0x00, [0x4367, 0x0000])
    await driver.connect(AbortSignal.timeout(2000))
    expect((await driver.read(AbortSignal.timeout(2000))).values.voltage_l1_v).toBe(231)
  })

  it('reads holding registers, word orders and coils from a custom profile', async () => {
    const dir = tempDir('pw-driver-')
    const file = join(dir, 'acme.yaml')
    writeFileSync(
      file,
      [
        'name: acme',
        'vendor: ACME',
        'model: M1',
        'source: test table',
        'points:',
        '  - { quantity: voltage_l1_v, function: holding, address: 0x61, type: uint16, scale: 0.1 }',
        '  - { quantity: active_power_kw, function: holding, address: 0x164, type: int32, scale: 0.001 }',
        '  - { quantity: energy_import_kwh, function: holding, address: 0x0A, type: uint32, wordOrder: CDAB, scale: 0.01 }',
        '  - { quantity: temperature_c, function: input, address: 0x10, type: int16, scale: 0.1 }',
        '  - { quantity: machine_state, function: coil, address: 3 }',
      ].join('\n'),
    )
    const s = await server({
      units: {
        7: {
          holding: { 0x61: 0x08fc, 0x164: 0xffff, 0x165: 0xfc18, 0x0a: 0xcd15, 0x0b: 0x075b },
          input: { 0x10: 0xff9c },
          coil: { 3: true, 4: false },
        },
      },
    })
    const driver = await connected(device(s.port, { connection: { host: '127.0.0.1', port: s.port, unitId: 7, timeoutMs: 150 } }), loadProfile(file))
    const result = await driver.read(AbortSignal.timeout(2000))
    expect(result.errors).toEqual([])
    expect(closeTo(result.values, { voltage_l1_v: 230, active_power_kw: -1, energy_import_kwh: 1234567.89, temperature_c: -10, machine_state: 1 })).toEqual([])
    expect(s.requests.map((r) => [r.unit, r.fc, r.address, r.count])).toEqual([
      [7, 1, 3, 1],
      [7, 3, 0x0a, 2],
      [7, 3, 0x61, 1],
      [7, 3, 0x164, 2],
      [7, 4, 0x10, 1],
    ])
  })
})

describe('modbus driver: CT/PT ratios (acrel-adl400-secondary)', () => {
  const adl400 = loadProfile('acrel-adl400-secondary')
  // Literal secondary-side words: PT 1 (no voltage transformer), CT 80 (400/5 A).
  const ADL400_WORDS = {
    0x00: 0x0001,
    0x01: 0x86a0, // combined energy 100000 ×0.01 → 1000.00 kWh secondary
    0x61: 0x08fc, // Ua 2300 ×0.1 → 230.0 V
    0x64: 0x00fa, // Ia 250 ×0.01 → 2.50 A secondary
    0x77: 0x1388, // 50.00 Hz
    0x8d: 0x0001, // PT ratio 1
    0x8e: 0x0050, // CT ratio 80
    0x16a: 0x0000,
    0x16b: 0x05dc, // P 1500 ×0.001 → 1.500 kW secondary
    0x17f: 0x03b6, // PF 950 ×0.001 → 0.950
  }
  const adlServer = (options: Partial<TestServerOptions> = {}) => server({ units: { 1: { holding: { ...ADL400_WORDS } } }, ...options })
  const adlDevice = (port: number, over: Record<string, unknown> = {}) => device(port, { profile: 'acrel-adl400-secondary', maxGapRegisters: 0, ...over })

  it('reads PT and CT at connect and multiplies: A ×CT, V ×PT, kW and kWh ×CT·PT; Hz and PF unscaled', async () => {
    const s = await adlServer()
    const driver = await connected(adlDevice(s.port), adl400)
    expect(s.requests.slice(0, 2).map((r) => [r.fc, r.address, r.count])).toEqual([
      [3, 0x8e, 1],
      [3, 0x8d, 1],
    ])
    expect((driver as unknown as { ratios: unknown }).ratios).toEqual({ ct: { value: 80, source: 'meter' }, pt: { value: 1, source: 'meter' } })
    const r = await driver.read(AbortSignal.timeout(2000))
    expect(r.errors).toEqual([])
    expect(r.values.current_l1_a).toBeCloseTo(200, 9)
    expect(r.values.voltage_l1_v).toBeCloseTo(230, 9)
    expect(r.values.active_power_kw).toBeCloseTo(120, 9)
    expect(r.values.energy_total_kwh).toBeCloseTo(80_000, 6)
    expect(r.values.frequency_hz).toBeCloseTo(50, 9)
    expect(r.values.power_factor).toBeCloseTo(0.95, 9)
    // the ratios are not read again on every poll
    const polls = s.requests.length
    await driver.read(AbortSignal.timeout(2000))
    expect(s.requests.slice(polls).some((q) => q.address === 0x8d || q.address === 0x8e)).toBe(false)
  })

  it('a failed CT read marks the CT-scaled points bad (never unscaled) and is retried on the next poll', async () => {
    const exceptions = [{ table: 'holding' as const, from: 0x8e, to: 0x8e, code: 0x04 }]
    const s = await adlServer({ exceptions })
    const driver = await connected(adlDevice(s.port), adl400)
    const r = await driver.read(AbortSignal.timeout(2000))
    const ctScaled = adl400.points.filter((p) => p.ratio === 'ct' || p.ratio === 'ctpt').map((p) => p.quantity)
    expect(ctScaled).toEqual(expect.arrayContaining(['current_l1_a', 'active_power_kw', 'energy_total_kwh']))
    for (const q of ctScaled) {
      expect(r.values[q], q).toBeUndefined()
      expect(r.quality[q], q).toBe('bad')
    }
    expect(r.errors.map((e) => e.point).sort()).toEqual([...ctScaled].sort())
    expect(r.errors.find((e) => e.point === 'current_l1_a')?.message).toMatch(
      /holding 0x0064: needs the ct ratio: CT ratio \(holding 0x008E uint16\): .*exception/i,
    )
    expect(r.values.voltage_l1_v).toBeCloseTo(230, 9) // PT read fine
    expect(r.values.frequency_hz).toBeCloseTo(50, 9)
    exceptions.length = 0 // the meter answers again
    const next = await driver.read(AbortSignal.timeout(2000))
    expect(next.errors).toEqual([])
    expect(next.values.current_l1_a).toBeCloseTo(200, 9)
  })

  it('a ratio of 0 from the meter is not used', async () => {
    const s = await adlServer()
    s.setWords(1, 'holding', 0x8e, [0])
    const driver = await connected(adlDevice(s.port), adl400)
    const r = await driver.read(AbortSignal.timeout(2000))
    expect(r.quality.current_l1_a).toBe('bad')
    expect(r.errors.find((e) => e.point === 'current_l1_a')).toMatchObject({ code: 'EDGE_ERR_RATIO', message: expect.stringMatching(/reports 0, not a ratio/) })
  })

  it('ctRatio / ptRatio in the device config win over the meter, whose register is then not read', async () => {
    const s = await adlServer({ exceptions: [{ table: 'holding', from: 0x8e, to: 0x8e, code: 0x02 }] })
    const driver = await connected(adlDevice(s.port, { ctRatio: 40, ptRatio: 2 }), adl400)
    expect(s.requests.some((q) => q.address === 0x8d || q.address === 0x8e)).toBe(false)
    const r = await driver.read(AbortSignal.timeout(2000))
    expect(r.errors).toEqual([])
    expect(r.values.current_l1_a).toBeCloseTo(100, 9)
    expect(r.values.voltage_l1_v).toBeCloseTo(460, 9)
    expect(r.values.active_power_kw).toBeCloseTo(120, 9) // 1.5 × 40 × 2
    expect(() => adlDevice(s.port, { ctRatio: 0 })).toThrow(/ctRatio/)
  })

  it('reads the ratios again on reconnect', async () => {
    const s = await adlServer()
    const driver = await connected(adlDevice(s.port), adl400)
    expect((await driver.read(AbortSignal.timeout(2000))).values.current_l1_a).toBeCloseTo(200, 9)
    s.setWords(1, 'holding', 0x8e, [40]) // CT changed to 200/5
    expect((await driver.read(AbortSignal.timeout(2000))).values.current_l1_a).toBeCloseTo(200, 9)
    await driver.connect(AbortSignal.timeout(2000))
    expect((await driver.read(AbortSignal.timeout(2000))).values.current_l1_a).toBeCloseTo(100, 9)
  })
})
