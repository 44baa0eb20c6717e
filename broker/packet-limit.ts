import { Duplex } from 'node:stream'
import { PlantWattError } from '../core/errors.ts'

/**
 * Reads MQTT fixed headers as bytes arrive and fails as soon as a packet announces a remaining
 * length above the limit — before the broker buffers it. mqtt-packet (used by Aedes) has no size
 * limit of its own and would hold up to 256 MB per packet.
 */
export class PacketSizeGuard {
  private state: 'header' | 'length' | 'body' = 'header'
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private remaining = 0

  /** @param onPacket called with each packet's type (the fixed header's high nibble, 3 = PUBLISH) as its header is read */
  constructor(
    private readonly maxPacketBytes: number,
    private readonly onPacket?: (type: number) => void,
  ) {}

  /** Scans one chunk; throws BROKER_ERR_PACKET_SIZE or BROKER_ERR_PACKET_MALFORMED. */
  scan(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'header') {
        this.onPacket?.((chunk[i] as number) >> 4)
        i++
        this.state = 'length'
        this.length = 0
        this.multiplier = 1
        this.lengthBytes = 0
      } else if (this.state === 'length') {
        const b = chunk[i++] as number
        this.length += (b & 0x7f) * this.multiplier
        this.multiplier *= 128
        this.lengthBytes++
        if (b & 0x80) {
          // [MQTT-2.2.3] the remaining length takes at most four bytes
          if (this.lengthBytes === 4) throw new PlantWattError('BROKER_ERR_PACKET_MALFORMED', 'remaining length longer than four bytes')
          continue
        }
        if (this.length > this.maxPacketBytes) {
          throw new PlantWattError('BROKER_ERR_PACKET_SIZE', `packet of ${this.length} bytes exceeds the limit of ${this.maxPacketBytes}`)
        }
        this.remaining = this.length
        this.state = this.remaining > 0 ? 'body' : 'header'
      } else {
        const take = Math.min(this.remaining, chunk.length - i)
        i += take
        this.remaining -= take
        if (this.remaining === 0) this.state = 'header'
      }
    }
  }
}

/**
 * Wraps a socket (TCP, TLS or a WebSocket stream) so that what the broker reads passes through a PacketSizeGuard; a packet over the
 * limit destroys the connection. Writes, end and destroy go straight to the socket.
 */
export class PacketLimitedConnection extends Duplex {
  private readonly guard: PacketSizeGuard
  /** Follows the packets written, to count them by type (no size limit on what the broker sends). */
  private sent: PacketSizeGuard | undefined

  /** @param onSent called with the type of each packet the broker writes to this connection */
  constructor(
    private readonly socket: Duplex,
    maxPacketBytes: number,
    onTooLarge: (err: PlantWattError) => void,
    onSent?: (type: number) => void,
  ) {
    super({ allowHalfOpen: false })
    this.guard = new PacketSizeGuard(maxPacketBytes)
    this.sent = onSent ? new PacketSizeGuard(Number.POSITIVE_INFINITY, onSent) : undefined
    socket.on('data', (chunk: Buffer) => {
      try {
        this.guard.scan(chunk)
      } catch (err) {
        onTooLarge(err as PlantWattError)
        this.destroy()
        return
      }
      if (!this.push(chunk)) socket.pause()
    })
    socket.on('end', () => this.push(null))
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => this.destroy())
  }

  override _read(): void {
    this.socket.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.countSent(chunk)
    this.corkUntilTurnEnds()
    this.socket.write(chunk, callback)
  }

  /** mqtt-packet corks around each packet: hand the pieces to the socket as one write (one syscall). */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (const c of chunks) this.countSent(c.chunk)
    this.corkUntilTurnEnds()
    this.socket.write(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback)
  }

  private countSent(chunk: Buffer): void {
    try {
      this.sent?.scan(chunk)
    } catch {
      // Only counting: what mqtt-packet writes is well formed; should it not be, stop counting.
      this.sent = undefined
    }
  }

  private socketCorked = false
  private readonly uncorkSocket = (): void => {
    if (!this.socketCorked) return
    this.socketCorked = false
    this.socket.uncork()
  }

  private flushCorked(): void {
    this.uncorkSocket()
  }

  /**
   * Every packet the broker writes in one turn of the event loop (the PUBACKs of the publishes read
   * in that turn, the PUBLISHes routed to a subscriber) leaves in one write to the socket, not one
   * syscall each: Aedes handles each packet in its own tick, so the next tick would be too soon.
   */
  private corkUntilTurnEnds(): void {
    if (this.socketCorked) return
    this.socketCorked = true
    this.socket.cork()
    setImmediate(this.uncorkSocket)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flushCorked()
    this.socket.end(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // What was written before (a CONNACK refusing the client) goes out before the socket closes.
    this.flushCorked()
    this.socket.destroy()
    callback(error)
  }
}
