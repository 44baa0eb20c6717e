import { EventEmitter } from 'node:events'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import type { Logger } from '../core/logger.ts'
import { silentLogger } from '../core/logger.ts'
import { ConnectionTracker } from './connection.ts'

const URL = 'mqtt://broker:1883'

function tracker() {
  const client = new EventEmitter()
  const warnings: Record<string, unknown>[] = []
  const logger = { ...silentLogger(), warn: (obj: Record<string, unknown>) => void warnings.push(obj) } as Logger
  let now = 1000
  const t = new ConnectionTracker(client as unknown as MqttClient, URL, logger, () => now++)
  return { client, t, warnings }
}

describe('ConnectionTracker', () => {
  it('counts the loss of an established connection as INGEST_ERR_DISCONNECTED, with the reason when there is one, and warns each time', () => {
    const { client, t, warnings } = tracker()
    client.emit('close') // never connected: not a disconnect
    expect(t.disconnects).toBe(0)
    client.emit('connect')
    client.emit('close')
    expect(t.lastError).toEqual({
      code: 'INGEST_ERR_DISCONNECTED',
      message: expect.stringContaining(`disconnected from ${URL}: connection closed by the broker`),
      at: 1000,
    })
    client.emit('connect')
    client.emit('error', new Error('read ECONNRESET'))
    client.emit('close')
    expect(t.disconnects).toBe(2)
    expect(t.lastError?.message).toContain('read ECONNRESET')
    expect(warnings.filter((w) => w.code === 'INGEST_ERR_DISCONNECTED').map((w) => w.disconnects)).toEqual([1, 2])
  })

  it('records a CONNACK refusal as INGEST_ERR_BROKER_REFUSED, and does not count close() as a disconnect', () => {
    const { client, t } = tracker()
    client.emit('error', Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }))
    expect(t.lastError).toMatchObject({
      code: 'INGEST_ERR_BROKER_REFUSED',
      message: `broker ${URL} refused the connection: CONNACK return code 5 (Connection refused: Not authorized)`,
    })
    client.emit('connect')
    t.closing()
    client.emit('close')
    expect(t.disconnects).toBe(0)
  })
})
