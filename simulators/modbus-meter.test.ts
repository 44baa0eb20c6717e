import net from 'node:net'
import ModbusRTU from 'modbus-serial'
import { afterEach, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { startMeterSimulator, type MeterSimulatorOptions, type RunningMeter } from './modbus-meter.ts'
import { loadLoadShape } from './load-shape.ts'

// The simulator is read here the way a third party would: modbus-serial's client, raw register
// words, decoded with Buffer.readFloatBE at addresses typed from the SDM630 table (DOMAIN.md).
type Client = InstanceType<typeof ModbusRTU.default>

// Monday 2024-01-01 08:00 in Shanghai: the morning ramp of the steel shape.
const MONDAY_0800_SHANGHAI = Date.UTC(2024, 0, 1, 0, 0)

const running: RunningMeter[] = []
const clients: Client[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((resolve) => c.close(() => resolve()))
  await Promise.all(running.splice(0).map((m) => m.stop()))
})

async function start(options: Partial<MeterSimulatorOptions> = {}): Promise<RunningMeter> {
  const meter = await startMeterSimulator({ profile: 'eastron-sdm630', ratedKw: 400, port: 0, updateIntervalMs: 0, ...options })
  running.push(meter)
  return meter
}

async function connect(meter: RunningMeter, unitId = meter.unitId): Promise<Client> {
  const client = new ModbusRTU.default()
  await client.connectTCP(meter.host, { port: meter.port })
  client.setID(unitId)
  client.setTimeout(2000)
  clients.push(client)
  return client
}

async function inputFloats(client: Client, address: number, registers: number): Promise<Buffer> {
  const r = await client.readInputRegisters(address, registers)
  expect(r.buffer.length).toBe(registers * 2)
  return r.buffer
}

async function exceptionOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode
  }
  return undefined
}

const f32 = Math.fround

describe('SDM630 meter simulator over Modbus TCP', () => {
  it('serves the SDM630 input registers at the addresses of the vendor table', async () => {
    const now = MONDAY_0800_SHANGHAI + 2.5 * 3_600_000
    const meter = await start({ clock: () => now, startEnergyKwh: 12_345.5 })
    const client = await connect(meter)
    const s = meter.snapshot().values
    const a = await inputFloats(client, 0x00, 0x24) // V, I, P, VA, var, PF per phase
    expect(a.readFloatBE(0x00 * 2)).toBe(f32(s.voltage_l1_v))
    expect(Math.abs(a.readFloatBE(0x00 * 2) - 230)).toBeLessThan(2.3)
    expect(a.readFloatBE(0x02 * 2)).toBe(f32(s.voltage_l2_v))
    expect(a.readFloatBE(0x04 * 2)).toBe(f32(s.voltage_l3_v))
    expect(a.readFloatBE(0x06 * 2)).toBe(f32(s.current_l1_a))
    expect(a.readFloatBE(0x08 * 2)).toBe(f32(s.current_l2_a))
    expect(a.readFloatBE(0x0a * 2)).toBe(f32(s.current_l3_a))
    expect(a.readFloatBE(0x0c * 2)).toBe(f32(s.active_power_l1_kw * 1000))
    expect(a.readFloatBE(0x10 * 2)).toBe(f32(s.active_power_l3_kw * 1000))
    expect(a.readFloatBE(0x1e * 2)).toBe(f32(s.power_factor_l1))
    expect(a.readFloatBE(0x22 * 2)).toBe(f32(s.power_factor_l3))
    const total = await inputFloats(client, 0x34, 2)
    expect(total.readFloatBE(0)).toBe(f32(s.active_power_kw * 1000))
    expect(total.readFloatBE(0)).toBeGreaterThan(100_000) // W, not kW: ~0.8 × 400 kW at 10:30
    expect((await inputFloats(client, 0x38, 2)).readFloatBE(0)).toBe(f32(s.apparent_power_kva * 1000))
    const q = await inputFloats(client, 0x3c, 4) // var, PF total
    expect(q.readFloatBE(0)).toBe(f32(s.reactive_power_kvar * 1000))
    expect(q.readFloatBE(4)).toBe(f32(s.power_factor))
    const e = await inputFloats(client, 0x46, 6) // Hz, import kWh, export kWh
    expect(e.readFloatBE(0)).toBe(f32(s.frequency_hz))
    expect(Math.abs(e.readFloatBE(0) - 50)).toBeLessThanOrEqual(0.05)
    expect(e.readFloatBE(4)).toBe(f32(12_345.5))
    expect(e.readFloatBE(8)).toBe(0)
    expect((await inputFloats(client, 0x156, 2)).readFloatBE(0)).toBe(f32(12_345.5))
    const ll = await inputFloats(client, 0xc8, 6)
    expect(ll.readFloatBE(0)).toBe(f32(s.voltage_l12_v))
    expect(Math.abs(ll.readFloatBE(0) / Math.sqrt(3) - 230)).toBeLessThan(2.3)
  })

  it('serves a consistent power triangle: P ≈ 3·U·I·PF, S = P/PF, Q = √(S² − P²)', async () => {
    let now = MONDAY_0800_SHANGHAI
    const meter = await start({ clock: () => now, ratedKw: 1200 })
    const client = await connect(meter)
    for (let k = 0; k < 20; k++) {
      now += 17 * 60_000
      meter.tick()
      const a = await inputFloats(client, 0x00, 0x24)
      const p = (await inputFloats(client, 0x34, 2)).readFloatBE(0)
      const s = (await inputFloats(client, 0x38, 2)).readFloatBE(0)
      const qpf = await inputFloats(client, 0x3c, 4)
      const pf = qpf.readFloatBE(4)
      for (const [u, i] of [
        [0x00, 0x06],
        [0x02, 0x08],
        [0x04, 0x0a],
      ] as const) {
        const expected = 3 * a.readFloatBE(u * 2) * a.readFloatBE(i * 2) * pf
        expect(Math.abs(expected - p) / p).toBeLessThan(0.01)
      }
      expect(pf).toBeGreaterThanOrEqual(f32(0.7))
      expect(pf).toBeLessThanOrEqual(f32(0.99))
      expect(Math.abs(s - p / pf) / s).toBeLessThan(1e-5)
      expect(Math.abs(qpf.readFloatBE(0) - Math.sqrt(s * s - p * p)) / s).toBeLessThan(1e-4)
    }
  })

  it('integrates the served power into the import counter (6 h by an injected clock)', async () => {
    let now = MONDAY_0800_SHANGHAI
    const meter = await start({ clock: () => now, ratedKw: 400, startEnergyKwh: 1000 })
    const client = await connect(meter)
    const readPw = async (): Promise<number> => (await inputFloats(client, 0x34, 2)).readFloatBE(0)
    const readKwh = async (): Promise<number> => (await inputFloats(client, 0x48, 2)).readFloatBE(0)
    const e0 = await readKwh()
    let pPrev = await readPw()
    let integralKwh = 0
    for (let k = 0; k < 360; k++) {
      now += 60_000
      meter.tick()
      const p = await readPw()
      integralKwh += ((pPrev + p) / 2 / 1000) * (1 / 60)
      pPrev = p
    }
    const delta = (await readKwh()) - e0
    expect(Math.abs(delta - integralKwh) / integralKwh).toBeLessThan(0.005)
    // And the power follows the shape: slots 32–55 are Monday 08:00–14:00.
    const shape = loadLoadShape()
    const shapeKwh = shape.power.slice(32, 56).reduce((sum, x) => sum + x * 400 * 0.25, 0)
    expect(Math.abs(delta - shapeKwh) / shapeKwh).toBeLessThan(0.01)
    expect(meter.snapshot().ts).toBe(MONDAY_0800_SHANGHAI + 6 * 3_600_000)
  })

  it('answers unmapped registers, split floats and other unit ids with exceptions', async () => {
    const meter = await start({ unitId: 7 })
    const client = await connect(meter)
    expect(await exceptionOf(client.readInputRegisters(0x24, 2))).toBe(2) // phase angle: not simulated
    expect(await exceptionOf(client.readInputRegisters(0x36, 2))).toBe(2) // gap in the table
    expect(await exceptionOf(client.readInputRegisters(0x01, 2))).toBe(2) // half of two floats
    // A block read across the gap 0x36–0x37 answers, with the gap as zeros (SDM meters are bulk-read).
    const block = await client.readInputRegisters(0x34, 6)
    expect(block.buffer.readFloatBE(0)).toBeCloseTo(meter.snapshot().values.active_power_kw * 1000, 0)
    expect(block.buffer.readUInt32BE(4)).toBe(0)
    expect(block.buffer.readFloatBE(8)).toBeCloseTo(meter.snapshot().values.apparent_power_kva * 1000, 0)
    expect(await exceptionOf(client.readInputRegisters(0x2000, 2))).toBe(2)
    expect(await exceptionOf(client.readHoldingRegisters(0x00, 2))).toBe(2)
    const node = await client.readHoldingRegisters(0x14, 2) // network node = the unit id
    expect(node.buffer.readFloatBE(0)).toBe(7)
    const other = await connect(meter, 8)
    expect(await exceptionOf(other.readInputRegisters(0x00, 2))).toBe(0x0b)
    // Still serving after all that.
    expect((await inputFloats(client, 0x46, 2)).readFloatBE(0)).toBeCloseTo(50, 1)
  })

  it('gives the same registers for the same seed and clock, different ones for another seed', async () => {
    const now = MONDAY_0800_SHANGHAI + 3_600_000
    const a = await start({ clock: () => now, seed: 99 })
    const b = await start({ clock: () => now, seed: 99 })
    const c = await start({ clock: () => now, seed: 100 })
    const [ra, rb, rc] = await Promise.all([a, b, c].map(async (m) => inputFloats(await connect(m), 0x00, 0x24)))
    expect(rb?.toString('hex')).toBe(ra?.toString('hex'))
    expect(rc?.toString('hex')).not.toBe(ra?.toString('hex'))
    expect(b.snapshot()).toEqual(a.snapshot())
  })

  it('updates on its timer and lets a read be matched to the tick it was served from', async () => {
    const meter = await start({ updateIntervalMs: 10, historySize: 50 })
    const client = await connect(meter)
    await new Promise((r) => setTimeout(r, 120))
    const e = await inputFloats(client, 0x46, 4) // Hz and import kWh from one tick
    const history = meter.history()
    expect(history.length).toBeGreaterThan(5)
    expect(history.length).toBeLessThanOrEqual(50)
    for (let i = 1; i < history.length; i++) expect((history[i]?.seq ?? 0) - (history[i - 1]?.seq ?? 0)).toBe(1)
    const match = history.filter((s) => f32(s.values.frequency_hz) === e.readFloatBE(0) && f32(s.values.energy_import_kwh) === e.readFloatBE(4))
    expect(match.length).toBeGreaterThanOrEqual(1)
    expect(history.at(-1)).toBe(meter.snapshot())
  })

  it('keeps only the last historySize snapshots', async () => {
    let now = MONDAY_0800_SHANGHAI
    const meter = await start({ clock: () => now, historySize: 5 })
    for (let k = 0; k < 12; k++) {
      now += 1000
      meter.tick()
    }
    expect(meter.history().map((s) => s.seq)).toEqual([8, 9, 10, 11, 12])
    expect(meter.history().map((s) => s.ts)).toEqual([8, 9, 10, 11, 12].map((k) => MONDAY_0800_SHANGHAI + k * 1000))
  })

  it('reports the real port for port 0 and frees it on stop', async () => {
    const meter = await start({ port: 0 })
    expect(meter.port).toBeGreaterThan(0)
    expect(meter.host).toBe('127.0.0.1')
    const client = await connect(meter)
    expect((await inputFloats(client, 0x00, 2)).readFloatBE(0)).toBeGreaterThan(200)
    await meter.stop()
    const server = net.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(meter.port, '127.0.0.1', () => resolve())
    })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('rejects bad options with SIM_ERR_CONFIG naming each one', async () => {
    let err: unknown
    try {
      await startMeterSimulator({ profile: 'eastron-sdm630', ratedKw: -1, unitId: 300, port: 70_000 })
    } catch (e) {
      err = e
    }
    expect(isPlantWattError(err, 'SIM_ERR_CONFIG')).toBe(true)
    expect((err as Error).message).toMatch(/\/ratedKw/)
    expect((err as Error).message).toMatch(/\/unitId/)
    expect((err as Error).message).toMatch(/\/port/)
  })
})
