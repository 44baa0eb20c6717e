import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { StatePublisher } from './state-publisher.ts'

function fakeClient() {
  const published: { topic: string; body: Record<string, unknown>; retain: boolean | undefined }[] = []
  const client = {
    connected: true,
    publish(topic: string, body: string, opts: { retain?: boolean }, cb: (err?: Error) => void) {
      published.push({ topic, body: JSON.parse(body) as Record<string, unknown>, retain: opts.retain })
      cb()
    },
  }
  return { client, mqtt: client as unknown as MqttClient, published }
}

describe('StatePublisher', () => {
  it('publishes the stats retained at start and every interval, and a last state with connected: false', async () => {
    const { mqtt, published } = fakeClient()
    const state = new StatePublisher(mqtt, 'pw/sys/ingest/i1', 'i1', () => ({ connected: true, received: 3 }), 20, silentLogger())
    await new Promise((resolve) => setTimeout(resolve, 50))
    await state.close()
    expect(published.length).toBeGreaterThanOrEqual(3)
    expect(published[0]).toMatchObject({ topic: 'pw/sys/ingest/i1', retain: true, body: { clientId: 'i1', connected: true, received: 3 } })
    expect(published.at(-1)?.body).toMatchObject({ connected: false, received: 3 })
    const count = published.length
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(published).toHaveLength(count)
  })

  it('publishes nothing with interval 0, nor while disconnected', async () => {
    const { client, mqtt, published } = fakeClient()
    await new StatePublisher(mqtt, 't', 'i1', () => ({}), 0, silentLogger()).close()
    client.connected = false
    await new StatePublisher(mqtt, 't', 'i1', () => ({}), 10, silentLogger()).close()
    expect(published).toEqual([])
  })
})

describe('StatePublisher: store faults', () => {
  it('publishes at once when the store error appears and when it clears, not only every interval', async () => {
    const published: { body: Record<string, unknown>; qos: number | undefined }[] = []
    const client = {
      connected: true,
      publish(_topic: string, body: string, opts: { qos?: number }, cb: (err?: Error) => void) {
        published.push({ body: JSON.parse(body) as Record<string, unknown>, qos: opts.qos })
        cb()
      },
    }
    let storeError: { code: string; message: string } | undefined
    const state = new StatePublisher(
      client as unknown as MqttClient,
      't',
      'i1',
      () => ({ connected: true, ...(storeError ? { storeError } : {}) }),
      60_000,
      silentLogger(),
    )
    expect(published).toHaveLength(1)
    storeError = { code: 'STORAGE_ERR_FULL', message: 'SQLITE_FULL: database or disk is full' }
    await new Promise((resolve) => setTimeout(resolve, 1300))
    expect(published).toHaveLength(2)
    expect(published[1]).toEqual({
      qos: 0,
      body: expect.objectContaining({ storeError: { code: 'STORAGE_ERR_FULL', message: 'SQLITE_FULL: database or disk is full' } }),
    })
    // The same fault again is not news.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(published).toHaveLength(2)
    storeError = undefined
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect(published).toHaveLength(3)
    expect(published[2]?.body.storeError).toBeUndefined()
    state.stop()
  })
})
