import net from 'node:net'
import { once } from 'node:events'
import { SerialPort } from 'serialport'
import { PlantWattError } from '../../core/errors.ts'
import type { SimMeter } from './meter.ts'
import { buildFrame, printedAddress, type SimRequest, takeFrames, wireAddress } from './wire.ts'

export interface Dlt645SimulatorOptions {
  /** Meters on this bus (one RS-485 line, or the line behind one DTU). */
  meters: readonly SimMeter[]
  /** A serial port (a pty's far end), or a TCP port for a DTU (0: any free port). */
  serial?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' }
  tcp?: { port: number; host?: string }
  /** FE bytes the meters put in front of each reply (many real meters send some). Default 2. */
  replyPreamble?: number
  /** Delay before each reply, ms (real meters: 20–500). Default 0. */
  replyDelayMs?: number
}

export interface Dlt645SimulatorStats {
  /** Frames received with a good checksum. */
  requests: number
  replies: number
  /** Frames received with a bad checksum (a real meter stays silent). */
  badFrames: number
  /** Frames for an address no meter here has. */
  otherAddress: number
}

export interface Dlt645Simulator {
  /** TCP: the port listened on. */
  readonly port: number | undefined
  stats(): Dlt645SimulatorStats
  /** false: requests are received and never answered. */
  setResponding(on: boolean): void
  /** Open TCP connections (or 1 for the serial port). */
  links(): number
  close(): Promise<void>
}

const WILDCARD = 'AAAAAAAAAAAA'

/** What the bus sends back for one request: replies from every meter that answers, collided when several do. */
export function answer(meters: readonly SimMeter[], req: SimRequest, preamble: number, stats: Dlt645SimulatorStats): Buffer | undefined {
  if (req.control === 0x13 && req.address === WILDCARD) {
    const replies = meters.filter((m) => m.protocol === '2007').map((m) => buildFrame(m.address, 0x93, wireAddress(m.address), preamble))
    // RS-485: two meters driving the line at once garble each other (wired-AND of the bits).
    return replies.reduce<Buffer | undefined>((acc, r) => (acc ? Buffer.from(acc.map((b, i) => b & (r[i] ?? 0xff))) : r), undefined)
  }
  const is2007 = req.control === 0x11 && req.data.length === 4
  const is1997 = req.control === 0x01 && req.data.length === 2
  const wildcard = req.address === WILDCARD && meters.length === 1
  const meter = meters.find((m) => (m.address === req.address || wildcard) && m.protocol === (is2007 ? '2007' : '1997'))
  if (!meter || !(is2007 || is1997)) {
    stats.otherAddress++
    return undefined
  }
  const di = printedAddress(req.data)
  const fault = meter.faultFor(di)
  const ok = is2007 ? 0x91 : 0x81
  const fail = is2007 ? 0xd1 : 0xc1
  if (fault?.kind === 'silent') return undefined
  if (fault?.kind === 'error-word') return buildFrame(meter.address, fail, [fault.word], preamble)
  const value = meter.valueBytes(di)
  // 2007 ERR bit 1 "no requested data"; 1997 status bit 1 "wrong data identifier".
  if (value === undefined) return buildFrame(meter.address, fail, [0x02], preamble)
  const data = [...req.data, ...(fault?.kind === 'bad-bcd' ? value.map(() => 0xff) : value)]
  const frame = buildFrame(fault?.kind === 'wrong-address' ? fault.address : meter.address, ok, data, preamble)
  if (fault?.kind === 'checksum') frame[frame.length - 2] = ((frame[frame.length - 2] as number) + 1) % 256
  if (fault?.kind === 'truncate') return frame.subarray(0, Math.floor(frame.length / 2))
  if (fault?.kind === 'noise') return Buffer.concat([Buffer.from(fault.bytes), frame])
  return frame
}

/** Feeds received bytes, answers whole frames through `send`. */
function lineHandler(
  options: Dlt645SimulatorOptions,
  stats: Dlt645SimulatorStats,
  responding: () => boolean,
  send: (b: Buffer) => void,
): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0)
  const preamble = options.replyPreamble ?? 2
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const { frames, badChecksum, rest } = takeFrames(pending)
    pending = Buffer.from(rest)
    stats.badFrames += badChecksum
    for (const req of frames) {
      stats.requests++
      if (!responding()) continue
      const reply = answer(options.meters, req, preamble, stats)
      if (!reply) continue
      stats.replies++
      if (options.replyDelayMs) setTimeout(() => send(reply), options.replyDelayMs)
      else send(reply)
    }
  }
}

/**
 * Serves DL/T 645 meters on one bus: a serial port (a pty pair's far end in tests) or a TCP port
 * standing in for a transparent DTU. Every meter answers its own address; a request for an address
 * no meter has gets no reply, as on a real line.
 */
export async function startDlt645Simulator(options: Dlt645SimulatorOptions): Promise<Dlt645Simulator> {
  const stats: Dlt645SimulatorStats = { requests: 0, replies: 0, badFrames: 0, otherAddress: 0 }
  let responding = true
  if (options.serial) {
    const s = options.serial
    const port = new SerialPort({ path: s.path, baudRate: s.baudRate ?? 2400, parity: s.parity ?? 'even', dataBits: 8, stopBits: 1, autoOpen: false })
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new PlantWattError('SIM_ERR_LISTEN', `cannot open serial port ${s.path}: ${err.message}`, { cause: err })) : resolve())),
    )
    port.on('error', () => {})
    port.on(
      'data',
      lineHandler(
        options,
        stats,
        () => responding,
        (b) => void port.write(b),
      ),
    )
    return {
      port: undefined,
      stats: () => ({ ...stats }),
      setResponding: (on) => void (responding = on),
      links: () => (port.isOpen ? 1 : 0),
      close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    }
  }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.on(
      'data',
      lineHandler(
        options,
        stats,
        () => responding,
        (b) => void (socket.destroyed || socket.write(b)),
      ),
    )
  })
  server.listen(options.tcp?.port ?? 0, options.tcp?.host ?? '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    stats: () => ({ ...stats }),
    setResponding: (on) => void (responding = on),
    links: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
