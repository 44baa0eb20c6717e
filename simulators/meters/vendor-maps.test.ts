import ModbusRTU from 'modbus-serial'
import { afterEach, describe, expect, it } from 'vitest'
import { startMeterSimulator, type MeterSimulatorOptions, type RunningMeter } from '../modbus-meter.ts'

// Read as a third party would: modbus-serial's client and raw register words, decoded here with
// Buffer at the addresses, types and scales typed from the vendor tables in DOMAIN.md — not from
// the profile files under test.
type Client = InstanceType<typeof ModbusRTU.default>
const f32 = Math.fround
// Monday 2024-01-01 10:30 in Shanghai (a flat-tariff hour).
const NOW = Date.UTC(2024, 0, 1, 2, 30)

const running: RunningMeter[] = []
const clients: Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((resolve) => c.close(() => resolve()))
  await Promise.all(running.splice(0).map((m) => m.stop()))
})

async function start(options: Partial<MeterSimulatorOptions> & Pick<MeterSimulatorOptions, 'profile'>): Promise<{ meter: RunningMeter; client: Client }> {
  const meter = await startMeterSimulator({ ratedKw: 400, port: 0, updateIntervalMs: 0, clock: () => NOW, ...options })
  running.push(meter)
  const client = new ModbusRTU.default()
  await client.connectTCP(meter.host, { port: meter.port })
  client.setID(meter.unitId)
  client.setTimeout(2000)
  clients.push(client)
  return { meter, client }
}

async function holding(client: Client, address: number, count: number): Promise<Buffer> {
  const r = await client.readHoldingRegisters(address, count)
  expect(r.buffer.length).toBe(count * 2)
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

describe('CHINT DTSU666 (scaled float32)', () => {
  it('serves Uab…Freq at 0x2000–0x2044 as float32 in the table’s units (×0.1 V, ×0.001 A, ×0.1 W, ×0.001, ×0.01 Hz)', async () => {
    const { meter, client } = await start({ profile: 'chint-dtsu666', startEnergyKwh: 5000.25 })
    const s = meter.snapshot().values
    const b = await holding(client, 0x2000, 0x1c) // 0x2000..0x201B: U, I, P, Q
    const at = (reg: number) => b.readFloatBE((reg - 0x2000) * 2)
    expect(at(0x2000)).toBe(f32(s.voltage_l12_v / 0.1))
    expect(at(0x2000) * 0.1).toBeGreaterThan(390) // line voltage of a 230/400 V system
    expect(at(0x2002)).toBe(f32(s.voltage_l23_v / 0.1))
    expect(at(0x2004)).toBe(f32(s.voltage_l31_v / 0.1))
    expect(at(0x2006)).toBe(f32(s.voltage_l1_v / 0.1))
    expect(Math.abs(at(0x2006) * 0.1 - 230)).toBeLessThan(2.5)
    expect(at(0x2008)).toBe(f32(s.voltage_l2_v / 0.1))
    expect(at(0x200a)).toBe(f32(s.voltage_l3_v / 0.1))
    expect(at(0x200c)).toBe(f32(s.current_l1_a / 0.001))
    expect(at(0x200e)).toBe(f32(s.current_l2_a / 0.001))
    expect(at(0x2010)).toBe(f32(s.current_l3_a / 0.001))
    expect(at(0x2012)).toBe(f32((s.active_power_kw * 1000) / 0.1))
    expect(at(0x2014)).toBe(f32((s.active_power_l1_kw * 1000) / 0.1))
    expect(at(0x2016)).toBe(f32((s.active_power_l2_kw * 1000) / 0.1))
    expect(at(0x2018)).toBe(f32((s.active_power_l3_kw * 1000) / 0.1))
    expect(at(0x201a)).toBe(f32((s.reactive_power_kvar * 1000) / 0.1))
    // P ≈ √3·U_LL·I·PF with the decoded, rescaled words.
    const uLL = ((at(0x2000) + at(0x2002) + at(0x2004)) * 0.1) / 3
    const iAvg = ((at(0x200c) + at(0x200e) + at(0x2010)) * 0.001) / 3
    const pf = (await holding(client, 0x202a, 2)).readFloatBE(0) * 0.001
    expect(pf).toBeCloseTo(s.power_factor, 3)
    expect(Math.abs((Math.sqrt(3) * uLL * iAvg * pf) / (at(0x2012) * 0.1) - 1)).toBeLessThan(0.01)
    const hz = (await holding(client, 0x2044, 2)).readFloatBE(0) * 0.01
    expect(Math.abs(hz - 50)).toBeLessThan(0.1)
    expect((await holding(client, 0x101e, 2)).readFloatBE(0)).toBe(f32(5000.25))
    // The same map on FC 04.
    expect((await client.readInputRegisters(0x2012, 2)).buffer.readFloatBE(0)).toBe(at(0x2012))
  })

  it('serves IrAt/UrAt at 6/7 as int16 ×0.1 and answers 02 for registers outside the table', async () => {
    const { client } = await start({ profile: 'chint-dtsu666' })
    const r = await holding(client, 6, 2)
    expect(r.readInt16BE(0)).toBe(10) // ratio 1.0
    expect(r.readInt16BE(2)).toBe(10)
    expect(await exceptionOf(client.readHoldingRegisters(0x201c, 2))).toBe(2) // not in the table
    expect(await exceptionOf(client.readHoldingRegisters(0x4000, 2))).toBe(2) // another firmware's energy block
    expect(await exceptionOf(client.readHoldingRegisters(0x2013, 2))).toBe(2) // half a float
    expect(await exceptionOf(client.readHoldingRegisters(0x2040, 6))).toBe(2) // runs into unmapped words
  })
})

describe('Acrel ADL400', () => {
  it('secondary-side map: uint16/int32/uint32 words × PT·CT give the primary values', async () => {
    const { meter, client } = await start({ profile: 'acrel-adl400-secondary', startEnergyKwh: 123_456.78 })
    const s = meter.snapshot().values
    const r = await holding(client, 0x8d, 2)
    const pt = r.readUInt16BE(0)
    const ct = r.readUInt16BE(2)
    expect(pt).toBe(1)
    // 400 kW at 230 V, PF 0.85 is 682 A; with 25 % margin the standard primary is 1000 A: 1000/5.
    expect(ct).toBe(200)
    const u = await holding(client, 0x61, 6)
    expect(u.readUInt16BE(0)).toBe(Math.round(s.voltage_l1_v / pt / 0.1))
    expect(u.readUInt16BE(2)).toBe(Math.round(s.voltage_l2_v / pt / 0.1))
    expect(u.readUInt16BE(4)).toBe(Math.round(s.voltage_l3_v / pt / 0.1))
    expect(u.readUInt16BE(6)).toBe(Math.round(s.current_l1_a / ct / 0.01))
    expect(u.readUInt16BE(10)).toBe(Math.round(s.current_l3_a / ct / 0.01))
    expect(u.readUInt16BE(6) * 0.01).toBeLessThan(5) // a x/5 A secondary
    expect((await holding(client, 0x77, 1)).readUInt16BE(0)).toBe(Math.round(s.frequency_hz / 0.01))
    const p = await holding(client, 0x164, 8)
    expect(p.readInt32BE(0)).toBe(Math.round(s.active_power_l1_kw / (pt * ct) / 0.001))
    expect(p.readInt32BE(12)).toBe(Math.round(s.active_power_kw / (pt * ct) / 0.001))
    const pKw = p.readInt32BE(12) * 0.001 * pt * ct
    expect(Math.abs(pKw / s.active_power_kw - 1)).toBeLessThan(0.002)
    expect((await holding(client, 0x172, 2)).readInt32BE(0)).toBe(Math.round(s.reactive_power_kvar / (pt * ct) / 0.001))
    expect((await holding(client, 0x17a, 2)).readInt32BE(0)).toBe(Math.round(s.apparent_power_kva / (pt * ct) / 0.001))
    expect((await holding(client, 0x17f, 1)).readInt16BE(0)).toBe(Math.round(s.power_factor / 0.001))
    const e = await holding(client, 0x00, 2)
    expect(e.readUInt32BE(0)).toBe(Math.round(123_456.78 / (pt * ct) / 0.01))
    expect((await holding(client, 0x0a, 2)).readUInt32BE(0)).toBe(Math.round(123_456.78 / (pt * ct) / 0.01))
    expect((await holding(client, 0x14, 2)).readUInt32BE(0)).toBe(0)
    expect(await exceptionOf(client.readHoldingRegisters(0x67, 1))).toBe(2)
    expect(await exceptionOf(client.readInputRegisters(0x61, 1))).toBe(2) // FC 04 is not this meter's
  })

  it('primary-side map: float32 values and uint32 ×0.1 kWh energy split by Hubei TOU period', async () => {
    let now = Date.UTC(2024, 0, 1, 17, 0) // Tuesday 01:00 Shanghai: valley
    const { meter, client } = await start({ profile: 'acrel-adl400-primary', clock: () => now, startEnergyKwh: 0 })
    const step = (hours: number) => {
      for (let k = 0; k < hours * 60; k++) {
        now += 60_000
        meter.tick()
      }
    }
    step(4) // 01:00–05:00 valley
    const valley = meter.snapshot().values.energy_import_kwh
    step(3) // 05:00–08:00: 05–06 valley, 06–08 flat
    step(11) // 08:00–19:00: flat, 12–14 valley, 16–18 peak, 18–19 critical peak (January)
    const s = meter.snapshot().values
    // Reads cover only mapped parameters: the table has gaps (e.g. 0x806–0x80B) a meter refuses.
    const words = new Map<number, Buffer>()
    for (const [a, n] of [
      [0x800, 6],
      [0x80c, 6],
      [0x814, 8],
      [0x822, 2],
      [0x82a, 2],
      [0x832, 4],
      [0x842, 2],
      [0x84c, 12],
    ] as const) {
      const r = await holding(client, a, n)
      for (let k = 0; k < n; k++) words.set(a + k, r.subarray(k * 2, k * 2 + 2))
    }
    const two = (reg: number) => Buffer.concat([words.get(reg)!, words.get(reg + 1)!])
    const at = (reg: number) => two(reg).readFloatBE(0)
    expect(at(0x800)).toBe(f32(s.voltage_l1_v))
    expect(at(0x804)).toBe(f32(s.voltage_l3_v))
    expect(at(0x80c)).toBe(f32(s.current_l1_a))
    expect(at(0x810)).toBe(f32(s.current_l3_a))
    expect(at(0x814)).toBe(f32(s.active_power_l1_kw))
    expect(at(0x81a)).toBe(f32(s.active_power_kw))
    expect(at(0x822)).toBe(f32(s.reactive_power_kvar))
    expect(at(0x82a)).toBe(f32(s.apparent_power_kva))
    expect(at(0x832)).toBe(f32(s.power_factor))
    expect(at(0x834)).toBe(f32(s.frequency_hz))
    const u32 = (reg: number) => two(reg).readUInt32BE(0) * 0.1
    expect(u32(0x84c)).toBeCloseTo(s.energy_import_kwh, 0)
    expect(u32(0x842)).toBeCloseTo(s.energy_total_kwh, 0)
    expect(u32(0x856)).toBe(0)
    const tou = [u32(0x84e), u32(0x850), u32(0x852), u32(0x854)]
    // The periods add up to the forward counter (each rounded to 0.1 kWh).
    expect(Math.abs(tou.reduce((a, x) => a + x, 0) - u32(0x84c))).toBeLessThan(0.35)
    // Integrate power sampled once a minute per period, from the meter's own history, independently.
    const hist = meter.history()
    const expected = [0, 0, 0, 0]
    for (let i = 1; i < hist.length; i++) {
      const prev = hist[i - 1]!
      const cur = hist[i]!
      const hour = new Date(cur.ts + 8 * 3_600_000).getUTCHours()
      const period = hour >= 18 && hour < 20 ? 0 : hour >= 16 ? 1 : (hour >= 6 && hour < 12) || (hour >= 14 && hour < 16) ? 2 : 3
      expected[period]! += ((prev.values.active_power_kw + cur.values.active_power_kw) / 2) * ((cur.ts - prev.ts) / 3_600_000)
    }
    for (let k = 0; k < 4; k++) expect(Math.abs(tou[k]! - expected[k]!)).toBeLessThan(0.1 + 0.001 * expected[k]!)
    expect(tou[0]).toBeGreaterThan(0)
    expect(tou[3]).toBeGreaterThan(valley * 0.99)
    expect(await exceptionOf(client.readHoldingRegisters(0x806, 2))).toBe(2) // line voltages: not in the table
    expect(await exceptionOf(client.readHoldingRegisters(0x800, 0x36))).toBe(2) // spans the gaps
  })
})
