import { describe, expect, it } from 'vitest'
import { addressOfTags, addressTags, buildTopic, channelFilter, parseTopic } from './topic.ts'
import { deviceKey, lineKey } from './plant.ts'
import { isPlantWattError } from './errors.ts'

describe('topic scheme', () => {
  it('builds and parses pw/v1/{enterprise}/{site}/{line}/{device}/{channel}', () => {
    const topic = buildTopic({ enterprise: 'hb-steel', site: 'wuhan', line: 'rolling_1', device: 'meter-01' }, 'data')
    expect(topic).toBe('pw/v1/hb-steel/wuhan/rolling_1/meter-01/data')
    expect(parseTopic(topic)).toEqual({ enterprise: 'hb-steel', site: 'wuhan', line: 'rolling_1', device: 'meter-01', channel: 'data' })
  })

  it.each([
    ['pw/v1/+/wuhan/l1/m1/data', 'enterprise'],
    ['pw/v1/e/#/l1/m1/data', 'site'],
    ['pw/v1/e/s//m1/data', 'line'],
    ['pw/v1/e/s/l/M1/data', 'device'],
    ['pw/v1/e/s/l/m 1/data', 'device'],
    ['pw/v1/e/s/l/m1/telemetry', 'channel'],
    ['pw/v1/e/s/l/m1', 'is not'],
    ['pw/v2/e/s/l/m1/data', 'is not'],
    ['$SYS/e/s/l/m1/data/x', 'is not'],
    ['pw/v1/e/s/l/m1/data/extra', 'is not'],
  ])('rejects %s naming the %s', (topic, what) => {
    let caught: unknown
    try {
      parseTopic(topic)
    } catch (err) {
      caught = err
    }
    expect(isPlantWattError(caught, 'CORE_ERR_TOPIC')).toBe(true)
    expect((caught as Error).message).toContain(what)
  })

  it('refuses to build a topic from an invalid id', () => {
    expect(() => buildTopic({ enterprise: 'a/b', site: 's', line: 'l', device: 'd' }, 'data')).toThrow(/enterprise/)
  })

  it('builds subscription filters per channel', () => {
    expect(channelFilter('data')).toBe('pw/v1/+/+/+/+/data')
    expect(channelFilter('alert', 'hb-steel')).toBe('pw/v1/hb-steel/+/+/+/alert')
  })
})

describe('address tags and keys', () => {
  const a = { enterprise: 'acme', site: 'w1', line: 'l1', device: 'm1' }

  it('reads an address back from its tags, other tags ignored, a missing one as empty', () => {
    expect(addressOfTags({ ...addressTags(a), quality: 'good' })).toEqual(a)
    expect(addressOfTags({ enterprise: 'acme', site: 'w1', line: 'l1' })).toEqual({ ...a, device: '' })
  })

  it('keys a device as enterprise/site/line/device and its line as enterprise/site/line', () => {
    expect(deviceKey(a)).toBe('acme/w1/l1/m1')
    expect(lineKey(a)).toBe('acme/w1/l1')
  })
})
