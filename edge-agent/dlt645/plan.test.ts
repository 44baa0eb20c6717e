import { describe, expect, it } from 'vitest'
import { validateConfig } from '../../core/config.ts'
import { type EdgeDeviceConfig, ModbusDeviceSchema } from '../config.ts'
import { formatDlt645Schedule, planDlt645Buses } from './plan.ts'

const device = (name: string, driver: 'dlt645' | 'cjt188', profile: string, section: Record<string, unknown>): EdgeDeviceConfig =>
  validateConfig(ModbusDeviceSchema, { enterprise: 'e', site: 's', line: 'l', device: name, driver, profile, [driver]: section }, 'test') as EdgeDeviceConfig

describe('the schedule of a line with DL/T 645 and CJ/T 188 meters', () => {
  it('a 645 meter and a 188 heat meter on one port are one line: both take their turns in its poll', () => {
    const [line, ...rest] = planDlt645Buses([
      device('incomer', 'dlt645', 'dlt645-2007-generic', { path: '/dev/ttyS1', address: '000000000001' }),
      device('heat', 'cjt188', 'cjt188-heat', { path: '/dev/ttyS1', address: '00000000201003' }),
      device('other-port', 'cjt188', 'cjt188-water', { path: '/dev/ttyS2', address: '00000000101001' }),
    ])
    expect(rest.map((b) => [b.bus, b.requests.length])).toEqual([['serial:/dev/ttyS2', 1]])
    expect(line?.bus).toBe('serial:/dev/ttyS1')
    expect(line?.requests).toHaveLength(12)
    // 188: 4 FE + 68 T A0..A6 C L (11) + DI DI SER (3) + CS 16 (2) = 20 bytes out; the heat reply 13 + 3 + 43 = 59.
    expect(line?.requests[11]).toMatchObject({ device: 'heat', protocol: 'cjt188', address: '20:00000000201003', di: '901F', requestBytes: 20, replyBytes: 59 })
    // 645 generic 2007: 504 bytes a poll; with the heat meter 583 bytes × 11 bits / 2400 baud = 2672.08 ms, + 12 × 20 ms.
    expect(line).toMatchObject({ bytesPerPoll: 583, lineMsPerPoll: 2672.1, minBusMsPerPoll: 2912.1, baudRate: 2400 })
    expect(formatDlt645Schedule(line as NonNullable<typeof line>)[0]).toMatch(/^bus serial:\/dev\/ttyS1: 2 meter\(s\), 12 request\(s\) per poll/)
  })
})
