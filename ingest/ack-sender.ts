import type { MqttClient } from 'mqtt'

/** What a PUBACK needs: the message id (QoS 1) and the connection the message arrived on. */
export interface AckTicket {
  /** Set for QoS 1 messages: the id to PUBACK. */
  messageId: number | undefined
  /** The connection it arrived on: a PUBACK is only meaningful on that connection. */
  connection: number
}

/**
 * Passed to mqtt.js's handleMessage callback for QoS 1 messages: with an error it skips its
 * automatic PUBACK (mqtt 5.16 handlers/publish.js) and goes on reading, so the PUBACK can be sent
 * once the message is written (then through mqtt.js's private `_sendPacket`: there is no public way,
 * mqttjs/MQTT.js#1299; `test/library-internals.test.ts` fails if it changes). customHandleAcks cannot do this: mqtt.js only honours it on
 * MQTT 5 (Aedes speaks 3.1.1), and it runs inside the serial packet pump, so holding it would stop
 * every further packet until the write.
 */
export const DEFER_ACK = new Error('PUBACK deferred until the message is written')

interface PacketSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void): void
}

/** Sends the PUBACKs mqtt.js was told to defer, once the messages are written. */
export class AckSender {
  /** Connections so far: the current one's number. */
  connection = 0

  constructor(private readonly client: MqttClient) {
    client.on('connect', () => this.connection++)
  }

  /** Acknowledges the messages, in the order given, in one socket write. */
  acknowledge(tickets: readonly AckTicket[]): void {
    const stream = this.client.stream as { cork?(): void; uncork?(): void } | undefined
    stream?.cork?.()
    process.nextTick(() => stream?.uncork?.())
    // [MQTT-4.6.0-2] PUBACKs go out in the order the PUBLISH packets arrived.
    for (const t of tickets) this.send(t)
  }

  private send(t: AckTicket): void {
    // [MQTT-4.4.0-1] after a reconnect the broker resends unacknowledged messages itself; a PUBACK
    // for an id of an earlier connection could acknowledge a different message.
    if (t.messageId === undefined || t.connection !== this.connection || !this.client.connected) return
    ;(this.client as unknown as PacketSender)._sendPacket({ cmd: 'puback', messageId: t.messageId })
  }
}
