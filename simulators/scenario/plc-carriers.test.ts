import ModbusRTU from 'modbus-serial'
import { afterEach, describe, expect, it } from 'vitest'
import { startScenario, type RunningScenario, type ScenarioPlcEndpoint } from './run.ts'
import { parseScenario, type Scenario } from './schema.ts'

// The carrier counters of a line PLC read the way the edge agent's shipped profiles do
// (plantwatt-line-plc-t-coal, plantwatt-line-plc-t-oxygen-gas): modbus-serial's client and the
// layout of plc.ts written out here — FC 04 0x0000 float32 coal t, 0x0002 / 0x0004 uint32 gas / oxygen m3.
type Client = InstanceType<typeof ModbusRTU.default>
const MONDAY_10H = Date.UTC(2026, 0, 5, 2, 0) // 2026-01-05 10:00 Shanghai
const HOUR = 3_600_000

// Hand-worked rates per tonne (GB/T 2589 coefficients of benchmarks.ts):
// clinker at 108.5 kgce/t (compliant) with 52 kWh/t: (108.5 − 52 × 0.1229) / 714.3 = 0.14295 t coal/t;
// billet at 58.56 kgce/t (benchmark) with 360 kWh/t and 30 m3 O2/t: (58.56 − 44.244 − 12) / 1.2143 = 1.9073 m3 gas/t.
const COAL_PER_T = (108.5 - 52 * 0.1229) / 714.3
const GAS_PER_T = (58.56 - 360 * 0.1229 - 30 * 0.4) / 1.2143

const runs: RunningScenario[] = []
const clients: Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => c.close(() => r()))
  await Promise.all(runs.splice(0).map((r) => r.close()))
})

function fuelLines(): Scenario {
  const line = (id: string, ratedKw: number, product: Record<string, unknown>, productionDevice: string) => ({
    id,
    loadShape: 'continuous',
    ratedKw,
    idleFraction: 0.05,
    lossFraction: 0.03,
    product,
    productionDevice,
    mainMeter: { id: 'main', profile: 'acrel-adl400-primary' },
  })
  return parseScenario({
    name: 'fuel',
    seed: 7,
    enterprises: [
      {
        id: 'ent',
        sites: [
          {
            id: 'site',
            lines: [
              line(
                'kiln',
                12_500,
                {
                  id: 'clinker',
                  unit: 't',
                  benchmark: 'clinker-energy',
                  secTarget: 'compliant',
                  electricityKwhPerUnit: 52,
                  carriers: [{ quantity: 'coal_t', balance: true }],
                },
                'dcs',
              ),
              line(
                'eaf',
                60_000,
                {
                  id: 'billet',
                  unit: 't',
                  benchmark: 'eaf-steel',
                  secTarget: 'benchmark',
                  electricityKwhPerUnit: 360,
                  carriers: [
                    { quantity: 'oxygen_m3', perUnit: 30 },
                    { quantity: 'gas_m3', balance: true },
                  ],
                },
                'plc',
              ),
            ],
          },
        ],
      },
    ],
  })
}

async function client(p: ScenarioPlcEndpoint): Promise<Client> {
  const c = new ModbusRTU.default()
  await c.connectTCP(p.host!, { port: p.port! })
  c.setID(p.unitId)
  c.setTimeout(1000)
  clients.push(c)
  return c
}

const tonnes = async (c: Client) => (await c.readHoldingRegisters(0x0000, 2)).buffer.readFloatBE(0)
const coal = async (c: Client) => (await c.readInputRegisters(0x0000, 2)).buffer.readFloatBE(0)
const gasOxygen = async (c: Client) => {
  const b = (await c.readInputRegisters(0x0002, 4)).buffer
  return { gas: b.readUInt32BE(0), oxygen: b.readUInt32BE(4) }
}

describe('line PLC carrier counters (coal, gas, oxygen) in a live run', () => {
  it('continue the history readings and grow with the line output at the product rates', async () => {
    let now = MONDAY_10H
    // Where a backfilled history ended: the live counters go on from here.
    const initialCounters = new Map([
      ['ent/site/kiln/dcs', { output_t: 1000, coal_t: 142.95 }],
      ['ent/site/eaf/plc', { output_t: 500, oxygen_m3: 15_000.4, gas_m3: 953.5 }],
    ])
    const run = await startScenario(fuelLines(), { clock: () => now, updateIntervalMs: 0, initialCounters })
    runs.push(run)
    const [kiln, eaf] = run.plcs as [ScenarioPlcEndpoint, ScenarioPlcEndpoint]
    expect([kiln.profile, kiln.carrierRegisters, eaf.profile, eaf.carrierRegisters]).toEqual([
      'plantwatt-line-plc-t-coal',
      { coal_t: 0x0000 },
      'plantwatt-line-plc-t-oxygen-gas',
      { oxygen_m3: 0x0004, gas_m3: 0x0002 },
    ])
    const k = await client(kiln)
    const e = await client(eaf)
    // At the start: the readings raised to what the registers hold (float32 up, whole m3 up).
    const coal0 = await coal(k)
    // 142.95 as float32 is 0x430EF333 = 142.9499969…, below the reading: the next float up, 0x430EF334.
    expect(coal0).toBe(142.95001220703125)
    expect(await gasOxygen(e)).toEqual({ gas: 954, oxygen: 15_001 })
    const out0 = { kiln: await tonnes(k), eaf: await tonnes(e) }
    expect(out0).toEqual({ kiln: 1000, eaf: 500 })

    now += HOUR
    run.tick()
    const made = { kiln: (await tonnes(k)) - out0.kiln, eaf: (await tonnes(e)) - out0.eaf }
    // 12.5 MW at 52 kWh/t scaled to the productive share, 60 MW at 360 kWh/t: ~200 t and ~150 t an hour.
    expect(made.kiln).toBeGreaterThan(100)
    expect(made.kiln).toBeLessThan(300)
    expect(made.eaf).toBeGreaterThan(50)
    expect(made.eaf).toBeLessThan(250)
    // Coal: Δcoal = Δoutput × 0.14295, to the float32 resolution of both counters (2⁻¹³ t at 1000–2000 t).
    const coal1 = await coal(k)
    expect(Math.abs(coal1 - coal0 - made.kiln * COAL_PER_T)).toBeLessThan(0.01)
    expect(kiln.snapshot().carriers).toEqual({ coal_t: coal1 })
    // Gas and oxygen: whole m3 of 954 + Δt × 1.9073 and 15001 + Δt × 30 (±1 for rounding of both ends).
    const go = await gasOxygen(e)
    expect(Math.abs(go.gas - (954 + made.eaf * GAS_PER_T))).toBeLessThanOrEqual(1)
    expect(Math.abs(go.oxygen - (15_001 + made.eaf * 30))).toBeLessThanOrEqual(1)
    expect(eaf.snapshot().carriers).toEqual({ oxygen_m3: go.oxygen, gas_m3: go.gas })
    // The EAF's comprehensive energy per tonne over the hour from the served counters alone is the
    // scenario's 58.56 kgce/t (electricity 360 kWh/t × 0.1229 = 44.244 at the line's own SEC).
    const kgcePerT = 360 * 0.1229 + ((go.oxygen - 15_001) * 0.4 + (go.gas - 954) * 1.2143) / made.eaf
    expect(kgcePerT).toBeCloseTo(58.56, 1)
  })

  it('serves only the carriers the line counts: any other FC 04 register answers exception 02', async () => {
    const run = await startScenario(fuelLines(), { clock: () => MONDAY_10H, updateIntervalMs: 0 })
    runs.push(run)
    const [kiln, eaf] = run.plcs as [ScenarioPlcEndpoint, ScenarioPlcEndpoint]
    const k = await client(kiln)
    const e = await client(eaf)
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (err: { modbusCode?: number }) => err.modbusCode,
      )
    expect(await coal(k)).toBe(0) // no readings given: from 0
    expect(await code(k.readInputRegisters(0x0002, 2))).toBe(2) // no gas on the kiln
    expect(await code(e.readInputRegisters(0x0000, 2))).toBe(2) // no coal at the EAF shop
    expect(await gasOxygen(e)).toEqual({ gas: 0, oxygen: 0 })
  })
})
