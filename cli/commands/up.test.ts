import { describe, expect, it } from 'vitest'
import { loadPlantWattConfig } from '../config.ts'
import { parseHistoryDays, upBanner, upConfig } from './up.ts'

const sim = (i: number, port: number) => ({ id: `meter-${i}`, host: '127.0.0.1', port, unitId: i, profile: 'eastron-sdm630' })

describe('plantwatt up', () => {
  it('--history-days: whole days 0–366', () => {
    expect(parseHistoryDays('0')).toBe(0)
    expect(parseHistoryDays('35')).toBe(35)
    for (const bad of ['-1', '367', '1.5', 'week'])
      expect(() => parseHistoryDays(bad)).toThrow(`--history-days must be a whole number of days from 0 to 366, got ${bad}`)
  })

  it('ports and the store file of the command line replace the file values; others stay', () => {
    const file = loadPlantWattConfig(undefined)
    const cfg = upConfig(file, { apiPort: 0, storePath: '/tmp/x.db' })
    expect(cfg.api.port).toBe(0)
    expect(cfg.broker.port).toBe(file.broker.port)
    expect(cfg.storage).toMatchObject({ backend: 'embedded', path: '/tmp/x.db' })
    expect(upConfig(file, {})).toEqual(file)
  })

  it('the banner names every endpoint, each simulator up to 12, else a count', () => {
    const cfg = loadPlantWattConfig(undefined)
    const up = { apiUrl: 'http://127.0.0.1:1', brokerUrl: 'mqtt://127.0.0.1:2', simulators: [sim(1, 5020), sim(2, 5021)] }
    const lines = upBanner(cfg, up, { controlUrl: 'http://127.0.0.1:3' })
    expect(lines[0]).toMatch(/^PlantWatt \S+ is running in one process \(embedded store /)
    expect(lines).toContain('  Live values   http://127.0.0.1:1/api/v1/live')
    expect(lines).toContain('  Fault control http://127.0.0.1:3/faults')
    expect(lines.filter((l) => l.startsWith('  Simulator '))).toHaveLength(2)
    expect(lines.at(-1)).toBe('Press Ctrl-C to stop.')
    const many = upBanner(cfg, { ...up, simulators: Array.from({ length: 13 }, (_, i) => sim(i, 5020 + (i % 3))) }, { scenarioName: 'hubei' })
    expect(many[0]).toContain(', scenario hubei)')
    expect(many).toContain('  Simulators    13 meters on 3 Modbus TCP ports (plantwatt sim --scenario … lists them)')
  })
})
