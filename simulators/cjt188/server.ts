import { once } from 'node:events'
import net from 'node:net'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../../core/errors.ts'
import { type Request, takeRequest } from './codec.ts'
import type { SimCjt188Meter } from './meter.ts'

export interface Cjt188ServerOptions {
  /** Serve on a serial line (a pty in tests) … */
  serial?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' }
  /** … or on TCP, as a transparent DTU in front of the bus (port 0: a free one). */
  tcp?: { port: number; host?: string }
  /** The meters on the bus; each answers its own address only. */
  meters: readonly SimCjt188Meter[]
  /** Time a meter takes to answer, ms (default 0): a request arriving meanwhile is a collision on the bus. */
  replyDelayMs?: number
}

export interface Cjt188ServerStats {
  /** Requests addressed to one of the meters. */
  requests: number
  /** Frames with a bad checksum or end byte: a real meter stays silent on them. */
  badFrames: number
  /** Requests for an address no meter here has. */
  otherAddress: number
  /** TCP connections accepted. */
  connections: number
  /** Requests received while a meter was still answering: two masters' worth of traffic on one bus. */
  collisions: number
}

export interface Cjt188Server {
  /** TCP port when serving TCP. */
  readonly port: number | undefined
  stats(): Cjt188ServerStats
  /** false: requests are received and never answered. */
  setResponding(on: boolean): void
  /** Open TCP connections (0 on serial). */
  openConnections(): number
  close(): Promise<void>
}

/** What the meters on a line send back for one request (undefined: none answers), counted in `stats`. */
export function answerCjt188(
  meters: readonly SimCjt188Meter[],
  req: Request,
  stats: Pick<Cjt188ServerStats, 'requests' | 'badFrames' | 'otherAddress'>,
  responding: boolean,
): Buffer | undefined {
  if (!req.ok) {
    stats.badFrames++
    return undefined
  }
  const meter = meters.find((m) => m.address.every((b, i) => b === req.address[i]) && (req.meterType === m.meterType || req.meterType === 0xaa))
  if (!meter) {
    stats.otherAddress++
    return undefined
  }
  stats.requests++
  const di = req.data.slice(0, 2)
  const known = (di[0] === 0x1f && di[1] === 0x90) || (di[0] === 0x90 && di[1] === 0x1f)
  if (req.control !== 0x01 || !known || !responding) return undefined
  return meter.reply(req.data[2] ?? 0, di)
}

/** Several CJ/T 188 meters on one line or one DTU port. */
export async function startCjt188Server(options: Cjt188ServerOptions): Promise<Cjt188Server> {
  const stats: Cjt188ServerStats = { requests: 0, badFrames: 0, otherAddress: 0, connections: 0, collisions: 0 }
  let answering = 0
  let responding = true
  const answer = (req: Request): Buffer | undefined => answerCjt188(options.meters, req, stats, responding)
  /** Feeds received bytes through the request parser; replies go to `send`. */
  const receiver = (send: (b: Buffer) => void) => {
    let pending = Buffer.alloc(0)
    return (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      for (let req = takeRequest(pending); req; req = takeRequest(pending)) {
        pending = pending.subarray(req.end)
        if (answering > 0) stats.collisions++
        const out = answer(req)
        if (out && (options.replyDelayMs ?? 0) > 0) {
          answering++
          setTimeout(() => {
            answering--
            send(out)
          }, options.replyDelayMs)
        } else if (out) send(out)
      }
      if (pending.length > 1024) pending = Buffer.alloc(0)
    }
  }
  if (options.serial) return serveSerial(options.serial, receiver, stats, (on) => (responding = on))
  if (options.tcp) return serveTcp(options.tcp, receiver, stats, (on) => (responding = on))
  throw new PlantWattError('SIM_ERR_CONFIG', 'CJ/T 188 simulator: give serial or tcp')
}

type Receiver = (send: (b: Buffer) => void) => (chunk: Buffer) => void

async function serveSerial(
  s: NonNullable<Cjt188ServerOptions['serial']>,
  receiver: Receiver,
  stats: Cjt188ServerStats,
  setResponding: (on: boolean) => void,
): Promise<Cjt188Server> {
  const port = new SerialPort({ path: s.path, baudRate: s.baudRate ?? 2400, parity: s.parity ?? 'even', dataBits: 8, stopBits: 1, autoOpen: false })
  await new Promise<void>((resolve, reject) => {
    port.open((err) => (err ? reject(new PlantWattError('SIM_ERR_LISTEN', `cannot open serial port ${s.path}: ${err.message}`, { cause: err })) : resolve()))
  })
  port.on('error', () => {})
  port.on(
    'data',
    receiver((b) => port.write(b)),
  )
  return {
    port: undefined,
    stats: () => ({ ...stats }),
    setResponding,
    openConnections: () => 0,
    close: () => (port.isOpen ? new Promise<void>((r) => port.close(() => r())) : Promise.resolve()),
  }
}

async function serveTcp(
  t: NonNullable<Cjt188ServerOptions['tcp']>,
  receiver: Receiver,
  stats: Cjt188ServerStats,
  setResponding: (on: boolean) => void,
): Promise<Cjt188Server> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    stats.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.on(
      'data',
      receiver((b) => socket.write(b)),
    )
  })
  server.listen(t.port, t.host ?? '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    stats: () => ({ ...stats }),
    setResponding,
    openConnections: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
