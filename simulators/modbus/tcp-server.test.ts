import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { ModbusUnit } from './pdu.ts'
import { RegisterSpace } from './registers.ts'
import { startModbusTcpServer, type ModbusTcpServer } from './tcp-server.ts'

const space = new RegisterSpace<number>([{ address: 0, name: 'v', type: 'float32', value: (x) => x }])
space.update(49.5)
const unit: ModbusUnit = { readInputRegisters: (a, n) => space.read(a, n), readHoldingRegisters: () => 0x02 }

/** Sends raw bytes and collects what comes back until `bytes` arrived or the server closed. */
function exchange(port: number, request: Buffer, bytes: number): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let got = 0
    const done = (closed: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ reply: Buffer.concat(chunks), closed })
    }
    const timer = setTimeout(() => done(false), 300)
    socket.on('connect', () => socket.write(request))
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      got += c.length
      if (got >= bytes && bytes > 0) done(false)
    })
    socket.on('close', () => done(true))
    socket.on('error', reject)
  })
}

const mbap = (tid: number, unitId: number, pdu: number[]): Buffer => {
  const b = Buffer.alloc(7 + pdu.length)
  b.writeUInt16BE(tid, 0)
  b.writeUInt16BE(0, 2)
  b.writeUInt16BE(pdu.length + 1, 4)
  b[6] = unitId
  Buffer.from(pdu).copy(b, 7)
  return b
}

describe('Modbus TCP server', () => {
  let server: ModbusTcpServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('echoes the transaction and unit id and answers pipelined requests in order', async () => {
    server = await startModbusTcpServer({ units: new Map([[3, unit]]) })
    const req = Buffer.concat([mbap(0x1234, 3, [0x04, 0, 0, 0, 2]), mbap(0x1235, 3, [0x04, 0, 1, 0, 1])])
    const { reply } = await exchange(server.port, req, 13 + 9)
    expect(reply.subarray(0, 13).toString('hex')).toBe('1234' + '0000' + '0007' + '03' + '0404' + '42460000')
    expect(reply.subarray(13).toString('hex')).toBe('1235' + '0000' + '0003' + '03' + '8402')
  })

  it('answers an unknown unit id with exception 0B and an unknown function with 01', async () => {
    server = await startModbusTcpServer({ units: new Map([[1, unit]]) })
    expect((await exchange(server.port, mbap(7, 9, [0x04, 0, 0, 0, 2]), 9)).reply.toString('hex')).toBe('000700000003' + '09' + '840b')
    expect((await exchange(server.port, mbap(8, 1, [0x41, 1, 2]), 9)).reply.toString('hex')).toBe('000800000003' + '01' + 'c101')
  })

  it('drops connections with untrustworthy framing and keeps serving others', async () => {
    server = await startModbusTcpServer({ units: new Map([[1, unit]]) })
    const badProtocol = mbap(1, 1, [0x04, 0, 0, 0, 2])
    badProtocol.writeUInt16BE(1, 2)
    const badLength = Buffer.from('0001000000ff01040000', 'hex')
    const zeroLength = Buffer.from('00010000000001', 'hex')
    for (const garbage of [badProtocol, badLength, zeroLength]) {
      const r = await exchange(server.port, garbage, 0)
      expect(r.closed, garbage.toString('hex')).toBe(true)
      expect(r.reply.length).toBe(0)
    }
    // A short frame waits for the rest; on its own it gets no answer and does no harm.
    expect((await exchange(server.port, Buffer.from('0001000000', 'hex'), 1)).reply.length).toBe(0)
    // A frame whose PDU is too short for its function gets 03.
    expect((await exchange(server.port, mbap(2, 1, [0x04, 0]), 9)).reply.toString('hex')).toBe('000200000003018403')
    const ok = await exchange(server.port, mbap(3, 1, [0x04, 0, 0, 0, 2]), 13)
    expect(ok.reply.readFloatBE(9)).toBe(49.5)
    expect(server.stats().badFrames).toBe(3)
  })

  it('reports the bound port for port 0 and frees it on close', async () => {
    server = await startModbusTcpServer({ port: 0, units: new Map([[1, unit]]) })
    const port = server.port
    expect(port).toBeGreaterThan(0)
    await server.close()
    server = undefined
    const again = net.createServer()
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.listen(port, '127.0.0.1', () => resolve())
    })
    await new Promise<void>((resolve) => again.close(() => resolve()))
  })
})
