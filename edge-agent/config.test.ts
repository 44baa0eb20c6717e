import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseConfigText, validateConfig, type ConfigProblem } from '../core/config.ts'
import { PlantWattError } from '../core/errors.ts'
import { MqttClientConfigSchema } from '../core/mqtt.ts'
import { startEdgeAgent } from './agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { createDriver } from './drivers.ts'

const exampleFile = fileURLToPath(new URL('./examples/modbus-tcp.yaml', import.meta.url))

function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof PlantWattError) return err.details as ConfigProblem[]
    throw err
  }
  throw new Error('expected a PlantWattError')
}

describe('edge config', () => {
  it('the sample config validates, fills defaults and builds its drivers without I/O', () => {
    const raw = parseConfigText(readFileSync(exampleFile, 'utf8'), exampleFile) as { mqtt: unknown; edge: unknown }
    expect(Object.keys(raw)).toEqual(['mqtt', 'edge'])
    const mqtt = validateConfig(MqttClientConfigSchema, raw.mqtt, exampleFile)
    expect(mqtt.url).toBe('mqtt://127.0.0.1:1883')
    const edge = validateConfig(EdgeConfigSchema, raw.edge, exampleFile) as EdgeConfig
    expect(edge.devices).toHaveLength(2)
    expect(edge.devices[1]).toMatchObject({
      device: 'mill-drive',
      connection: { transport: 'tcp', host: '192.168.10.50', port: 502, unitId: 3, timeoutMs: 1000 },
      pollIntervalMs: 5000,
      retries: 1,
      maxRegistersPerRead: 40,
      maxGapRegisters: 10,
    })
    const drivers = edge.devices.map((d) => createDriver(d))
    expect(drivers.map((d) => d.endpoint)).toEqual(['tcp://192.168.10.21:502 unit 1', 'tcp://192.168.10.50:502 unit 3'])
  })

  it('an empty section is a valid agent with no devices (plantwatt up adds the simulated ones)', () => {
    expect(validateConfig(EdgeConfigSchema, {})).toEqual({
      agentId: 'edge',
      publishQos: 1,
      maxSamplesPerMessage: 100,
      publishIntervalMs: 0,
      outboxMaxSamples: 100_000,
      buffer: 'disk',
      bufferDir: './data/edge-buffer',
      bufferSync: 'normal',
      heapGrowingPercent: 100,
      statusIntervalMs: 10_000,
      devices: [],
    })
  })

  it('reports every bad key with its path', () => {
    const problems = problemsOf(() =>
      validateConfig(EdgeConfigSchema, {
        agentId: 'Edge 1',
        publishQos: 2,
        devices: [
          {
            enterprise: 'e',
            site: 's',
            line: 'l/x',
            device: 'd',
            driver: 'bacnet',
            profile: 'eastron-sdm630',
            connection: { host: 'h', port: 70000, colour: 1 },
          },
        ],
      }),
    )
    const paths = problems.map((p) => p.path)
    expect(paths).toEqual(expect.arrayContaining(['/agentId', '/publishQos', '/devices/0/line', '/devices/0/driver', '/devices/0/connection/colour']))
    const port = problemsOf(() =>
      validateConfig(EdgeConfigSchema, {
        devices: [
          {
            enterprise: 'e',
            site: 's',
            line: 'l',
            device: 'd',
            driver: 'modbus',
            profile: 'p',
            connection: { host: 'h', port: 70000 },
            maxRegistersPerRead: 126,
          },
        ],
      }),
    )
    expect(port.map((p) => p.path)).toEqual(['/devices/0/connection/port', '/devices/0/maxRegistersPerRead'])
  })

  it('startEdgeAgent rejects duplicate devices, a device without the settings its transport needs and an agentId used as a device id, all at once; an unknown profile alone is not fatal', async () => {
    const device = (id: string, profile = 'eastron-sdm630', connection: Record<string, unknown> = { host: '127.0.0.1', port: 1 }) => ({
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: id,
      driver: 'modbus',
      profile,
      connection,
    })
    const config = validateConfig(EdgeConfigSchema, {
      agentId: 'edge-1',
      // m2: an unknown profile only (a per-device error, not in this list); m3: no host AND an unknown
      // profile: the settings mistake is a config problem, checked before the profile is loaded
      devices: [device('m1'), device('m1'), device('m2', 'no-such-meter'), device('m3', 'no-such-meter', { port: 1 }), device('edge-1')],
    }) as EdgeConfig
    let error: unknown
    try {
      await startEdgeAgent({ config, mqtt: { url: 'mqtt://127.0.0.1:1', keepaliveS: 30, reconnectPeriodMs: 1000 } })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(PlantWattError)
    expect((error as PlantWattError).code).toBe('EDGE_ERR_CONFIG')
    expect((error as PlantWattError).details).toEqual([
      { path: '/devices/1', message: 'device e/s/l/m1 is already configured at /devices/0' },
      { path: '/devices/3', message: 'EDGE_ERR_DRIVER_CONFIG: device m3: connection: transport tcp needs host' },
      { path: '/devices/4/device', message: expect.stringMatching(/equals agentId/) },
    ])
  })
})
