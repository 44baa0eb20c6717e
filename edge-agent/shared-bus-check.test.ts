import { describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { EdgeConfigSchema } from './config.ts'
import { checkEdgeDevices } from './setup.ts'

/** Config checks of DL/T 645 and CJ/T 188 meters that share one line (checkEdgeDevices). */

const base = { enterprise: 'e', site: 's', line: 'l' }
const m645 = (device: string, dlt645: Record<string, unknown>, profile = 'dlt645-2007-generic') => ({ ...base, device, driver: 'dlt645', profile, dlt645 })
const m188 = (device: string, cjt188: Record<string, unknown>, profile = 'cjt188-water') => ({ ...base, device, driver: 'cjt188', profile, cjt188 })
const problemsOf = (devices: unknown[]) => checkEdgeDevices(validateConfig(EdgeConfigSchema, { agentId: 'agent', devices }, 'test')).problems

describe('meters sharing a line', () => {
  it('agree: a 645 and a 188 meter on one port with the same settings, distinct addresses', () => {
    expect(
      problemsOf([
        m645('a', { path: '/dev/ttyS1', address: '000000000001' }),
        m645('b', { path: '/dev/ttyS1', address: '000000000002' }),
        m188('w', { path: '/dev/ttyS1', address: '00000000000001' }),
      ]),
    ).toEqual([])
  })

  it('line settings that differ between a 645 and a 188 meter on one port', () => {
    const problems = problemsOf([
      m645('a', { path: '/dev/ttyS1', address: '000000000001' }),
      m188('w', { path: '/dev/ttyS1', address: '00000000000001', baudRate: 9600 }),
      m645('c', { path: '/dev/ttyS1', address: '000000000003', parity: 'none' }),
    ])
    expect(problems).toEqual([
      {
        path: '/devices/1/cjt188',
        message:
          'line serial:/dev/ttyS1 is configured as 9600 8E1 here and 2400 8E1 at /devices/0/dlt645: every meter on one line must use the same baudRate, parity, dataBits and stopBits',
      },
      {
        path: '/devices/2/dlt645',
        message:
          'line serial:/dev/ttyS1 is configured as 2400 8N1 here and 2400 8E1 at /devices/0/dlt645: every meter on one line must use the same baudRate, parity, dataBits and stopBits',
      },
    ])
  })

  it('two meters with one address on one line (serial and DTU); the same address on another line is fine', () => {
    const problems = problemsOf([
      m645('a', { path: '/dev/ttyS1', address: '000000000001' }),
      m645('b', { path: '/dev/ttyS1', address: '000000000001' }),
      m645('c', { path: '/dev/ttyS2', address: '000000000001' }),
      m188('w1', { transport: 'tcp', host: '10.0.0.9', port: 8899, address: '7833001122334A' }),
      m188('w2', { transport: 'tcp', host: '10.0.0.9', port: 8899, address: '7833001122334a', meterType: 0x11 }),
    ])
    expect(problems).toEqual([
      {
        path: '/devices/1/dlt645/address',
        message: 'meter address 000000000001 is already used on line serial:/dev/ttyS1 by device a (/devices/0/dlt645): both would answer the same requests',
      },
      {
        path: '/devices/4/cjt188/address',
        message:
          'meter address 7833001122334A is already used on line tcp://10.0.0.9:8899 by device w1 (/devices/3/cjt188): both would answer the same requests',
      },
    ])
  })

  it('address discover with another meter (of either protocol) on the line names both devices', () => {
    const problems = problemsOf([
      m645('probe', { transport: 'tcp', host: 'dtu', port: 26, address: 'discover' }),
      m188('w', { transport: 'tcp', host: 'dtu', port: 26, address: '00000000000001' }),
      m645('alone', { transport: 'tcp', host: 'dtu', port: 27, address: 'discover' }),
    ])
    expect(problems).toEqual([
      {
        path: '/devices/0/dlt645/address',
        message:
          'address discover needs the meter alone on its line, but tcp://dtu:26 also has device w (/devices/1/cjt188): discovery by the broadcast address would take whichever meter answers; set the printed address',
      },
    ])
  })

  it('address discover with a DL/T 645-1997 profile', () => {
    const problems = problemsOf([m645('old', { path: '/dev/ttyS3', address: 'discover' }, 'dlt645-1997-generic')])
    expect(problems).toEqual([
      {
        path: '/devices/0',
        message: expect.stringContaining(
          "address discover reads the address with DL/T 645-2007's C=13H, which DL/T 645-1997 (profile dlt645-1997-generic) does not define: set the meter's printed address",
        ),
      },
    ])
  })

  it('a Modbus RTU bus on the port of a 645 meter', () => {
    const problems = problemsOf([
      m645('a', { path: '/dev/ttyS1', address: '000000000001' }),
      { ...base, device: 'mb', driver: 'modbus', profile: 'eastron-sdm630', connection: { transport: 'rtu', path: '/dev/ttyS1', unitId: 1 } },
    ])
    expect(problems).toEqual([
      {
        path: '/devices/1/connection',
        message:
          'Modbus RTU bus serial:/dev/ttyS1 is also the line of dlt645 device a (/devices/0/dlt645): the agent cannot share one line between Modbus and DL/T 645 / CJ/T 188',
      },
    ])
  })
})
