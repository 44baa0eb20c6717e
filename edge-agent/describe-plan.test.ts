import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { describePlan, edgePlan, planDevices } from './describe-plan.ts'

const config = validateConfig(
  EdgeConfigSchema,
  {
    devices: [
      { enterprise: 'e', site: 's', line: 'l', device: 'main', driver: 'modbus', profile: 'eastron-sdm630', connection: { host: '10.0.0.5' } },
      {
        enterprise: 'e',
        site: 's',
        line: 'l',
        device: 'sub',
        driver: 'modbus',
        profile: 'acrel-adl400-secondary',
        maxGapRegisters: 0,
        ctRatio: 80,
        connection: { transport: 'rtu', path: '/dev/ttyUSB0', parity: 'even', unitId: 3 },
      },
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
      [4, 0x34, 0x1c, 10, 9],
      [4, 0x156, 2, 0, 1],
    ])
    expect(main!.requests[2]!.points).toEqual([
      'active_power_kw',
      'apparent_power_kva',
      'reactive_power_kvar',
      'power_factor',
      'frequency_hz',
      'energy_import_kwh',
      'energy_export_kwh',
      'reactive_energy_import_kvarh',
      'reactive_energy_export_kvarh',
    ])
    // maxGapRegisters 0: only contiguous registers merge
    expect(sub!.endpoint).toBe('rtu:/dev/ttyUSB0 9600 8E1 unit 3')
    expect(sub!.requests.map((r) => [r.address, r.count])).toEqual([
      [0x00, 2],
      [0x0a, 2],
      [0x14, 2],
      [0x61, 6],
      [0x77, 1],
      [0x164, 8],
      [0x172, 2],
      [0x17a, 2],
      [0x17f, 1],
    ])
    expect(bad).toMatchObject({
      requests: [],
      errorCode: 'EDGE_ERR_PROFILE_UNKNOWN',
      error: expect.stringMatching(/^EDGE_ERR_PROFILE_UNKNOWN: profile "no-such-meter"/),
    })
    expect(cnc!.nodes).toEqual([
      { nodeId: 'ns=2;s=Machine.State', quantity: 'machine_state' },
      { nodeId: 'ns=2;s=Machine.ActivePowerKw', quantity: 'active_power_kw' },
      { nodeId: 'ns=2;s=Machine.EnergyKwh', quantity: 'energy_import_kwh' },
      { nodeId: 'ns=2;s=Machine.PartCount', quantity: 'output_count' },
    ])
    const text = describePlan(config)
    expect(text).toContain('e/s/l/cnc  opcua opc.tcp://10.0.0.9:4840 subscribe  profile generic-cnc')
    expect(text).toContain('e/s/l/main  modbus tcp://10.0.0.5:502 unit 1  profile eastron-sdm630  every 1000 ms')
    expect(text).toContain('  4 request(s) per poll for 22 point(s)')
    expect(text).toMatch(/\n {2}FC4 input 0x0034 ×28 +\(10 unused\) active_power_kw, apparent_power_kva,/)
    expect(text).toContain('\n  error: EDGE_ERR_PROFILE_UNKNOWN: profile "no-such-meter": no shipped Modbus profile of that name')
    expect(main!.ratios).toEqual([])
    expect(sub!.ratios).toEqual(['CT 80 (config ctRatio)', 'PT holding 0x008D uint16 (read at connect)'])
    expect(text).toContain('  9 request(s) per poll for 17 point(s)\n  ratios: CT 80 (config ctRatio), PT holding 0x008D uint16 (read at connect)\n')
  })
})

describe('edge plan: OPC UA sessions', () => {
  it('shows which devices share a session: same endpoint, security and user; another user or `session: own` gets its own', () => {
    const ua = (device: string, opcua: Record<string, unknown>) => ({
      enterprise: 'e',
      site: 's',
      line: 'l',
      device,
      driver: 'opcua',
      profile: 'generic-cnc',
      opcua: { endpointUrl: 'opc.tcp://10.0.0.9:4840', securityMode: 'None', securityPolicy: 'None', ...opcua },
    })
    const config = validateConfig(
      EdgeConfigSchema,
      { devices: [ua('a', {}), ua('b', { mode: 'poll' }), ua('c', { username: 'op', password: 'x' }), ua('d', { session: 'own' })] },
      't',
    ) as EdgeConfig
    const plans = planDevices(config)
    expect(plans.map((p) => p.session)).toEqual([
      { label: 'opc.tcp://10.0.0.9:4840 None', devices: ['e/s/l/a', 'e/s/l/b'] },
      { label: 'opc.tcp://10.0.0.9:4840 None', devices: ['e/s/l/a', 'e/s/l/b'] },
      { label: 'opc.tcp://10.0.0.9:4840 None user op', devices: ['e/s/l/c'] },
      { label: 'opc.tcp://10.0.0.9:4840 None', devices: ['e/s/l/d'] },
    ])
    const text = describePlan(config)
    expect(text).toContain(
      'e/s/l/a  opcua opc.tcp://10.0.0.9:4840 subscribe  profile generic-cnc  every 1000 ms\n  4 node(s)\n  session opc.tcp://10.0.0.9:4840 None: shared with 1 other device(s): e/s/l/b\n',
    )
    expect(text).toContain('  session opc.tcp://10.0.0.9:4840 None user op: its own\n')
  })
})

describe('edge plan with bad profiles (what `plantwatt edge plan` prints, and its exit code)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-plan-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const header = ['vendor: ACME', 'model: M1', 'source: test', 'points:']
  const overlapFile = join(dir, 'overlap.yaml')
  writeFileSync(
    overlapFile,
    [
      'name: overlap',
      ...header,
      '  - { quantity: current_l1_a, function: input, address: 6, type: float32 }',
      '  - { quantity: voltage_l1_v, function: input, address: 7, type: float32 }',
    ].join('\n'),
  )
  const rangeFile = join(dir, 'range.yaml')
  writeFileSync(
    rangeFile,
    [
      'name: range',
      ...header,
      '  - { quantity: frequency_hz, function: input, address: 65535, type: float32 }',
      '  - { quantity: volts, function: input, address: 0, type: float32 }',
    ].join('\n'),
  )
  const cncFile = join(dir, 'cnc.yaml')
  writeFileSync(
    cncFile,
    ['name: cnc', ...header, '  - { quantity: machine_state, nodeId: ns=2;s=Machine.State }', '  - { quantity: output_count, nodeId: Machine.PartCount }'].join(
      '\n',
    ),
  )
  const missingFile = join(dir, 'missing.yaml')
  const modbus = (id: string, profile: string) => ({
    enterprise: 'e',
    site: 's',
    line: 'l',
    device: id,
    driver: 'modbus',
    profile,
    connection: { host: '10.0.0.5' },
  })
  const opcua = (id: string, profile: string) => ({
    enterprise: 'e',
    site: 's',
    line: 'l',
    device: id,
    driver: 'opcua',
    profile,
    opcua: { endpointUrl: 'opc.tcp://10.0.0.9:4840', securityMode: 'None', securityPolicy: 'None' },
  })
  const cfg = (devices: unknown[]) => validateConfig(EdgeConfigSchema, { devices }, 't') as EdgeConfig

  it("prints every problem of every bad profile with its own code, the good devices' plans, and exits 1", () => {
    const report = edgePlan(
      cfg([
        modbus('main', 'eastron-sdm630'),
        modbus('overlap', overlapFile),
        modbus('range', rangeFile),
        modbus('missing', missingFile),
        modbus('unknown', 'no-such-meter'),
        opcua('cnc', cncFile),
      ]),
    )
    expect(report.exitCode).toBe(1)
    expect(report.devicesWithErrors).toBe(5)
    expect(report.configProblems).toEqual([])
    expect(report.devices.map((d) => d.errorCode ?? 'ok')).toEqual([
      'ok',
      'EDGE_ERR_PROFILE_OVERLAP',
      'EDGE_ERR_PROFILE_INVALID',
      'EDGE_ERR_PROFILE_MISSING',
      'EDGE_ERR_PROFILE_UNKNOWN',
      'EDGE_ERR_PROFILE_NODE_ID',
    ])
    const lines = report.text.split('\n')
    expect(lines[0]).toBe('e/s/l/main  modbus tcp://10.0.0.5:502 unit 1  profile eastron-sdm630  every 1000 ms')
    expect(lines[1]).toBe('  4 request(s) per poll for 22 point(s)')
    expect(lines.slice(6)).toEqual([
      `e/s/l/overlap  modbus tcp://10.0.0.5:502 unit 1  profile ${overlapFile}  every 1000 ms`,
      `  error: EDGE_ERR_PROFILE_OVERLAP: profile ${overlapFile}: 1 problem(s)`,
      '    EDGE_ERR_PROFILE_OVERLAP /points/1/address: voltage_l1_v (input 0x0007, float32) overlaps current_l1_a (input 0x0006, float32)',
      `e/s/l/range  modbus tcp://10.0.0.5:502 unit 1  profile ${rangeFile}  every 1000 ms`,
      `  error: EDGE_ERR_PROFILE_INVALID: profile ${rangeFile}: 2 problem(s)`,
      '    EDGE_ERR_PROFILE_RANGE /points/0/address: frequency_hz: address 65535 (float32, 2 register(s)) is outside 0..65535',
      '    EDGE_ERR_PROFILE_INVALID /points/1/quantity: unknown quantity "volts": use a canonical name from core/quantities.ts',
      `e/s/l/missing  modbus tcp://10.0.0.5:502 unit 1  profile ${missingFile}  every 1000 ms`,
      `  error: EDGE_ERR_PROFILE_MISSING: profile ${JSON.stringify(missingFile)}: cannot read ${missingFile} (ENOENT): no such file`,
      'e/s/l/unknown  modbus tcp://10.0.0.5:502 unit 1  profile no-such-meter  every 1000 ms',
      expect.stringMatching(
        /^ {2}error: EDGE_ERR_PROFILE_UNKNOWN: profile "no-such-meter": no shipped Modbus profile of that name: cannot read \S+no-such-meter\.yaml \(ENOENT\) \(shipped profiles: acrel-adl400-primary, .*eastron-sdm630/,
      ),
      `e/s/l/cnc  opcua opc.tcp://10.0.0.9:4840 subscribe  profile ${cncFile}  every 1000 ms`,
      `  error: EDGE_ERR_PROFILE_NODE_ID: profile ${cncFile}: 1 problem(s)`,
      '    EDGE_ERR_PROFILE_NODE_ID /points/1/nodeId: output_count: "Machine.PartCount" is not a node id: expected [ns=<n>;]<i|s|g|b>=<identifier> (ns=<n>;s=<name> | i=<n> | g=<guid> | b=<base64>)',
      '5 of 6 device(s) cannot be polled: the agent leaves them out and reports their errors',
    ])
    // what the CLI prints today (describePlan) is the same text
    expect(describePlan(cfg([modbus('main', 'eastron-sdm630'), modbus('overlap', overlapFile)]))).toContain(
      '\n    EDGE_ERR_PROFILE_OVERLAP /points/1/address: voltage_l1_v',
    )
  })

  it('adds the config mistakes that stop the agent; exits 0 only when every device can be polled', () => {
    const good = edgePlan(cfg([modbus('main', 'eastron-sdm630'), opcua('cnc', 'generic-cnc')]))
    expect(good.exitCode).toBe(0)
    expect(good.text).not.toMatch(/error|problem|cannot be polled/)
    const bad = edgePlan(
      cfg([modbus('main', 'eastron-sdm630'), modbus('main', 'eastron-sdm630'), { ...modbus('nohost', 'eastron-sdm630'), connection: { port: 502 } }]),
    )
    expect(bad.exitCode).toBe(1)
    expect(bad.devicesWithErrors).toBe(0)
    expect(bad.text.split('\n').slice(-3)).toEqual([
      'edge config: 2 problem(s) that stop the agent at start (EDGE_ERR_CONFIG)',
      '  /devices/1: device e/s/l/main is already configured at /devices/0',
      '  /devices/2: EDGE_ERR_DRIVER_CONFIG: device nohost: connection: transport tcp needs host',
    ])
  })
})
