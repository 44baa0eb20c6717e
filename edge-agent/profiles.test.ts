import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { ModbusDeviceSchema, type ModbusDeviceConfig } from './config.ts'
import { createModbusDriver } from './modbus/driver.ts'
import { decodeString, decodeValue } from './modbus/decode.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from './testing/sdm630-fixtures.ts'
import { startTestModbusServer, type RegisterTables } from './testing/modbus-server.ts'
import { loadProfile, shippedProfiles } from './modbus/profile.ts'

const tempDirs: string[] = []
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

/**
 * Literal register words per shipped profile, written from the vendor's table (floats from IEEE 754
 * tables, integers by hand), and what each must publish. A profile shipped without an entry here
 * fails the first test.
 */
const CASES: Record<string, { tables: RegisterTables; expected: Record<string, number> }> = {
  'eastron-sdm630': { tables: { input: SDM630_WORDS }, expected: SDM630_VALUES },
  'chint-dtsu666': {
    tables: {
      holding: {
        0x2006: 0x4509,
        0x2007: 0x8000, // Ua 2200.0 ×0.1 → 220.0 V
        0x200c: 0x4624,
        0x200d: 0x1000, // Ia 10500.0 ×0.001 → 10.5 A
        0x2012: 0x47f1,
        0x2013: 0x2000, // Pt 123456.0 ×0.1 W → 12.3456 kW
        0x201a: 0xc7c0,
        0x201b: 0xe680, // Qt -98765.0 ×0.1 var → -9.8765 kvar
        0x202a: 0x446d,
        0x202b: 0x8000, // PFt 950.0 ×0.001 → 0.95
        0x2044: 0x459c,
        0x2045: 0x4000, // Freq 5000.0 ×0.01 → 50.00 Hz
        0x101e: 0x449a,
        0x101f: 0x5000, // ImpEp 1234.5 kWh
      },
    },
    expected: {
      voltage_l1_v: 220,
      current_l1_a: 10.5,
      active_power_kw: 12.3456,
      reactive_power_kvar: -9.8765,
      power_factor: 0.95,
      frequency_hz: 50,
      energy_import_kwh: 1234.5,
    },
  },
  'plantwatt-line-plc-t': {
    // 1234.5 t as IEEE 754 float32 = 0x449A5000
    tables: { holding: { 0x00: 0x449a, 0x01: 0x5000 } },
    expected: { output_t: 1234.5 },
  },
  'plantwatt-line-plc-t-coal': {
    // 1234.5 t = 0x449A5000 (holding), 178.25 t coal = 0x43324000 (input), IEEE 754 float32
    tables: { holding: { 0x00: 0x449a, 0x01: 0x5000 }, input: { 0x00: 0x4332, 0x01: 0x4000 } },
    expected: { output_t: 1234.5, coal_t: 178.25 },
  },
  'plantwatt-line-plc-t-oxygen-gas': {
    // 1234.5 t float32 (holding); 70000 m3 gas = 0x00011170, 1234567 m3 oxygen = 0x0012D687 (input, uint32)
    tables: { holding: { 0x00: 0x449a, 0x01: 0x5000 }, input: { 0x02: 0x0001, 0x03: 0x1170, 0x04: 0x0012, 0x05: 0xd687 } },
    expected: { output_t: 1234.5, gas_m3: 70000, oxygen_m3: 1234567 },
  },
  'plantwatt-line-plc-pcs': {
    // 70000 parts = 0x00011170 as uint32, high word first
    tables: { holding: { 0x02: 0x0001, 0x03: 0x1170 } },
    expected: { output_count: 70000 },
  },
  'acrel-adl400-secondary': {
    tables: {
      holding: {
        0x61: 0x08fc, // Ua 2300 ×0.1 → 230.0 V
        0x64: 0x03e8, // Ia 1000 ×0.01 → 10.00 A
        0x77: 0x1388, // 5000 ×0.01 → 50.00 Hz
        0x16a: 0x0001,
        0x16b: 0xe240, // P 123456 ×0.001 → 123.456 kW
        0x172: 0xffff,
        0x173: 0xfc18, // Q -1000 ×0.001 → -1.000 kvar
        0x17f: 0xfc7c, // PF -900 ×0.001 → -0.900
        0x0a: 0x0012,
        0x0b: 0xd687, // forward 1234567 ×0.01 → 12345.67 kWh
        0x8d: 0x000a, // PT 10 (e.g. 1 kV / 100 V)
        0x8e: 0x0050, // CT 80 (400/5 A)
      },
    },
    // secondary side × PT (V), × CT (A), × PT·CT = 800 (power, energy); Hz and PF unscaled
    expected: {
      voltage_l1_v: 2300,
      current_l1_a: 800,
      frequency_hz: 50,
      active_power_kw: 98764.8,
      reactive_power_kvar: -800,
      power_factor: -0.9,
      energy_import_kwh: 9876536,
    },
  },
  'acrel-adl400-primary': {
    tables: {
      holding: {
        0x800: 0x4366,
        0x801: 0x0000, // Ua 230.0 V
        0x80c: 0x457a,
        0x80d: 0x0000, // Ia 4000.0 A (primary)
        0x81a: 0x42f7,
        0x81b: 0x0000, // P 123.5 kW
        0x832: 0x3f73,
        0x833: 0x3333, // PF 0.95 (float32 0.949999988)
        0x834: 0x4248,
        0x835: 0x0000, // 50.0 Hz
        0x84c: 0x0001,
        0x84d: 0xe240, // forward 123456 ×0.1 → 12345.6 kWh
      },
    },
    expected: { voltage_l1_v: 230, current_l1_a: 4000, active_power_kw: 123.5, power_factor: 0.949999988079071, frequency_hz: 50, energy_import_kwh: 12345.6 },
  },
}

const servers: { close(): Promise<void> }[] = []
afterAll(async () => {
  for (const s of servers) await s.close()
})

describe('shipped profiles', () => {
  it('every shipped profile loads, names its source, and has literal-word cases here', () => {
    const names = shippedProfiles()
    expect(names).toEqual(expect.arrayContaining(['eastron-sdm630', 'chint-dtsu666', 'acrel-adl400-secondary', 'acrel-adl400-primary']))
    for (const name of names) {
      const p = loadProfile(name)
      expect(p.name).toBe(name)
      expect(p.source.length).toBeGreaterThan(20)
      expect(Object.keys(CASES)).toContain(name)
    }
  })

  it.each(Object.keys(CASES))('%s decodes the vendor table’s literal words', async (name) => {
    const c = CASES[name]!
    const server = await startTestModbusServer({ units: { 1: c.tables } })
    servers.push(server)
    const device = validateConfig(
      ModbusDeviceSchema,
      {
        enterprise: 'e',
        site: 's',
        line: 'l',
        device: 'd',
        driver: 'modbus',
        profile: name,
        connection: { host: '127.0.0.1', port: server.port, timeoutMs: 500 },
      },
      't',
    ) as ModbusDeviceConfig
    const driver = createModbusDriver(device, loadProfile(name))
    await driver.connect(AbortSignal.timeout(2000))
    try {
      const r = await driver.read(AbortSignal.timeout(2000))
      expect(r.errors).toEqual([])
      const got = Object.fromEntries(Object.keys(c.expected).map((k) => [k, r.values[k] as number]))
      expect(closeTo(got, c.expected)).toEqual([])
    } finally {
      await driver.close()
    }
  })
})

describe('string points', () => {
  it('decodes ASCII registers (first character in the high byte) and maps the text to a number', () => {
    // "RUN" padded with NUL: 'R' 0x52 'U' 0x55 | 'N' 0x4E NUL
    expect(decodeString([0x5255, 0x4e00], 'ABCD')).toBe('RUN')
    expect(decodeString([0x5552, 0x004e], 'BADC')).toBe('RUN')
    expect(decodeString([0x4944, 0x4c45, 0x2020], 'ABCD')).toBe('IDLE')
    const spec = { type: 'string' as const, wordOrder: 'ABCD' as const, scale: 1, offset: 0, map: { RUN: 2, IDLE: 1, STOP: 0 } }
    expect(decodeValue([0x5255, 0x4e00], spec)).toEqual({ ok: true, value: 2 })
    expect(decodeValue([0x4641, 0x494c], spec)).toEqual({ ok: false, message: 'string "FAIL" is not in the point\'s map' })
  })

  it('a profile string point needs length and map', () => {
    const dir = tempDir('pw-string-')
    const file = join(dir, 's.yaml')
    const head = ['name: s', 'vendor: V', 'model: M', 'source: test', 'points:']
    writeFileSync(
      file,
      [...head, '  - { quantity: machine_state, function: holding, address: 0x10, type: string, length: 4, map: { RUN: 2, IDLE: 1 } }'].join('\n'),
    )
    expect(loadProfile(file).points[0]).toMatchObject({ type: 'string', width: 4, map: { RUN: 2, IDLE: 1 } })
    writeFileSync(file, [...head, '  - { quantity: machine_state, function: holding, address: 0x10, type: string }'].join('\n'))
    expect(() => loadProfile(file)).toThrow(/machine_state \(holding 0x0010\): a string point needs length \(registers\) and map/)
    writeFileSync(file, [...head, '  - { quantity: voltage_l1_v, function: holding, address: 0x10, type: uint16, length: 2 }'].join('\n'))
    expect(() => loadProfile(file)).toThrow(/\/points\/0\/length: .*for string points only/)
  })
})
