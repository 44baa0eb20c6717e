import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FaultBook } from '../faults.ts'
import { createLinePlcs } from './line-plcs.ts'
import { createMeterGroups } from './meter-groups.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'
import { serveModbusEndpoints } from './modbus-endpoints.ts'
import { createProductionCounter } from './production-counter.ts'
import { StopList } from './stop-list.ts'

const T0 = Date.UTC(2026, 0, 5, 2)
const clock = () => T0
const address = (line: string, device: string) => ({ enterprise: 'e', site: 's', line, device })

function meter(line: string, device: string, role: 'main' | 'sub', unitId: number, port = 0): ScenarioMeter {
  return {
    address: address(line, device),
    key: `e/s/${line}/${device}`,
    role,
    name: device,
    profile: 'chint-dtsu666',
    ratedKw: 400,
    seed: unitId,
    transport: 'tcp',
    host: '127.0.0.1',
    port,
    unitId,
    baudRate: 9600,
    endpoint: port === 0 ? `line:e/s/${line}` : `tcp:127.0.0.1:${port}`,
    startEnergyKwh: 1000,
    powerKw: () => 100,
    powerFactor: () => 0.9,
  }
}
const production = (line: string): ScenarioProduction => ({
  address: address(line, 'plc'),
  key: `e/s/${line}/plc`,
  productId: 'p',
  quantity: 'output_t',
  secKwhPerUnit: 100,
  ratePerHour: () => 5,
})

const stopLists: StopList[] = []
const blockers: Server[] = []
afterEach(async () => {
  await Promise.all(stopLists.splice(0).map((s) => s.close()))
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

async function parts(meters: ScenarioMeter[], lines: ScenarioProduction[]) {
  const faults = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set([...meters.map((m) => m.key), ...lines.map((p) => p.key)]) })
  const groups = createMeterGroups(meters, { timezone: 'Asia/Shanghai', clock, faults, initial: new Map(), resumed: () => ({}) })
  const counters = lines.map((p) => createProductionCounter(p, clock, 2))
  const plcs = createLinePlcs(lines, counters, meters, groups, { scenarioName: 'test', clock, faults, resumed: () => ({}) })
  const stops = new StopList()
  stopLists.push(stops)
  return { groups, plcs, stops }
}

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve(s))
  })

describe('serveModbusEndpoints', () => {
  it('serves each endpoint on its own port and lists meters and PLCs in model order', async () => {
    // Model order a/main, b/main, a/sub: a's meters share a port, so serving order is a/main, a/sub, b/main.
    const meters = [meter('a', 'main', 'main', 1), meter('b', 'main', 'main', 1), meter('a', 'sub', 'sub', 2)]
    const lines = [production('b'), production('a')]
    const { groups, plcs, stops } = await parts(meters, lines)
    const served = await serveModbusEndpoints({ meters, production: lines }, groups, plcs, { scenarioName: 'test', updateIntervalMs: 0, stops })
    expect(served.meters.map((m) => [m.key, m.role, m.profile, m.transport, m.host, m.unitId])).toEqual([
      ['e/s/a/main', 'main', 'chint-dtsu666', 'tcp', '127.0.0.1', 1],
      ['e/s/b/main', 'main', 'chint-dtsu666', 'tcp', '127.0.0.1', 1],
      ['e/s/a/sub', 'sub', 'chint-dtsu666', 'tcp', '127.0.0.1', 2],
    ])
    const [aMain, bMain, aSub] = served.meters
    expect(aMain!.port).toBe(aSub!.port)
    expect(bMain!.port).not.toBe(aMain!.port)
    expect(served.plcs.map((p) => [p.key, p.port, p.unitId, p.register, p.profile, p.snapshot()])).toEqual([
      ['e/s/b/plc', bMain!.port, 2, 0, 'plantwatt-line-plc-t', { ts: T0, value: 2 }],
      ['e/s/a/plc', aMain!.port, 3, 0, 'plantwatt-line-plc-t', { ts: T0, value: 2 }],
    ])
    await stops.close()
    // Every stop was handed over: the ports are free again.
    blockers.push(await listen(aMain!.port!), await listen(bMain!.port!))
  })

  it('stops what it served and names the endpoint when one cannot listen', async () => {
    const blocker = await listen(0)
    blockers.push(blocker)
    const taken = (blocker.address() as { port: number }).port
    const meters = [meter('a', 'main', 'main', 1), meter('b', 'main', 'main', 1, taken), meter('b', 'sub', 'sub', 2, taken)]
    const { groups, plcs, stops } = await parts(meters, [])
    let freed = 0
    stops.add(async () => {
      freed++
    })
    await expect(serveModbusEndpoints({ meters, production: [] }, groups, plcs, { scenarioName: 'test', updateIntervalMs: 0, stops })).rejects.toThrow(
      expect.objectContaining({
        code: 'SIM_ERR_LISTEN',
        message: expect.stringMatching(new RegExp(`^scenario test: meters on tcp:127.0.0.1:${taken} \\(e/s/b/main, e/s/b/sub\\): `)),
      }),
    )
    expect(freed).toBe(1)
  })
})
