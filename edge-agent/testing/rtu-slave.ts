import net from 'node:net'
import { once } from 'node:events'
import { SerialPort } from 'serialport'
import type { AddressRange, RegisterTables, Table } from './modbus-server.ts'

/**
 * A tiny Modbus RTU slave for tests, written from the spec (Modbus over Serial Line V1.02 §2.5
 * framing, CRC-16 per §6.2.2; PDUs per MB §6.1–6.4), not with the client library: it answers from
 * literal register words, and on request with a corrupted CRC, a reply from the wrong unit id, or
 * silence. Several unit ids share one line, like slaves on one RS-485 bus. Over a serial port
 * (`startRtuSlaveOnPort`) or a TCP socket carrying raw RTU frames (`startRtuSlaveOnTcp`).
 */
export interface RtuSlaveOptions {
  /** Tables per unit id; a unit not listed never answers (a dead slave). */
  units: Record<number, RegisterTables>
  /** A read touching one of these is answered with a wrong CRC. */
  badCrc?: AddressRange[]
  /** A read touching one of these is answered as if from unit `unit` instead. */
  wrongUnit?: (AddressRange & { unit: number })[]
  /** A read touching one of these answers with this exception code (MB §7). */
  exceptions?: (AddressRange & { code: number })[]
}

export interface RtuRequest {
  at: number
  unit: number
  fc: number
  address: number
  count: number
}

export interface RtuSlave {
  readonly requests: RtuRequest[]
  readonly port: number
  close(): Promise<void>
}

const TABLE_BY_FC: Record<number, Table> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' }

/** Modbus over Serial Line §6.2.2: CRC-16, polynomial 0xA001 (reflected 0x8005), initial 0xFFFF. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const b of bytes) {
    crc ^= b
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc
}

/** Appends the CRC, low byte first (§2.5.1.2). */
export function withCrc(frame: Buffer): Buffer {
  const crc = crc16(frame)
  return Buffer.concat([frame, Buffer.from([crc & 0xff, crc >> 8])])
}

function answerer(options: RtuSlaveOptions, requests: RtuRequest[]): (chunk: Buffer) => Buffer[] {
  let pending = Buffer.alloc(0)
  const touches = (r: AddressRange, table: Table, address: number, count: number) => r.table === table && address <= r.to && address + count - 1 >= r.from
  return (chunk) => {
    pending = Buffer.concat([pending, chunk])
    const replies: Buffer[] = []
    // Read requests are 8 bytes: unit, fc, address, count, CRC (§2.5.1; MB §6.1–6.4)
    while (pending.length >= 8) {
      const frame = pending.subarray(0, 8)
      pending = pending.subarray(8)
      if (crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) continue // §2.5.1.2: a bad frame is discarded
      const unit = frame.readUInt8(0)
      const fc = frame.readUInt8(1)
      const address = frame.readUInt16BE(2)
      const count = frame.readUInt16BE(4)
      requests.push({ at: performance.now(), unit, fc, address, count })
      const tables = options.units[unit]
      const table = TABLE_BY_FC[fc]
      if (!tables || !table) continue
      let from = unit
      let pdu: Buffer
      const ex = options.exceptions?.find((r) => touches(r, table, address, count))
      if (ex) pdu = Buffer.from([fc | 0x80, ex.code])
      else if (fc <= 2) {
        const values = (tables[table] ?? {}) as Record<number, boolean>
        const data = Buffer.alloc(Math.ceil(count / 8))
        for (let i = 0; i < count; i++) if (values[address + i]) data[i >> 3] = (data[i >> 3] as number) | (1 << (i & 7))
        pdu = Buffer.concat([Buffer.from([fc, data.length]), data])
      } else {
        const words = (tables[table] ?? {}) as Record<number, number>
        const data = Buffer.alloc(count * 2)
        for (let i = 0; i < count; i++) data.writeUInt16BE(words[address + i] ?? 0, i * 2)
        pdu = Buffer.concat([Buffer.from([fc, data.length]), data])
      }
      const wrong = options.wrongUnit?.find((r) => touches(r, table, address, count))
      if (wrong) from = wrong.unit
      const reply = withCrc(Buffer.concat([Buffer.from([from]), pdu]))
      if (options.badCrc?.some((r) => touches(r, table, address, count))) reply[reply.length - 1] = (reply[reply.length - 1] as number) ^ 0xff
      replies.push(reply)
    }
    return replies
  }
}

/** Serves `options` on the serial port at `path` (one end of a socat pty pair in tests). */
export async function startRtuSlaveOnPort(path: string, options: RtuSlaveOptions): Promise<RtuSlave> {
  const requests: RtuRequest[] = []
  const answer = answerer(options, requests)
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false })
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
  port.on('error', () => {})
  port.on('data', (chunk: Buffer) => {
    for (const reply of answer(chunk)) port.write(reply)
  })
  return {
    requests,
    port: 0,
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  }
}

/** Serves `options` as raw RTU frames on a TCP port (a serial-to-Ethernet converter in transparent mode). */
export async function startRtuSlaveOnTcp(options: RtuSlaveOptions, portNumber = 0): Promise<RtuSlave> {
  const requests: RtuRequest[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    const answer = answerer(options, requests)
    socket.on('data', (chunk: Buffer) => {
      for (const reply of answer(chunk)) socket.write(reply)
    })
  })
  server.listen(portNumber, '127.0.0.1')
  await once(server, 'listening')
  return {
    requests,
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
