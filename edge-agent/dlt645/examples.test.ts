import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig } from '../../core/config.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import { EdgeConfigSchema, type EdgeConfig } from '../config.ts'
import { edgePlan } from '../describe-plan.ts'
import { createDriver } from '../drivers.ts'
import { planDlt645Buses } from './plan.ts'

const dir = fileURLToPath(new URL('../examples/', import.meta.url))
const load = (name: string) => {
  const file = `${dir}${name}`
  const raw = parseConfigText(readFileSync(file, 'utf8'), file) as { mqtt: unknown; edge: unknown }
  validateConfig(MqttClientConfigSchema, raw.mqtt, file)
  return validateConfig(EdgeConfigSchema, raw.edge, file) as EdgeConfig
}

describe('DL/T 645 sample configs', () => {
  it('dlt645-serial.yaml: validates with the 645 defaults, builds its drivers without I/O, plans one bus of three meters', () => {
    const edge = load('dlt645-serial.yaml')
    expect(edge.devices[2]?.dlt645).toMatchObject({ baudRate: 2400, parity: 'even', dataBits: 8, stopBits: 1, preambleBytes: 4, timeoutMs: 1000 })
    expect(edge.devices.map((d) => createDriver(d).endpoint)).toEqual([
      'dlt645:/dev/ttyUSB0 2400 8E1 meter 000012345678',
      'dlt645:/dev/ttyUSB0 2400 8E1 meter 000012345679',
      'dlt645:/dev/ttyUSB0 2400 8E1 meter 000000001997',
    ])
    const report = edgePlan(edge)
    expect(report.exitCode).toBe(0)
    const [bus] = planDlt645Buses(edge.devices)
    // 11 (generic 2007) + 8 (DTSU666) + 10 (generic 1997) identifiers, one request each
    expect(bus?.requests).toHaveLength(29)
    expect(bus?.requests[0]).toMatchObject({ device: 'incomer', di: '0001FF00', requestBytes: 20, replyBytes: 36 })
    // bytes × 11 bits / 2400 baud
    expect(bus?.lineMsPerPoll).toBeCloseTo(((bus?.bytesPerPoll ?? 0) * 11 * 1000) / 2400, 0)
    expect(report.text).toContain('bus serial:/dev/ttyUSB0: 3 meter(s), 29 request(s) per poll')
    expect(report.text).toContain('DI 0201FF00')
  })

  it('dlt645-dtu.yaml: two DTU buses, discovery on the single-meter one', () => {
    const edge = load('dlt645-dtu.yaml')
    expect(edge.devices.map((d) => createDriver(d).endpoint)).toEqual([
      'dlt645-tcp://192.168.30.21:8899 meter discover',
      'dlt645-tcp://192.168.30.22:8899 meter 000000000101',
      'dlt645-tcp://192.168.30.22:8899 meter 000000000102',
    ])
    const buses = planDlt645Buses(edge.devices)
    expect(buses.map((b) => [b.bus, b.requests.length, b.baudKnown])).toEqual([
      ['tcp://192.168.30.21:8899', 8, false],
      ['tcp://192.168.30.22:8899', 22, false],
    ])
    expect(edgePlan(edge).exitCode).toBe(0)
  })
})
