import { describe, expect, it } from 'vitest'
import { hostStatePayload, hostStateTopic, parseHostState } from './sparkplug-state.ts'

describe('Sparkplug primary host STATE', () => {
  it('topic and payload as Sparkplug B 3.0 §5.3 writes them, read back; anything else is not a STATE', () => {
    expect(hostStateTopic('plantwatt')).toBe('spBv1.0/STATE/plantwatt')
    expect(hostStatePayload(true, 1_700_000_000_123).toString()).toBe('{"online":true,"timestamp":1700000000123}')
    expect(parseHostState(hostStatePayload(false, 42))).toEqual({ online: false, timestamp: 42 })
    for (const bad of ['not json', 'null', '{"online":"true","timestamp":1}', '{"online":true}', '{"online":true,"timestamp":"1"}'])
      expect(parseHostState(Buffer.from(bad)), bad).toBeUndefined()
  })
})
