import net from 'node:net'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { validateConfig } from '../core/config.ts'
import { startEdgeAgent, type DeviceStatus } from './agent.ts'
import type { StateMessage } from './publisher.ts'
import { EdgeConfigSchema, type EdgeConfig } from './config.ts'
import { SDM630_VALUES, SDM630_WORDS, closeTo } from './testing/sdm630-fixtures.ts'
import { startTestModbusServer } from './testing/modbus-server.ts'
import { startTestBroker, subscribeData, waitFor } from './testing/mqtt.ts'

/*
 * The bad-input list of issue 3 over Modbus TCP, against one running agent: devices that answer
 * garbage, short frames, a reply from the wrong unit id, or drop the connection in the middle of a
 * poll. Each is a per-device error with a code and the device's endpoint in the message, while a
 * healthy meter polled by the same agent keeps publishing correct values. (RTU CRC errors, wrong
 * slave ids and garbled frames on a serial line: modbus/rtu.test.ts; an OPC UA node id that does not
 * exist: opcua/driver.test.ts.) Then devices whose profile cannot be loaded or validated: left out of
 * polling and reported, the healthy meter polled as usual (the codes themselves: profile-error.test.ts).
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
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: id,
      driver: 'modbus',
      profile: 'eastron-sdm630',
      pollIntervalMs: 50,
      retries: 0,
      connection: { host: '127.0.0.1', port, timeoutMs: 200 },
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
    expect(codes).toEqual({
      garbage: 'EDGE_ERR_TIMEOUT',
      short: 'EDGE_ERR_FRAME',
      'wrong-unit': 'EDGE_ERR_FRAME',
      'disconnect-mid-read': 'EDGE_ERR_CONNECTION',
    })
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

describe('edge agent: a device whose profile cannot be loaded is left out and reported, the others poll', () => {
  it('overlapping registers, registers out of range and a missing profile file: per-device errors in status, retained state and one log line; the healthy meter publishes correct values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-bad-profiles-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const header = ['vendor: ACME', 'model: M1', 'source: test', 'points:']
    const overlapFile = join(dir, 'overlap.yaml')
    // current_l1_a (float32) spans input 0x0006..0x0007; voltage_l1_v at 0x0007 starts inside it
    writeFileSync(
      overlapFile,
      [
        'name: overlap',
        ...header,
        '  - { quantity: current_l1_a, function: input, address: 6, type: float32 }',
        '  - { quantity: voltage_l1_v, function: input, address: 7, type: float32 }',
      ].join('\n'),
    )
    const rangeFile = join(dir, 'range.yaml')
    // a float32 at 65535 needs registers 65535 and 65536; 70000 is past the last register
    writeFileSync(
      rangeFile,
      [
        'name: range',
        ...header,
        '  - { quantity: frequency_hz, function: input, address: 65535, type: float32 }',
        '  - { quantity: power_factor, function: holding, address: 70000, type: int16 }',
      ].join('\n'),
    )
    const missingFile = join(dir, 'no-such-profile.yaml')

    const good = await startTestModbusServer({ units: { 1: { input: { ...SDM630_WORDS } } } })
    cleanups.push(() => good.close())
    const broker = await startTestBroker()
    cleanups.push(() => broker.close())
    const sub = await subscribeData(broker.url)
    cleanups.push(() => sub.client.endAsync(true))
    const device = (id: string, profile: string, port: number) => ({
      enterprise: 'e',
      site: 's',
      line: 'l',
      device: id,
      driver: 'modbus',
      profile,
      pollIntervalMs: 50,
      retries: 0,
      connection: { host: '127.0.0.1', port, timeoutMs: 200 },
    })
    // the bad devices point at the good meter's port: were they polled, its request log would show it
    const config = validateConfig(
      EdgeConfigSchema,
      {
        agentId: 'edge-profiles',
        buffer: 'memory',
        statusIntervalMs: 100,
        devices: [
          device('good', 'eastron-sdm630', good.port),
          device('overlap', overlapFile, good.port),
          device('range', rangeFile, good.port),
          device('missing', missingFile, good.port),
        ],
      },
      't',
    ) as EdgeConfig
    const logs: { level: number; msg: string; device?: string; code?: string }[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) })
    const agent = await startEdgeAgent({ config, mqtt: { url: broker.url, keepaliveS: 30, reconnectPeriodMs: 100 }, logger })
    cleanups.push(() => agent.close())
    const byId = (id: string): DeviceStatus => agent.status().devices.find((d) => d.address.device === id) as DeviceStatus

    await waitFor('samples of the healthy meter', () => sub.messages.filter((m) => m.topic === 'pw/v1/e/s/l/good/data').length >= 5, 10_000)
    // the healthy meter: every value as the SDM630 table says, no error
    const goodSamples = sub.messages.filter((m) => m.topic === 'pw/v1/e/s/l/good/data').flatMap((m) => m.payload.samples)
    expect(goodSamples.length).toBeGreaterThanOrEqual(5)
    for (const s of goodSamples) expect(closeTo(s.values, SDM630_VALUES)).toEqual([])
    expect(byId('good')).toMatchObject({ polling: true, profileError: null, readErrors: 0, pointErrors: 0, lastError: null })
    expect(byId('good').reads).toBeGreaterThanOrEqual(5)
    // only the good device's requests reached the meter: one poll of the SDM630 map is 4 requests
    // (input 0x0000 ×18, 0x001E ×6, 0x0034 ×24, 0x0156 ×2; describe-plan.test.ts), none of unit 1 at 0x0006/0x0007 alone
    expect(good.requests.every((r) => [0x00, 0x1e, 0x34, 0x156].includes(r.address))).toBe(true)

    // status: each bad device left out, with its own code and every problem of its profile
    const expected = {
      overlap: {
        code: 'EDGE_ERR_PROFILE_OVERLAP',
        message: `profile ${overlapFile}: 1 problem(s)\n  /points/1/address: voltage_l1_v (input 0x0007, float32) overlaps current_l1_a (input 0x0006, float32)`,
        profile: overlapFile,
        problems: [
          {
            code: 'EDGE_ERR_PROFILE_OVERLAP',
            path: '/points/1/address',
            message: 'voltage_l1_v (input 0x0007, float32) overlaps current_l1_a (input 0x0006, float32)',
          },
        ],
      },
      range: {
        code: 'EDGE_ERR_PROFILE_RANGE',
        message: `profile ${rangeFile}: 2 problem(s)\n  /points/0/address: frequency_hz: address 65535 (float32, 2 register(s)) is outside 0..65535\n  /points/1/address: power_factor: address 70000 (int16, 1 register(s)) is outside 0..65535`,
        profile: rangeFile,
        problems: [
          { code: 'EDGE_ERR_PROFILE_RANGE', path: '/points/0/address', message: 'frequency_hz: address 65535 (float32, 2 register(s)) is outside 0..65535' },
          { code: 'EDGE_ERR_PROFILE_RANGE', path: '/points/1/address', message: 'power_factor: address 70000 (int16, 1 register(s)) is outside 0..65535' },
        ],
      },
      missing: {
        code: 'EDGE_ERR_PROFILE_MISSING',
        message: `profile ${JSON.stringify(missingFile)}: cannot read ${missingFile} (ENOENT): no such file`,
        profile: missingFile,
        problems: [
          { code: 'EDGE_ERR_PROFILE_MISSING', path: '', message: `profile ${JSON.stringify(missingFile)}: cannot read ${missingFile} (ENOENT): no such file` },
        ],
      },
    }
    for (const [id, error] of Object.entries(expected)) {
      expect(byId(id), id).toMatchObject({
        key: `e/s/l/${id}`,
        driver: 'modbus',
        endpoint: `tcp://127.0.0.1:${good.port} unit 1`,
        polling: false,
        connected: false,
        reads: 0,
        readErrors: 0,
        publishedSamples: 0,
        profileError: error,
        lastError: { code: error.code, message: error.message, ts: expect.any(Number) },
      })
    }

    // retained state: each bad device offline with its error, like a failing device; the good one online
    const states = new Map<string, StateMessage>()
    const watcher = await connectAsync(broker.url, { clientId: 'test-states', reconnectPeriod: 0 })
    cleanups.push(() => watcher.endAsync(true))
    watcher.on('message', (topic, payload) => states.set(topic, JSON.parse(payload.toString()) as StateMessage))
    await watcher.subscribeAsync('pw/v1/e/s/l/+/state', { qos: 1 })
    await waitFor('retained states of every device', () => ['good', 'overlap', 'range', 'missing'].every((id) => states.has(`pw/v1/e/s/l/${id}/state`)))
    expect(states.get('pw/v1/e/s/l/good/state')).toMatchObject({ status: 'online', agent: 'edge-profiles' })
    expect(states.get('pw/v1/e/s/l/good/state')?.error).toBeUndefined()
    for (const [id, error] of Object.entries(expected)) {
      expect(states.get(`pw/v1/e/s/l/${id}/state`), id).toEqual({
        status: 'offline',
        agent: 'edge-profiles',
        ts: expect.any(Number),
        counters: { reads: 0, readErrors: 0, pointErrors: 0, published: 0, bufferDepth: 0, dropped: 0 },
        error,
      })
    }
    // the agent itself is online, its counters those of the polled meter only
    expect(states.get('pw/v1/e/s/l/edge-profiles/state')).toMatchObject({ status: 'online', counters: { readErrors: 0, pointErrors: 0 } })

    // logged once at start (error level 50), not on every status republish
    await waitFor('several status republishes', () => byId('good').reads >= 15, 10_000)
    const profileLogs = logs.filter((l) => l.msg.startsWith('device not polled'))
    expect(profileLogs.map((l) => [l.level, l.device, l.code])).toEqual([
      [50, 'e/s/l/overlap', 'EDGE_ERR_PROFILE_OVERLAP'],
      [50, 'e/s/l/range', 'EDGE_ERR_PROFILE_RANGE'],
      [50, 'e/s/l/missing', 'EDGE_ERR_PROFILE_MISSING'],
    ])
    expect(profileLogs[0]?.msg).toContain('overlaps current_l1_a (input 0x0006, float32)')
    expect(logs.find((l) => l.msg === 'edge agent started')).toMatchObject({ devices: 1, notPolled: 3 })
    // nothing was published for the bad devices
    expect(sub.messages.filter((m) => m.topic !== 'pw/v1/e/s/l/good/data')).toEqual([])
  })
})
