import { EventEmitter } from 'node:events'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { AckSender } from './ack-sender.ts'

/** Just what AckSender touches of an mqtt.js client. */
function fakeClient() {
  const sent: number[] = []
  const corks: string[] = []
  const client = Object.assign(new EventEmitter(), {
    connected: true,
    stream: { cork: () => corks.push('cork'), uncork: () => corks.push('uncork') },
    _sendPacket: (p: { messageId: number }) => void sent.push(p.messageId),
  })
  return { client, mqtt: client as unknown as MqttClient, sent, corks }
}

describe('AckSender', () => {
  it("PUBACKs QoS 1 messages of the current connection, in order, in one corked write; not QoS 0, not an earlier connection's", async () => {
    const { client, mqtt, sent, corks } = fakeClient()
    const acks = new AckSender(mqtt)
    client.emit('connect')
    const old = { messageId: 7, connection: acks.connection }
    client.emit('connect')
    const now = acks.connection
    acks.acknowledge([{ messageId: 3, connection: now }, { messageId: undefined, connection: now }, old, { messageId: 1, connection: now }])
    expect(sent).toEqual([3, 1])
    expect(corks).toEqual(['cork'])
    await new Promise((resolve) => process.nextTick(resolve))
    expect(corks).toEqual(['cork', 'uncork'])
  })

  it('sends nothing while disconnected (the broker redelivers)', () => {
    const { client, mqtt, sent } = fakeClient()
    const acks = new AckSender(mqtt)
    client.emit('connect')
    client.connected = false
    acks.acknowledge([{ messageId: 1, connection: acks.connection }])
    expect(sent).toEqual([])
  })
})
