import { describe, expect, it } from 'vitest'
import { loadPlantWattConfig } from './config.ts'
import { withSecretsFromEnv } from './load-config.ts'
import { configHelp, override, portOption } from './options.ts'

describe('cli options', () => {
  it('a port option takes 0–65535 and names itself when given anything else', () => {
    const parse = (v: string) => portOption('api-port', 'HTTP port').parseArg?.(v, undefined)
    expect(parse('0')).toBe(0)
    expect(parse('8080')).toBe(8080)
    for (const bad of ['-1', '65536', '80.5', 'http']) expect(() => parse(bad)).toThrow(`--api-port must be a port number 0-65535, got ${bad}`)
  })

  it('override keeps the file value where the command line gave none', () => {
    expect(override({ port: 1883, host: '0.0.0.0' }, { port: undefined, host: '127.0.0.1' })).toEqual({ port: 1883, host: '127.0.0.1' })
    expect(override({ port: 1883 }, { port: 0 })).toEqual({ port: 0 })
  })

  it('configHelp lists the keys of the sections asked for, with defaults', () => {
    const text = configHelp(['broker'])
    expect(text).toMatch(/broker\.port\s+integer \(default 1883\)/)
    expect(text).not.toContain('edge.devices')
    expect(text).toContain('PLANTWATT_MQTT_PASSWORD')
  })

  it('secrets of the environment win over the file, and the file config is not changed', () => {
    const file = loadPlantWattConfig(undefined)
    const cfg = withSecretsFromEnv(file, { PLANTWATT_MQTT_PASSWORD: 'from-env', PLANTWATT_INFLUX_TOKEN: 'ignored for embedded' })
    expect(cfg.mqtt.password).toBe('from-env')
    expect(file.mqtt.password).toBeUndefined()
    expect(cfg.storage).toEqual(file.storage)
    expect(withSecretsFromEnv(file, {})).toEqual(file)
  })
})
