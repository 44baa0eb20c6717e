import ModbusRTU from 'modbus-serial'
import { afterEach, describe, expect, it } from 'vitest'
import { startScenario, type RunningScenario, type ScenarioPlcEndpoint } from './run.ts'
import type { Scenario } from './schema.ts'
import { discLine, kilnLine, siteScenario } from '../testing/lines.ts'

// The line PLC is read the way a third party would: modbus-serial's client and the register
// layout written out here from plc.ts's documentation (float32 / uint32, high word first).
type Client = InstanceType<typeof ModbusRTU.default>
const MONDAY_10H = Date.UTC(2026, 0, 5, 2, 0) // 2026-01-05 10:00 Shanghai

const runs: RunningScenario[] = []
const clients: Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => c.close(() => r()))
  await Promise.all(runs.splice(0).map((r) => r.close()))
})

function twoLines(): Scenario {
  return siteScenario('plc', 11, [kilnLine({ product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'benchmark' } }), discLine()])
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
const parts = async (c: Client) => (await c.readHoldingRegisters(0x0002, 2)).buffer.readUInt32BE(0)
async function modbusCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode
  }
  throw new Error('expected a Modbus exception')
}

async function start(): Promise<{ run: RunningScenario; advance: (ms: number) => void }> {
  let now = MONDAY_10H
  const run = await startScenario(twoLines(), { clock: () => now, updateIntervalMs: 0 })
  runs.push(run)
  return {
    run,
    advance: (ms) => {
      now += ms
      run.tick()
    },
  }
}

describe('line PLCs (production counters over Modbus)', () => {
  it('serves each line counter on the line endpoint under the next free unit id', async () => {
    const { run } = await start()
    const main = (line: string) => run.meters.find((m) => m.key === `ent/site/${line}/main`)!
    expect(run.plcs.map((p) => [p.key, p.quantity, p.profile, p.transport, p.unitId, p.register])).toEqual([
      ['ent/site/kiln/dcs', 'output_t', 'plantwatt-line-plc-t', 'tcp', 4, 0x0000],
      ['ent/site/disc/line-plc', 'output_count', 'plantwatt-line-plc-pcs', 'tcp', 2, 0x0002],
    ])
    for (const [p, line] of [
      [run.plcs[0]!, 'kiln'],
      [run.plcs[1]!, 'disc'],
    ] as const) {
      expect([p.host, p.port]).toEqual([main(line).host, main(line).port])
      expect(p.address).toEqual({ enterprise: 'ent', site: 'site', line, device: p.key.split('/')[3] })
    }
    // The meters on the same port still answer under their own unit ids.
    const c = await client({ ...run.plcs[0]!, unitId: 1 })
    expect((await c.readHoldingRegisters(0x81a, 2)).buffer.readFloatBE(0)).toBeGreaterThan(1000)
  })

  it('serves the counter that equals snapshot() and grows with output (tonnes, float32)', async () => {
    const { run, advance } = await start()
    const plc = run.plcs[0]!
    const counter = run.production[0]!
    const c = await client(plc)
    expect(await tonnes(c)).toBe(0)
    advance(3_600_000)
    const t1 = await tonnes(c)
    expect(t1).toBe(plc.snapshot().value)
    expect(t1).toBe(Math.fround(counter.snapshot().value))
    // 2000 kW × ~0.9 productive for an hour at the clinker benchmark (~50 kWh/t electricity): tens of tonnes.
    expect(t1).toBeGreaterThan(10)
    expect(t1).toBeLessThan(100)
    advance(3_600_000)
    const t2 = await tonnes(c)
    expect(t2).toBe(Math.fround(counter.snapshot().value))
    expect(t2 - t1).toBeGreaterThan(0.5 * t1)
    expect(t2 - t1).toBeLessThan(1.5 * t1)
    // A pcs register on a tonnes PLC, half a float, and FC 04 are illegal data addresses.
    expect(await modbusCode(c.readHoldingRegisters(0x0002, 2))).toBe(2)
    expect(await modbusCode(c.readHoldingRegisters(0x0000, 1))).toBe(2)
    expect(await modbusCode(c.readInputRegisters(0x0000, 2))).toBe(2)
  })

  it('serves whole parts as uint32 on pcs lines; a counter reset fault shows on the wire', async () => {
    const { run, advance } = await start()
    const plc = run.plcs[1]!
    const counter = run.production[1]!
    const c = await client(plc)
    advance(2 * 3_600_000) // 10:00 → 12:00, in the day shift
    const n1 = await parts(c)
    expect(n1).toBe(counter.snapshot().value)
    expect(n1).toBe(plc.snapshot().value)
    expect(Number.isInteger(n1)).toBe(true)
    // (320 − 57.6) kW / (2.4 kWh/pcs scaled to the productive share) over 2 h: a few hundred parts.
    expect(n1).toBeGreaterThan(100)
    expect(n1).toBeLessThan(1000)
    expect(await modbusCode(c.readHoldingRegisters(0x0000, 2))).toBe(2)

    run.injectFault({ device: plc.key, kind: 'counter_reset', start: run.clock() })
    advance(0) // the tick at the fault's start (a live run ticks every second)
    expect(await parts(c)).toBe(0)
    advance(3_600_000)
    const n2 = await parts(c)
    const total = counter.snapshot().value
    expect(total).toBeGreaterThan(n1)
    expect(n2).toBe(plc.snapshot().value)
    expect(n2).toBe(total - n1) // restarted from 0 at the fault, counting on
  })
})
