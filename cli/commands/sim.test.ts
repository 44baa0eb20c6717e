import { describe, expect, it } from 'vitest'
import { scenarioEndpointLines } from './sim.ts'

type Run = Parameters<typeof scenarioEndpointLines>[0]

describe('plantwatt sim --scenario', () => {
  it('lists OPC UA endpoints, then Modbus TCP and RTU devices with their role', () => {
    const run = {
      opcua: [
        { lineKey: 'acme/wuhan/l1', endpointUrl: 'opc.tcp://127.0.0.1:4840', machines: [{ address: { device: 'cnc-1' } }, { address: { device: 'cnc-2' } }] },
      ],
      meters: [
        { key: 'acme/wuhan/l1/main', transport: 'tcp', host: '127.0.0.1', port: 5020, unitId: 1, profile: 'eastron-sdm630', role: 'main' },
        { key: 'acme/wuhan/l1/sub', transport: 'rtu', path: '/dev/pts/3', baudRate: 9600, unitId: 2, profile: 'eastron-sdm630', role: 'sub' },
      ],
      plcs: [{ key: 'acme/wuhan/l1/plc', transport: 'tcp', host: '127.0.0.1', port: 5021, unitId: 1, profile: 'line-plc' }],
    } as unknown as Run
    const lines = scenarioEndpointLines(run).map((l) => l.replace(/ +/g, ' '))
    expect(lines).toEqual([
      'acme/wuhan/l1 opc.tcp://127.0.0.1:4840 (OPC UA: cnc-1, cnc-2)',
      'acme/wuhan/l1/main modbus-tcp://127.0.0.1:5020 unit 1 (eastron-sdm630, main)',
      'acme/wuhan/l1/sub modbus-rtu:/dev/pts/3@9600 unit 2 (eastron-sdm630, sub)',
      'acme/wuhan/l1/plc modbus-tcp://127.0.0.1:5021 unit 1 (line-plc, plc)',
    ])
  })
})
