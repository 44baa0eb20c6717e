import { describe, expect, it } from 'vitest'
import type { ScenarioMachine } from './model.ts'
import { machinesByLine } from './opcua-machines.ts'

const machine = (line: string, device: string): ScenarioMachine => ({
  address: { enterprise: 'e', site: 's', line, device },
  key: `e/s/${line}/${device}`,
  lineKey: `e/s/${line}`,
  kind: 'cnc',
  ratedKw: 30,
  seed: 1,
  product: 'p',
  scheduled: () => true,
})

describe('machinesByLine', () => {
  it('groups machines by line, lines in the order of their first machine (one OPC UA server each)', () => {
    const byLine = machinesByLine([machine('b', 'cnc-1'), machine('a', 'cnc-1'), machine('b', 'cnc-2')])
    expect([...byLine].map(([line, list]) => [line, list.map((m) => m.key)])).toEqual([
      ['e/s/b', ['e/s/b/cnc-1', 'e/s/b/cnc-2']],
      ['e/s/a', ['e/s/a/cnc-1']],
    ])
  })
})
