import { describe, expect, it } from 'vitest'
import { loadPlantWattConfig } from '../config.ts'
import { checkEdgeAction, edgeSummary } from './edge.ts'

type Agent = Parameters<typeof edgeSummary>[1][number]
const agent = (username: string | null, polling: boolean[]): Agent => ({
  mqtt: { url: 'mqtt://b', username, connected: true, disconnects: 0, publishedMessages: 0, publishFailures: 0 },
  devices: polling.map((p) => ({ polling: p })) as Agent['devices'],
})

describe('plantwatt edge', () => {
  it('knows plan and nothing else', () => {
    expect(checkEdgeAction(undefined)).toBe('run')
    expect(checkEdgeAction('plan')).toBe('plan')
    expect(() => checkEdgeAction('run')).toThrow('unknown edge action "run" (expected plan or push)')
  })

  it('says how many devices are polled, how many not, and as which gateway users', () => {
    const base = loadPlantWattConfig(undefined)
    const cfg = { mqtt: base.mqtt, edge: { ...base.edge, devices: new Array(3).fill({}) as typeof base.edge.devices } }
    expect(edgeSummary(cfg, [agent(null, [true, true, true])])).toBe(`edge agent ${base.edge.agentId} polling 3 device(s), publishing to ${base.mqtt.url}`)
    expect(edgeSummary(cfg, [agent('gw-a', [true]), agent(null, [true, false])])).toBe(
      `edge agent ${base.edge.agentId} polling 2 device(s) (1 not polled: bad profile, see the log), publishing to ${base.mqtt.url} as 2 gateway users (gw-a, anonymous)`,
    )
  })
})
