import net from 'node:net'
import { PlantWattError } from '../../core/errors.ts'
import { exceptionPdu, handlePdu, type ModbusUnit } from './pdu.ts'
import { ModbusException } from './registers.ts'

// Own server rather than modbus-serial's ServerTCP: ServerTCP answers every reply after a timer
// (~1 ms floor, ~840 requests/s per connection, see NOTES.md) which would cap agent benchmarks, and
// its vector API answers register by register, so a read cannot be checked against whole parameters
// nor served from one consistent image. MBAP framing is small enough to own.

export interface ModbusTcpServerOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** 0 = any free port (default); the bound port is reported on the result. */
  port?: number
  /** Devices behind this endpoint by unit id; several ids on one port act as a gateway. */
  units: ReadonlyMap<number, ModbusUnit>
}

export interface ModbusTcpServerStats {
  connections: number
  requests: number
  exceptions: number
  /** Connections closed because their framing could not be trusted. */
  badFrames: number
}

export interface ModbusTcpServer {
  readonly host: string
  readonly port: number
  stats(): ModbusTcpServerStats
  close(): Promise<void>
}

// Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3: MBAP is 7 bytes (transaction id,
// protocol id = 0, length of unit id + PDU, unit id); an ADU is at most 260 bytes, so length ≤ 254.
const MBAP_BYTES = 7
const MAX_LENGTH_FIELD = 254

export async function startModbusTcpServer(options: ModbusTcpServerOptions): Promise<ModbusTcpServer> {
  const host = options.host ?? '127.0.0.1'
  const units = options.units
  const sockets = new Set<net.Socket>()
  const stats: ModbusTcpServerStats = { connections: 0, requests: 0, exceptions: 0, badFrames: 0 }

  const server = net.createServer((socket) => {
    stats.connections++
    sockets.add(socket)
    socket.setNoDelay(true)
    let pending: Buffer = Buffer.alloc(0)
    socket.on('error', () => {
      // A client that resets the connection is its own business; the server goes on.
    })
    socket.on('close', () => sockets.delete(socket))
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      const replies: Buffer[] = []
      while (pending.length >= MBAP_BYTES) {
        const protocol = pending.readUInt16BE(2)
        const length = pending.readUInt16BE(4)
        if (protocol !== 0 || length < 2 || length > MAX_LENGTH_FIELD) {
          // Without a trustworthy length the stream cannot be resynchronised: drop the connection.
          stats.badFrames++
          if (replies.length > 0) socket.write(Buffer.concat(replies))
          socket.destroy()
          return
        }
        if (pending.length < 6 + length) break
        const unitId = pending[6] as number
        const pdu = pending.subarray(MBAP_BYTES, 6 + length)
        stats.requests++
        const unit = units.get(unitId)
        if (unit?.responding && !unit.responding()) {
          // An offline device behind a gateway: the request times out at the client.
          pending = pending.subarray(6 + length)
          continue
        }
        const reply = unit ? handlePdu(unit, pdu) : exceptionPdu(pdu[0] ?? 0, ModbusException.GatewayTargetFailedToRespond)
        if ((reply[0] as number) & 0x80) stats.exceptions++
        const header = Buffer.allocUnsafe(MBAP_BYTES)
        pending.copy(header, 0, 0, 4)
        header.writeUInt16BE(reply.length + 1, 4)
        header[6] = unitId
        replies.push(header, reply)
        pending = pending.subarray(6 + length)
      }
      // Keep the unread tail as its own buffer so a long-lived connection does not pin old chunks.
      if (pending.length > 0) pending = Buffer.from(pending)
      if (replies.length > 0) socket.write(Buffer.concat(replies))
    })
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (cause: Error): void => {
      reject(new PlantWattError('SIM_ERR_LISTEN', `cannot listen on ${host}:${options.port ?? 0}: ${cause.message}`, { cause }))
    }
    server.once('error', onError)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  server.on('error', () => {
    // After listening, errors belong to single connections, which are handled on their sockets.
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  let closing: Promise<void> | undefined
  return {
    host,
    port,
    stats: () => ({ ...stats }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      return closing
    },
  }
}
