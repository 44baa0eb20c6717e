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

  constructor(private readonly maxPacketBytes: number) {}

  /** Scans one chunk; throws BROKER_ERR_PACKET_SIZE or BROKER_ERR_PACKET_MALFORMED. */
  scan(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'header') {
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

  constructor(
    private readonly socket: Duplex,
    maxPacketBytes: number,
    onTooLarge: (err: PlantWattError) => void,
  ) {
    super({ allowHalfOpen: false })
    this.guard = new PacketSizeGuard(maxPacketBytes)
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
    this.socket.write(chunk, callback)
  }

  /** mqtt-packet corks around each packet: hand the pieces to the socket as one write (one syscall). */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.socket.write(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy()
    callback(error)
  }
}
