import net from 'node:net'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { startEdgeAgent, type DeviceStatus } from './agent.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from './modbus/test-fixtures.ts'
import { startTestModbusServer } from './modbus/test-server.ts'
import { startTestBroker, subscribeData, waitFor } from './test-mqtt.ts'

/*
 * The bad-input list of issue 3 over Modbus TCP, against one running agent: devices that answer
 * garbage, short frames, a reply from the wrong unit id, or drop the connection in the middle of a
 * poll. Each is a per-device error with a code and the device's endpoint in the message, while a
 * healthy meter polled by the same agent keeps publishing correct values. (RTU CRC errors, wrong
 * slave ids and garbled frames on a serial line: modbus/rtu.test.ts; profiles with overlapping or
 * out-of-range registers: profile.test.ts; an OPC UA node id that does not exist: opcua/driver.test.ts.)
 */

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

type Behaviour = 'garbage' | 'short' | 'wrong-unit' | 'disconnect-mid-read'

/**
 * A Modbus TCP "device" that misbehaves in one way (MBAP framing per Modbus Messaging on TCP/IP
 * V1.0b §3.1.3: transaction id 2 bytes, protocol id 0, length 2 bytes, unit id, then the PDU).
 * `disconnect-mid-read` answers the first request of each connection correctly-sized with zeros and
 * closes the socket when the second arrives, i.e. within one poll of the SDM630 map.
 */
async function hostile(behaviour: Behaviour): Promise<{ port: number; requests: () => number }> {
  let requests = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let perConnection = 0
    let buf = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 12) {
        const req = buf.subarray(0, 12) // FC3/FC4 read requests are 12 bytes with the MBAP header
        buf = buf.subarray(12)
        requests++
        perConnection++
        const tid = req.readUInt16BE(0)
        const unit = req[6] as number
        const fc = req[7] as number
        const count = req.readUInt16BE(10)
        const reply = (u: number, pdu: Buffer, lengthField = pdu.length + 1): Buffer => {
          const h = Buffer.alloc(7)
          h.writeUInt16BE(tid, 0)
          h.writeUInt16BE(0, 2)
          h.writeUInt16BE(lengthField, 4)
          h[6] = u
          return Buffer.concat([h, pdu])
        }
        const full = Buffer.concat([Buffer.from([fc, count * 2]), Buffer.alloc(count * 2)])
        if (behaviour === 'garbage') socket.write(Buffer.from('this is not a modbus reply at all\r\n', 'latin1'))
        // A frame that ends early: byte count says 2×count, one register less follows (MBAP length consistent with what is sent).
        else if (behaviour === 'short') socket.write(reply(unit, Buffer.concat([Buffer.from([fc, count * 2]), Buffer.alloc(count * 2 - 2)])))
        else if (behaviour === 'wrong-unit') socket.write(reply(unit + 8, full))
        else if (perConnection === 1) socket.write(reply(unit, full))
        else socket.destroy()
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })
  return { port: (server.address() as net.AddressInfo).port, requests: () => requests }
}

describe('edge agent: hostile Modbus devices are per-device errors, the agent keeps going', () => {
  it('garbage, a short frame, a wrong unit id and a disconnect mid-read each get a coded error naming the device; the healthy meter publishes throughout', async () => {
    const good = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => good.close())
    const bad = {
      garbage: await hostile('garbage'),
      short: await hostile('short'),
      'wrong-unit': await hostile('wrong-unit'),
      'disconnect-mid-read': await hostile('disconnect-mid-read'),
    }
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribeData(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const device = (id: string, port: number) => ({
      enterprise: 'e', site: 's', line: 'l', device: id, driver: 'modbus', profile: 'eastron-sdm630',
      pollIntervalMs: 50, retries: 0, connection: { host: '127.0.0.1', port, timeoutMs: 200 },
    })
    const config = validateConfig(
      EdgeConfigSchema,
      { agentId: 'edge-bad', buffer: 'memory', devices: [device('good', good.port), ...Object.entries(bad).map(([id, h]) => device(id, h.port))] },
      't',
    ) as EdgeConfig
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 } })
    cleanups.push(() => agent.close())
    const byId = (id: string): DeviceStatus => agent.status().devices.find((d) => d.address.device === id) as DeviceStatus
    // every hostile device was polled several times (a poll that fails reconnects on the next)
    await waitFor('several polls of every hostile device', () => Object.values(bad).every((h) => h.requests() >= 6), 15_000)
    await waitFor('samples of the healthy meter', () => sub.messages.filter((m) => m.topic.endsWith('/good/data')).length >= 10, 10_000)

    // the healthy meter: every sample complete and correct, no error
    const goodSamples = sub.messages.filter((m) => m.topic === 'pw/v1/e/s/l/good/data').flatMap((m) => m.payload.samples)
    for (const s of goodSamples) expect(closeTo(s.values, SDM630_VALUES)).toEqual([])
    expect(byId('good')).toMatchObject({ readErrors: 0, pointErrors: 0, lastError: null })

    const codes: Record<string, string | undefined> = {}
    for (const id of Object.keys(bad)) {
      const s = byId(id)
      // a clear error: a code, the endpoint in the message; never a published number
      expect(s.lastError, id).not.toBeNull()
      expect(s.lastError?.code, id).toMatch(/^EDGE_ERR_[A-Z_]+$/)
      expect(s.lastError?.message, id).toContain(`tcp://127.0.0.1:${bad[id as keyof typeof bad].port}`)
      expect(s.readErrors + s.pointErrors, id).toBeGreaterThan(0)
      codes[id] = s.lastError?.code
    }
    // Garbage never matches the request's MBAP transaction: the request times out and, no request
    // of the poll answered, the poll fails. A short frame and a reply from another unit id are
    // frame errors of the request (its points bad, the connection kept); a connection closed in
    // the middle of a poll is a lost connection, reopened on the next poll.
    expect(codes).toEqual({ garbage: 'EDGE_ERR_TIMEOUT', short: 'EDGE_ERR_FRAME', 'wrong-unit': 'EDGE_ERR_FRAME', 'disconnect-mid-read': 'EDGE_ERR_CONNECTION' })
    // input 0x0000 ×18: unit + FC + byte count + 36 data bytes + 2 (modbus-serial frames TCP replies like RTU) = 41; one register less = 39
    expect(byId('short').lastError?.message).toMatch(/input 0x0000 ×18: reply of 39 byte\(s\), expected 41 \(short or malformed frame\)/)
    expect(byId('wrong-unit').lastError?.message).toMatch(/reply from unit 9, expected unit 1 \(wrong slave id\)/)
    expect(byId('garbage').readErrors).toBeGreaterThan(0)
    expect(byId('disconnect-mid-read').readErrors).toBeGreaterThan(0)
    // nothing from the hostile devices was published as a value
    const hostileValues = sub.messages.filter((m) => !m.topic.endsWith('/good/data')).flatMap((m) => m.payload.samples.flatMap((s) => Object.keys(s.values)))
    expect(hostileValues).toEqual([])
    // and the agent is still polling the healthy meter
    const before = byId('good').reads
    await waitFor('more reads of the healthy meter', () => byId('good').reads >= before + 3)
  })
})
