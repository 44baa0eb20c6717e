import mqtt from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { DEAD_LETTER_TOPIC } from '../core/mqtt.ts'
import { ingestClientId, Subscriber } from './subscriber.ts'
import { startBareBroker } from './test-helpers.ts'

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

describe('Subscriber', () => {
  it('subscribes to telemetry and dead letters, and hands on each message with its id (QoS 1) and a resume callback', async () => {
    const b = await startBareBroker()
    cleanups.push(() => b.close())
    const sub = new Subscriber({
      mqtt: { url: b.url, keepaliveS: 30, reconnectPeriodMs: 100 },
      clientId: 'sub-test',
      config: {},
      will: undefined,
      logger: silentLogger(),
    })
    cleanups.push(() => sub.close())
    const got: [string, string, number | undefined][] = []
    sub.onMessage((topic, payload, messageId, resume) => {
      got.push([topic, payload.toString(), messageId])
      resume()
    })
    await sub.subscribed(5000)
    const pub = await mqtt.connectAsync(b.url, { clientId: 'pub', reconnectPeriod: 0 })
    cleanups.push(() => pub.endAsync(true))
    await pub.publishAsync('pw/v1/e/s/l/m1/data', 'a', { qos: 1 })
    await pub.publishAsync(DEAD_LETTER_TOPIC, 'b', { qos: 0 })
    await pub.publishAsync('pw/v1/e/s/l/m1/state', 'c', { qos: 1 })
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(got.map(([t, p, id]) => [t, p, id === undefined ? 'qos0' : 'qos1'])).toEqual([
      ['pw/v1/e/s/l/m1/data', 'a', 'qos1'],
      [DEAD_LETTER_TOPIC, 'b', 'qos0'],
    ])
  })

  it('fails with INGEST_ERR_CONNECT when no broker answers in time', async () => {
    const sub = new Subscriber({
      mqtt: { url: 'mqtt://127.0.0.1:1', keepaliveS: 30, reconnectPeriodMs: 100 },
      clientId: 'sub-none',
      config: {},
      will: undefined,
      logger: silentLogger(),
    })
    await expect(sub.subscribed(200)).rejects.toMatchObject({ code: 'INGEST_ERR_CONNECT' })
  })
})

describe('ingestClientId', () => {
  it('is the component and host name, with the partition index when there is one', () => {
    expect(ingestClientId(undefined)).toMatch(/^plantwatt-ingest-[a-z0-9_-]+$/)
    expect(ingestClientId({ index: 2, count: 4 })).toBe(`${ingestClientId(undefined)}-p2`)
  })
})
