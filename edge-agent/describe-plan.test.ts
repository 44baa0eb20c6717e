import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { describePlan, planDevices } from './describe-plan.ts'

const config = validateConfig(
  EdgeConfigSchema,
  {
    devices: [
      { enterprise: 'e', site: 's', line: 'l', device: 'main', driver: 'modbus', profile: 'eastron-sdm630', connection: { host: '10.0.0.5' } },
      { enterprise: 'e', site: 's', line: 'l', device: 'sub', driver: 'modbus', profile: 'acrel-adl400-secondary', maxGapRegisters: 0, ctRatio: 80, connection: { transport: 'rtu', path: '/dev/ttyUSB0', parity: 'even', unitId: 3 } },
      { enterprise: 'e', site: 's', line: 'l', device: 'bad', driver: 'modbus', profile: 'no-such-meter', connection: { host: '10.0.0.6' } },
      { enterprise: 'e', site: 's', line: 'l', device: 'cnc', driver: 'opcua', profile: 'generic-cnc', opcua: { endpointUrl: 'opc.tcp://10.0.0.9:4840' } },
    ],
  },
  't',
) as EdgeConfig

describe('edge plan', () => {
  it('lists the coalesced requests per device with their points, and the error of a device it cannot plan', () => {
    const [main, sub, bad, cnc] = planDevices(config)
    expect(main!.endpoint).toBe('tcp://10.0.0.5:502 unit 1')
    expect(main!.requests.map((r) => [r.functionCode, r.address, r.count, r.unused, r.points.length])).toEqual([
      [4, 0x00, 0x12, 0, 9],
      [4, 0x1e, 6, 0, 3],
      [4, 0x34, 0x18, 10, 7],
      [4, 0x156, 2, 0, 1],
    ])
    expect(main!.requests[2]!.points).toEqual(['active_power_kw', 'apparent_power_kva', 'reactive_power_kvar', 'power_factor', 'frequency_hz', 'energy_import_kwh', 'energy_export_kwh'])
    // maxGapRegisters 0: only contiguous registers merge
    expect(sub!.endpoint).toBe('rtu:/dev/ttyUSB0 9600 8E1 unit 3')
    expect(sub!.requests.map((r) => [r.address, r.count])).toEqual([
      [0x00, 2], [0x0a, 2], [0x14, 2], [0x61, 6], [0x77, 1], [0x164, 8], [0x172, 2], [0x17a, 2], [0x17f, 1],
    ])
    expect(bad).toMatchObject({ requests: [], error: expect.stringMatching(/EDGE_ERR_PROFILE: profile "no-such-meter"/) })
    expect(cnc!.nodes).toEqual([
      { nodeId: 'ns=2;s=Machine.State', quantity: 'machine_state' },
      { nodeId: 'ns=2;s=Machine.ActivePowerKw', quantity: 'active_power_kw' },
      { nodeId: 'ns=2;s=Machine.EnergyKwh', quantity: 'energy_import_kwh' },
      { nodeId: 'ns=2;s=Machine.PartCount', quantity: 'output_count' },
    ])
    const text = describePlan(config)
    expect(text).toContain('e/s/l/cnc  opcua opc.tcp://10.0.0.9:4840 subscribe  profile generic-cnc')
    expect(text).toContain('e/s/l/main  modbus tcp://10.0.0.5:502 unit 1  profile eastron-sdm630  every 1000 ms')
    expect(text).toContain('  4 request(s) per poll for 20 point(s)')
    expect(text).toMatch(/\n  FC4 input 0x0034 ×24 +\(10 unused\) active_power_kw, apparent_power_kva,/)
    expect(text).toContain('  error: EDGE_ERR_PROFILE')
    expect(main!.ratios).toEqual([])
    expect(sub!.ratios).toEqual(['CT 80 (config ctRatio)', 'PT holding 0x008D uint16 (read at connect)'])
    expect(text).toContain('  9 request(s) per poll for 17 point(s)\n  ratios: CT 80 (config ctRatio), PT holding 0x008D uint16 (read at connect)\n')
  })
})
