import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ModbusRTU from 'modbus-serial'
import { AttributeIds, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy } from 'node-opcua'
import { afterEach, describe, expect, it } from 'vitest'
import { createSimClock } from '../clock.ts'
import { startScenario, type RunningScenario, type ScenarioMeterEndpoint } from './run.ts'
import { loadScenario, parseScenario, type Scenario } from './schema.ts'
import { kilnLine, siteScenario } from '../testing/lines.ts'

type Client = InstanceType<typeof ModbusRTU.default>
const MONDAY_10H = Date.UTC(2026, 0, 5, 2, 0) // 2026-01-05 10:00 Shanghai

const runs: RunningScenario[] = []
const clients: Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await new Promise<void>((r) => c.close(() => r()))
  await Promise.all(runs.splice(0).map((r) => r.close()))
})

/** The kiln with a third, tiny sub-meter on a secondary-side ADL400 (CT 1), so every profile runs. */
function lineScenario(seed = 3): Scenario {
  const subMeters = [
    { id: 'mill', share: 0.5599, profile: 'chint-dtsu666' },
    { id: 'fan', share: 0.4, profile: 'eastron-sdm630' },
    { id: 'aux', share: 0.0001, profile: 'acrel-adl400-secondary', ctRatio: 1 },
  ]
  return siteScenario('line', seed, [kilnLine({ product: { id: 'clinker', unit: 't', benchmark: 'clinker-electricity', secTarget: 'benchmark' }, subMeters })])
}

async function client(m: ScenarioMeterEndpoint): Promise<Client> {
  const c = new ModbusRTU.default()
  await c.connectTCP(m.host!, { port: m.port! })
  c.setID(m.unitId)
  c.setTimeout(1000)
  clients.push(c)
  return c
}

/** Total active power in kW, decoded from each vendor's own table (DOMAIN.md). */
async function readKw(m: ScenarioMeterEndpoint): Promise<number> {
  const c = await client(m)
  if (m.profile === 'acrel-adl400-primary') return (await c.readHoldingRegisters(0x81a, 2)).buffer.readFloatBE(0)
  if (m.profile === 'chint-dtsu666') return ((await c.readHoldingRegisters(0x2012, 2)).buffer.readFloatBE(0) * 0.1) / 1000
  return (await c.readInputRegisters(0x34, 2)).buffer.readFloatBE(0) / 1000
}

describe('a scenario run', () => {
  it('serves each line on one port by unit id, main = Σ sub-meters + losses, with plant addresses', async () => {
    const run = await startScenario(lineScenario(), { clock: () => MONDAY_10H, updateIntervalMs: 0 })
    runs.push(run)
    expect(run.meters.map((m) => [m.key, m.unitId, m.profile])).toEqual([
      ['ent/site/kiln/main', 1, 'acrel-adl400-primary'],
      ['ent/site/kiln/mill', 2, 'chint-dtsu666'],
      ['ent/site/kiln/fan', 3, 'eastron-sdm630'],
      ['ent/site/kiln/aux', 4, 'acrel-adl400-secondary'],
    ])
    // The scenario's ctRatio reaches the ADL400's CT register (0x8E).
    const aux = await client(run.meters[3]!)
    expect((await aux.readHoldingRegisters(0x8e, 1)).buffer.readUInt16BE(0)).toBe(1)
    expect(new Set(run.meters.map((m) => m.port)).size).toBe(1)
    expect(run.meters[0]!.address).toEqual({ enterprise: 'ent', site: 'site', line: 'kiln', device: 'main' })
    const [main, mill, fan] = await Promise.all(run.meters.slice(0, 3).map(readKw))
    // ~2000 kW × 0.92, and the unmetered ~4 % between the main meter and its sub-meters.
    expect(main!).toBeGreaterThan(1700)
    expect(main!).toBeLessThan(1990)
    expect(mill! + fan!).toBeLessThan(main!)
    expect(Math.abs((main! - mill! - fan!) / main! - 0.04)).toBeLessThan(0.002)
    expect(run.plantModel.enterprises[0]!.sites[0]!.lines[0]!.mainMeter).toBe('main')
  })

  it('runs accelerated on an injected real clock: 60× turns 60 real seconds into an hour of energy and output', async () => {
    let real = 1_000_000
    const clock = createSimClock({ speed: 60, startMs: MONDAY_10H, realNow: () => real })
    expect(clock()).toBe(MONDAY_10H)
    const run = await startScenario(lineScenario(), { clock, updateIntervalMs: 0 })
    runs.push(run)
    const main = run.meters[0]!
    const e0 = main.snapshot().values.energy_import_kwh
    const powers: number[] = [main.snapshot().values.active_power_kw]
    for (let k = 0; k < 60; k++) {
      real += 1000
      run.tick()
      powers.push(main.snapshot().values.active_power_kw)
    }
    expect(clock()).toBe(MONDAY_10H + 3_600_000)
    const e1 = main.snapshot().values.energy_import_kwh
    let integral = 0
    for (let i = 1; i < powers.length; i++) integral += (powers[i - 1]! + powers[i]!) / 2 / 60
    expect(e1 - e0).toBeCloseTo(integral, 6)
    expect(e1 - e0).toBeGreaterThan(1700)
    // Output of the hour at the 'benchmark' target: GB 16780 level 1 (48 kWh/t) × 0.96 ≈ 46.1 kWh/t,
    // on the productive part (above the 10 % idle load) — within a few % of E / 46.08.
    const out = run.production[0]!.snapshot()
    expect(out.ts).toBe(MONDAY_10H + 3_600_000)
    expect(out.value / ((e1 - e0) / (48 * 0.96))).toBeGreaterThan(0.97)
    expect(out.value / ((e1 - e0) / (48 * 0.96))).toBeLessThan(1.1)
  })

  it('starts the shipped hubei scenario: 31 meters on 7 line ports', async () => {
    const run = await startScenario(loadScenario('hubei'), { clock: () => MONDAY_10H, updateIntervalMs: 0 })
    runs.push(run)
    expect(run.meters.length).toBe(31)
    expect(new Set(run.meters.map((m) => m.port)).size).toBe(7)
    expect(run.production.length).toBe(7)
    const eaf = run.meters.find((m) => m.key === 'jiangcheng-steel/qingshan/eaf-1/main')!
    expect(await readKw(eaf)).toBeGreaterThan(10_000)
    expect(run.faults().length).toBe(3) // the example faults of the file
  })
})

describe('a scenario run with OPC UA machines', () => {
  it('serves each line’s machines; they run in the shift and stop after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-run-opcua-'))
    let now = MONDAY_10H
    const scenario = parseScenario({
      name: 'cell',
      seed: 4,
      enterprises: [
        {
          id: 'ent',
          sites: [
            {
              id: 'site',
              lines: [
                {
                  id: 'cell',
                  loadShape: 'shifts',
                  ratedKw: 300,
                  idleFraction: 0.15,
                  lossFraction: 0.1,
                  shifts: [{ name: 'day', start: '08:00', end: '16:00', days: [1, 2, 3, 4, 5] }],
                  product: { id: 'disc', unit: 'pcs', secTarget: 2.5 },
                  productionDevice: 'plc',
                  mainMeter: { id: 'main', profile: 'eastron-sdm630' },
                  subMeters: [{ id: 'cnc-cell', share: 0.9 }],
                  machines: [
                    { id: 'cnc-01', kind: 'cnc', ratedKw: 40, ncCapable: true },
                    { id: 'press-01', kind: 'press', ratedKw: 300 },
                  ],
                },
              ],
            },
          ],
        },
      ],
    })
    const run = await startScenario(scenario, { clock: () => now, updateIntervalMs: 0, opcua: { pkiFolder: join(dir, 'pki') } })
    runs.push(run)
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0 },
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: join(dir, 'client-pki'), automaticallyAcceptUnknownCertificate: false }),
    })
    try {
      expect(run.opcua.length).toBe(1)
      const ep = run.opcua[0]!
      expect(ep.lineKey).toBe('ent/site/cell')
      expect(ep.machines.map((m) => m.key)).toEqual(['ent/site/cell/cnc-01', 'ent/site/cell/press-01'])
      await client.connect(ep.endpointUrl)
      const session = await client.createSession()
      const read = async (id: string) => (await session.read({ nodeId: id, attributeId: AttributeIds.Value })).value.value as number | string
      const press = ep.machines[1]!
      // 10:00 on a Monday is in the shift: not stopped.
      expect(await read(press.nodeIds.State)).toBe(press.snapshot().state)
      expect(press.snapshot().state).not.toBe(0)
      expect(await read(press.nodeIds.Product)).toBe('disc')
      now = MONDAY_10H + 8 * 3_600_000 // 18:00
      run.tick()
      expect(await read(press.nodeIds.State)).toBe(0)
      // Stopped: 3 % of the running rating (control standby), ±5 % noise.
      expect((await read(press.nodeIds.PowerKw)) as number).toBeCloseTo(300 * 0.03, 0)
      expect((await read(press.nodeIds.EnergyKwh)) as number).toBe(press.snapshot().energyKwh)
      expect((await read(press.nodeIds.PartCount)) as number).toBeGreaterThan(0)
      await session.close()
    } finally {
      await client.disconnect()
      await run.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
