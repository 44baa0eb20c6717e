import { describe, expect, it } from 'vitest'
import { FaultBook } from '../faults.ts'
import { createLinePlcs } from './line-plcs.ts'
import { createMeterGroups } from './meter-groups.ts'
import type { ScenarioMeter, ScenarioProduction } from './model.ts'
import { createProductionCounter } from './production-counter.ts'

const T0 = Date.UTC(2026, 0, 5, 2)
const clock = () => T0
const address = (line: string, device: string) => ({ enterprise: 'e', site: 's', line, device })

function meter(line: string, device: string, role: 'main' | 'sub', unitId: number, endpoint: string): ScenarioMeter {
  return {
    address: address(line, device),
    key: `e/s/${line}/${device}`,
    role,
    name: device,
    profile: 'eastron-sdm630',
    ratedKw: 400,
    seed: unitId,
    transport: 'tcp',
    host: '127.0.0.1',
    port: 0,
    unitId,
    baudRate: 9600,
    endpoint,
    startEnergyKwh: 1000 * unitId,
    powerKw: () => 100,
    powerFactor: () => 0.9,
  }
}
function production(line: string, quantity: 'output_t' | 'output_count', ratePerHour: number): ScenarioProduction {
  return { address: address(line, 'plc'), key: `e/s/${line}/plc`, productId: 'p', quantity, secKwhPerUnit: 100, ratePerHour: () => ratePerHour }
}

// Lines a and b share one gateway; line c has its own; line d has no main meter.
const meters = [
  meter('a', 'main', 'main', 1, 'tcp:gw'),
  meter('a', 'sub', 'sub', 5, 'tcp:gw'),
  meter('b', 'main', 'main', 2, 'tcp:gw'),
  meter('c', 'main', 'main', 1, 'line:c'),
  meter('d', 'sub', 'sub', 1, 'line:d'),
]
const lines = [production('a', 'output_t', 10), production('b', 'output_count', 60), production('c', 'output_t', 1), production('d', 'output_count', 1)]
const faults = new FaultBook({ timezone: 'Asia/Shanghai', seed: 1, devices: new Set([...meters.map((m) => m.key), ...lines.map((p) => p.key)]) })
const deps = { timezone: 'Asia/Shanghai', clock, faults, initial: new Map(), resumed: () => ({}) }

describe('createMeterGroups', () => {
  it('groups the meter devices by endpoint, in model order', () => {
    const groups = createMeterGroups(meters, deps)
    expect([...groups].map(([endpoint, members]) => [endpoint, members.map((m) => [m.meter.key, m.device.unitId, m.device.profile])])).toEqual([
      [
        'tcp:gw',
        [
          ['e/s/a/main', 1, 'eastron-sdm630'],
          ['e/s/a/sub', 5, 'eastron-sdm630'],
          ['e/s/b/main', 2, 'eastron-sdm630'],
        ],
      ],
      ['line:c', [['e/s/c/main', 1, 'eastron-sdm630']]],
      ['line:d', [['e/s/d/sub', 1, 'eastron-sdm630']]],
    ])
    // The device ticked once at creation, from the scenario's start energy.
    expect(groups.get('line:c')![0]!.device.snapshot().values.energy_import_kwh).toBe(1000)
  })
})

describe('createLinePlcs', () => {
  it("puts each line's PLC on its main meter's endpoint, one unit id above the highest there", () => {
    const groups = createMeterGroups(meters, deps)
    const counters = lines.map((p) => createProductionCounter(p, clock, 12.5))
    const plcs = createLinePlcs(lines, counters, meters, groups, { scenarioName: 'test', clock, faults, resumed: () => ({}) })
    expect([...plcs].map(([endpoint, list]) => [endpoint, list.map((x) => [x.index, x.device.unitId, x.device.profile, x.device.snapshot().value])])).toEqual([
      [
        'tcp:gw',
        [
          [0, 6, 'plantwatt-line-plc-t', 12.5],
          [1, 7, 'plantwatt-line-plc-pcs', 12],
        ],
      ],
      ['line:c', [[2, 2, 'plantwatt-line-plc-t', 12.5]]],
    ])
  })

  it('is SIM_ERR_CONFIG when no unit id is left', () => {
    const full = [meter('a', 'main', 'main', 247, 'tcp:gw')]
    const groups = createMeterGroups(full, deps)
    const counters = [createProductionCounter(lines[0]!, clock, 0)]
    expect(() => createLinePlcs([lines[0]!], counters, full, groups, { scenarioName: 'test', clock, faults, resumed: () => ({}) })).toThrow(
      expect.objectContaining({ code: 'SIM_ERR_CONFIG', message: 'scenario test: no unit id left for the production counter e/s/a/plc on tcp:gw' }),
    )
  })
})
