import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig } from '../../core/config.ts'
import { MqttClientConfigSchema } from '../../core/mqtt.ts'
import { type EdgeConfig, EdgeConfigSchema } from '../config.ts'
import { createDriver } from '../drivers.ts'

const dir = fileURLToPath(new URL('../examples/', import.meta.url))
const load = (name: string) => {
  const file = `${dir}${name}`
  const raw = parseConfigText(readFileSync(file, 'utf8'), file) as { mqtt: unknown; edge: unknown }
  validateConfig(MqttClientConfigSchema, raw.mqtt, file)
  return validateConfig(EdgeConfigSchema, raw.edge, file) as EdgeConfig
}

describe('CJ/T 188 sample configs', () => {
  it('cjt188-serial.yaml: validates with its defaults and builds three meters on one line without I/O', () => {
    const edge = load('cjt188-serial.yaml')
    expect(edge.devices[1]?.cjt188).toMatchObject({
      transport: 'serial',
      diOrder: 'low-first',
      preambleBytes: 4,
      heatQuantity: 'auto',
      timeoutMs: 1000,
      badStatusMask: 0,
      valve: 'report',
      serCheck: 'echo',
    })
    const drivers = edge.devices.map((d) => createDriver(d) as ReturnType<typeof createDriver> & { quantities(): string[] })
    expect(drivers.map((d) => d.endpoint)).toEqual([
      'serial:/dev/ttyUSB1 2400 8E1 meter 10:78330011223344',
      'serial:/dev/ttyUSB1 2400 8E1 meter 30:00000000301002',
      'serial:/dev/ttyUSB1 2400 8E1 meter 20:00000000201003',
    ])
    expect(drivers.map((d) => d.quantities())).toEqual([
      ['water_m3', 'valve_state', 'battery_low', 'meter_status_word'],
      ['gas_m3', 'valve_state', 'battery_low', 'meter_status_word'],
      ['heat_gj', 'heat_power_kw', 'flow_m3h', 'heat_volume_m3', 'supply_temp_c', 'return_temp_c', 'battery_low', 'meter_status_word'],
    ])
  })

  it('cjt188-dtu.yaml: validates and builds its meters behind one gateway without I/O', () => {
    const edge = load('cjt188-dtu.yaml')
    expect(edge.devices.map((d) => createDriver(d).endpoint)).toEqual([
      'tcp://192.168.30.40:4001 meter 20:00000000201001',
      'tcp://192.168.30.40:4001 meter 13:00000000101002',
    ])
  })
})
