import { once } from 'node:events'
import net from 'node:net'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../core/errors.ts'
import { takeRequest } from './cjt188/codec.ts'
import type { SimCjt188Meter } from './cjt188/meter.ts'
import { answerCjt188 } from './cjt188/server.ts'
import type { SimMeter } from './dlt645/meter.ts'
import { answer as answerDlt645 } from './dlt645/server.ts'
import { takeFrames } from './dlt645/wire.ts'

/**
 * One RS-485 line (a pty's far end) or one DTU port with DL/T 645 and CJ/T 188 meters on it
 * together, as in a building where electricity, water and heat meters hang on one bus. Each request
 * is read with the simulators' own framing (645 first, then 188) and answered by the meter it is for.
 * A request that arrives while a meter is still answering is a collision: two requests on the wire at once.
 */
export interface FieldLineSimulatorOptions {
  dlt645: readonly SimMeter[]
  cjt188: readonly SimCjt188Meter[]
  serial?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' }
  tcp?: { port: number; host?: string }
  /** Time a meter takes to start its reply, ms (default 20: DL/T 645's shortest). */
  replyDelayMs?: number
}

export interface FieldLineSimulatorStats {
  dlt645Requests: number
  cjt188Requests: number
  replies: number
  /** Requests received while a reply was pending. */
  collisions: number
  /** TCP connections accepted (a DTU serves one line: more than one master is trouble). */
  connections: number
}

export interface FieldLineSimulator {
  readonly port: number | undefined
  stats(): FieldLineSimulatorStats
  close(): Promise<void>
}

type Receiver = (send: (b: Buffer) => void) => (chunk: Buffer) => void

function lineReceiver(o: FieldLineSimulatorOptions, stats: FieldLineSimulatorStats): Receiver {
  const s645 = { requests: 0, replies: 0, badFrames: 0, otherAddress: 0 }
  const s188 = { requests: 0, badFrames: 0, otherAddress: 0 }
  let answering = 0
  return (send) => {
    let pending: Buffer = Buffer.alloc(0)
    const reply = (out: Buffer | undefined) => {
      if (!out) return
      answering++
      setTimeout(() => {
        answering--
        stats.replies++
        send(out)
      }, o.replyDelayMs ?? 20)
    }
    return (chunk) => {
      pending = Buffer.concat([pending, chunk])
      const dlt = takeFrames(pending)
      if (dlt.frames.length > 0) {
        pending = Buffer.from(dlt.rest)
        for (const req of dlt.frames) {
          if (answering > 0) stats.collisions++
          stats.dlt645Requests++
          reply(answerDlt645(o.dlt645, req, 2, s645))
        }
        return
      }
      const req = takeRequest(pending)
      if (req) {
        pending = pending.subarray(req.end)
        if (answering > 0) stats.collisions++
        stats.cjt188Requests++
        reply(answerCjt188(o.cjt188, req, s188, true))
      }
      if (pending.length > 1024) pending = Buffer.alloc(0)
    }
  }
}

/** Serves the meters of both protocols on one serial port or one TCP port (0: any free one). */
export async function startFieldLineSimulator(o: FieldLineSimulatorOptions): Promise<FieldLineSimulator> {
  const stats: FieldLineSimulatorStats = { dlt645Requests: 0, cjt188Requests: 0, replies: 0, collisions: 0, connections: 0 }
  const receiver = lineReceiver(o, stats)
  if (o.serial) {
    const s = o.serial
    const port = new SerialPort({ path: s.path, baudRate: s.baudRate ?? 2400, parity: s.parity ?? 'even', dataBits: 8, stopBits: 1, autoOpen: false })
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new PlantWattError('SIM_ERR_LISTEN', `cannot open serial port ${s.path}: ${err.message}`, { cause: err })) : resolve())),
    )
    port.on('error', () => {})
    port.on(
      'data',
      receiver((b) => void port.write(b)),
    )
    return {
      port: undefined,
      stats: () => ({ ...stats }),
      close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    }
  }
  if (!o.tcp) throw new PlantWattError('SIM_ERR_CONFIG', 'field line simulator: give serial or tcp')
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    stats.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.on(
      'data',
      receiver((b) => void (socket.destroyed || socket.write(b))),
    )
  })
  server.listen(o.tcp.port, o.tcp.host ?? '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    stats: () => ({ ...stats }),
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
