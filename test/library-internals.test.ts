/**
 * The private internals of other libraries that PlantWatt relies on, each checked against the
 * installed library doing the real thing, so that an upgrade that moves one fails here (and not as a
 * silent loss in production). Each use names its upstream issue where it is made:
 * - mqtt.js `MqttClient#_sendPacket` (ingest/ack-sender.ts): a PUBACK sent after the write
 *   (mqttjs/MQTT.js#1299 — no public deferred acknowledgement on MQTT 3.1.1);
 * - Aedes' emitter `mq.length` (broker/server.ts, routing gate): mqemitter's queue, which Aedes
 *   itself never bounds (moscajs/aedes#553);
 * - modbus-serial's buffered ports `_port._buffer` (edge-agent/modbus/client.ts): bytes kept across
 *   requests with no public way to drop them (yaacov/node-modbus-serial#273).
 */
import net from 'node:net'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import type { Aedes } from 'aedes'
import ModbusRTU from 'modbus-serial'
import mqtt, { type IPublishPacket } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { startBroker } from '../broker/index.ts'
import { ptyPair } from '../edge-agent/testing/pty-pair.ts'

let cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c()
  cleanups = []
})

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('mqtt.js: _sendPacket sends the PUBACK a handleMessage error deferred', () => {
  it('an unacknowledged QoS 1 message comes again after a reconnect; one acknowledged by _sendPacket does not', async () => {
    const broker = await startBroker({ port: 0, sysIntervalMs: 0 }, { logger: silentLogger() })
    cleanups.push(() => broker.close())
    const connectDeferring = async (): Promise<{ client: mqtt.MqttClient; got: IPublishPacket[] }> => {
      const client = await mqtt.connectAsync(broker.url, { clientId: 'internals-ingest', clean: false, reconnectPeriod: 0, protocolVersion: 4 })
      const got: IPublishPacket[] = []
      // As ingest/subscriber.ts does: an error in handleMessage's callback skips mqtt.js's own PUBACK.
      client.handleMessage = (packet, callback) => {
        got.push(packet as IPublishPacket)
        callback(new Error('deferred'))
      }
      return { client, got }
    }
    const first = await connectDeferring()
    await first.client.subscribeAsync('pw/v1/#', { qos: 1 })
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'internals-pub', reconnectPeriod: 0 })
    cleanups.push(() => pub.endAsync(true))
    const body = (seq: number) => JSON.stringify({ seq, samples: [{ ts: Date.UTC(2025, 0, 6) + seq, values: { active_power_kw: seq } }] })
    await pub.publishAsync('pw/v1/a/s/l/d/data', body(1), { qos: 1 })
    await pub.publishAsync('pw/v1/a/s/l/d/data', body(2), { qos: 1 })
    await waitFor('both messages', () => first.got.length >= 2)
    const sender = first.client as unknown as { _sendPacket?: (p: { cmd: 'puback'; messageId: number }, cb?: (err?: Error) => void) => void }
    expect(typeof sender._sendPacket).toBe('function')
    // Acknowledge the first only.
    await new Promise<void>((resolve, reject) =>
      sender._sendPacket?.({ cmd: 'puback', messageId: first.got[0]?.messageId as number }, (err) => (err ? reject(err) : resolve())),
    )
    await new Promise((r) => setTimeout(r, 100))
    await first.client.endAsync(true)
    const second = await connectDeferring()
    cleanups.push(() => second.client.endAsync(true))
    await waitFor('the redelivery', () => second.got.length >= 1)
    await new Promise((r) => setTimeout(r, 200))
    expect(second.got.map((p) => (JSON.parse(p.payload.toString()) as { seq: number }).seq)).toEqual([2])
  })
})

describe("Aedes: the emitter's queue length", () => {
  it('is a number that counts publishes waiting to be routed', async () => {
    const { Aedes: AedesClass } = await import('aedes')
    const aedes: Aedes = await AedesClass.createBroker({ concurrency: 1 })
    cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => resolve())))
    const mq = (aedes as unknown as { mq: { length: number } }).mq
    expect(mq.length).toBe(0)
    // With concurrency 1 and a subscriber that never calls back, the next publishes wait in the queue.
    const held: (() => void)[] = []
    ;(aedes as unknown as { mq: { on(topic: string, fn: (packet: unknown, cb: () => void) => void): void } }).mq.on('stuck/#', (_p, cb) => void held.push(cb))
    for (let i = 0; i < 5; i++) aedes.publish({ cmd: 'publish', topic: 'stuck/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, () => {})
    await waitFor('the queue to fill', () => mq.length >= 3)
    for (const cb of held.splice(0)) cb()
  })
})

describe("modbus-serial: the buffered ports' _buffer", () => {
  it('RTU over a serial line keeps unmatched bytes in _port._buffer, which PlantWatt empties before each request', async () => {
    const pair = ptyPair('pw-internals-')
    cleanups.push(() => pair.cleanup())
    await pair.up()
    const rtu = new ModbusRTU.default()
    await rtu.connectRTUBuffered(pair.a, { baudRate: 9600 })
    cleanups.push(() => new Promise<void>((resolve) => rtu.close(() => resolve())))
    const port = (rtu as unknown as { _port?: { _buffer?: Buffer } })._port
    expect(port?._buffer).toBeInstanceOf(Buffer)
    // Garbage from the line (a foreign or late reply) stays in the buffer …
    const line = createWriteStream(pair.b)
    line.write(Buffer.from([0x09, 0x03, 0x02]))
    await waitFor('the stray bytes buffered', () => (port?._buffer?.length ?? 0) >= 3)
    line.destroy()
  })

  it('RTU over TCP (Telnet port) has the same _port._buffer', async () => {
    const server = net.createServer((s) => s.write(Buffer.from([0x01, 0x83])))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const rtu = new ModbusRTU.default()
    await rtu.connectTelnet('127.0.0.1', { port: (server.address() as net.AddressInfo).port })
    cleanups.push(() => new Promise<void>((resolve) => rtu.close(() => resolve())))
    const port = (rtu as unknown as { _port?: { _buffer?: Buffer } })._port
    expect(port?._buffer).toBeInstanceOf(Buffer)
    await waitFor('the stray bytes buffered', () => (port?._buffer?.length ?? 0) >= 2)
  })
})
