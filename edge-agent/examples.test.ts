import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig } from '../core/config.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { planDevices } from './describe-plan.ts'
import { createDriver } from './drivers.ts'

const dir = fileURLToPath(new URL('./examples/', import.meta.url))
const load = (name: string) => {
  const file = `${dir}${name}`
  const raw = parseConfigText(readFileSync(file, 'utf8'), file) as { mqtt: unknown; edge: unknown }
  validateConfig(MqttClientConfigSchema, raw.mqtt, file)
  return validateConfig(EdgeConfigSchema, raw.edge, file) as EdgeConfig
}

describe('sample configs', () => {
  it('there is one per driver and transport', () => {
    expect(readdirSync(dir).sort()).toEqual([
      'cjt188-dtu.yaml',
      'cjt188-serial.yaml',
      'dlt645-dtu.yaml',
      'dlt645-serial.yaml',
      'modbus-rtu.yaml',
      'modbus-tcp.yaml',
      'opcua.yaml',
    ])
  })

  it('modbus-rtu.yaml: validates, builds its drivers without I/O, plans every device', () => {
    const edge = load('modbus-rtu.yaml')
    expect(edge).toMatchObject({ buffer: 'disk', bufferDir: './data/edge-buffer' })
    const drivers = edge.devices.map((d) => createDriver(d))
    expect(drivers.map((d) => d.endpoint)).toEqual([
      'rtu:/dev/ttyUSB0 9600 8E1 unit 1',
      'rtu:/dev/ttyUSB0 9600 8E1 unit 2',
      'rtu:/dev/ttyUSB0 9600 8E1 unit 3',
      'rtu-over-tcp://192.168.10.60:4001 unit 5',
    ])
    const plans = planDevices(edge)
    expect(plans.every((p) => p.error === undefined && p.requests.length > 0)).toBe(true)
  })

  it('opcua.yaml: validates with its defaults and builds its drivers without I/O', () => {
    const edge = load('opcua.yaml')
    expect(edge.devices[0]!.opcua).toMatchObject({
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      mode: 'subscribe',
      deadband: 'absolute',
      timeoutMs: 5000,
    })
    expect(edge.devices[1]!.opcua).toMatchObject({ securityMode: 'None', mode: 'poll', pkiDir: './data/opcua-pki' })
    expect(edge.devices.map((d) => createDriver(d).endpoint)).toEqual([
      'opc.tcp://192.168.20.17:4840 SignAndEncrypt/Basic256Sha256',
      'opc.tcp://192.168.20.2:4840 None',
      'opc.tcp://192.168.20.2:4840 None',
    ])
    expect(planDevices(edge)[0]!.nodes).toHaveLength(4)
    // the two devices behind the line PLC share its session
    expect(planDevices(edge).map((p) => p.session?.devices.length)).toEqual([1, 2, 2])
  })
})
