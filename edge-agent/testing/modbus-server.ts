import net from 'node:net'
import { once } from 'node:events'

/**
 * A small Modbus TCP server for tests, written from the spec (MB = Modbus Application Protocol
 * V1.1b3; MBAP header from Modbus Messaging on TCP/IP V1.0b) rather than with the client library,
 * so a framing mistake shared by client and server cannot pass. It serves literal register words.
 * Not a simulator: no physics, only tables, exceptions and silence on request.
 */
export interface RegisterTables {
  coil?: Record<number, boolean>
  discrete?: Record<number, boolean>
  holding?: Record<number, number>
  input?: Record<number, number>
}

export type Table = keyof RegisterTables

export interface AddressRange {
  table: Table
  /** First address, inclusive. */
  from: number
  /** Last address, inclusive. */
  to: number
}

export interface TestServerOptions {
  /** 0 (default) picks a free port. */
  port?: number
  /** Tables per unit id. Unmapped addresses inside a read answer 0/false. */
  units: Record<number, RegisterTables>
  /** A read touching one of these answers with this exception code (MB §7). */
  exceptions?: (AddressRange & { code: number })[]
  /** A read touching one of these gets no reply at all (the client must time out). */
  silent?: AddressRange[]
}

export interface ReceivedRequest {
  /** performance.now() when it arrived. */
  at: number
  unit: number
  fc: number
  address: number
  count: number
}

export interface TestModbusServer {
  readonly port: number
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[]
  /** Replaces words of a table from `address` on. */
  setWords(unit: number, table: 'holding' | 'input', address: number, words: readonly number[]): void
  /** Closes the listener and drops every open connection. */
  close(): Promise<void>
}

const TABLE_BY_FC: Record<number, Table> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' }

export async function startTestModbusServer(options: TestServerOptions): Promise<TestModbusServer> {
  const requests: ReceivedRequest[] = []
  const sockets = new Set<net.Socket>()
  const touches = (r: AddressRange, table: Table, address: number, count: number) => r.table === table && address <= r.to && address + count - 1 >= r.from

  const reply = (req: Buffer, pdu: Buffer): Buffer => {
    const mbap = Buffer.alloc(7)
    req.copy(mbap, 0, 0, 2) // transaction id echoed
    mbap.writeUInt16BE(0, 2) // protocol id 0 = Modbus
    mbap.writeUInt16BE(pdu.length + 1, 4) // length counts the unit id and the PDU
    mbap.writeUInt8(req.readUInt8(6), 6)
    return Buffer.concat([mbap, pdu])
  }

  const answer = (frame: Buffer): Buffer | undefined => {
    const unit = frame.readUInt8(6)
    const fc = frame.readUInt8(7)
    const exception = (code: number) => Buffer.from([fc | 0x80, code])
    const table = TABLE_BY_FC[fc]
    if (!table || frame.length < 12) return exception(0x01) // illegal function
    const address = frame.readUInt16BE(8)
    const count = frame.readUInt16BE(10)
    requests.push({ at: performance.now(), unit, fc, address, count })
    const tables = options.units[unit]
    if (!tables) return exception(0x0b) // gateway target device failed to respond
    const bits = fc <= 2
    // MB §6.1–6.4: quantity 1..2000 bits or 1..125 registers, else exception 3
    if (count < 1 || count > (bits ? 2000 : 125)) return exception(0x03)
    if (address + count > 0x10000) return exception(0x02)
    if (options.silent?.some((r) => touches(r, table, address, count))) return undefined
    const ex = options.exceptions?.find((r) => touches(r, table, address, count))
    if (ex) return exception(ex.code)
    if (bits) {
      const values = (tables[table] ?? {}) as Record<number, boolean>
      const data = Buffer.alloc(Math.ceil(count / 8))
      // MB §6.1: the first bit asked for is the LSB of the first data byte
      for (let i = 0; i < count; i++) if (values[address + i]) data[i >> 3] = (data[i >> 3] as number) | (1 << (i & 7))
      return Buffer.concat([Buffer.from([fc, data.length]), data])
    }
    const words = (tables[table] ?? {}) as Record<number, number>
    const data = Buffer.alloc(count * 2)
    for (let i = 0; i < count; i++) data.writeUInt16BE(words[address + i] ?? 0, i * 2)
    return Buffer.concat([Buffer.from([fc, data.length]), data])
  }

  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let pending = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 7) {
        const frameLength = 6 + pending.readUInt16BE(4)
        if (pending.length < frameLength) break
        const frame = pending.subarray(0, frameLength)
        pending = pending.subarray(frameLength)
        const pdu = answer(frame)
        if (pdu) socket.write(reply(frame, pdu))
      }
    })
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port

  return {
    port,
    requests,
    setWords(unit, table, address, words) {
      const tables = (options.units[unit] ??= {})
      const target = (tables[table] ??= {})
      words.forEach((w, i) => {
        target[address + i] = w
      })
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
