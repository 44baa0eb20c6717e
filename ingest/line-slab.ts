import type { LineChunk } from '../storage/store.ts'

/** Default slab size: a few batches' worth of lines per allocation. */
export const SLAB_BYTES = 4 * 1024 * 1024

/**
 * Append-only byte slabs for line protocol waiting to be written: each message's lines become one
 * chunk, a view into the current slab, so a batch of consecutive messages is one contiguous range
 * (one request body, no copy) and the bytes live outside the JavaScript heap — kept for a flush
 * interval, strings would be copied by every young-generation GC. A slab is never written twice:
 * when one is full a new one is started, and the old one is freed once its chunks are written.
 */
export class LineSlab {
  private buf: Buffer
  private used = 0

  constructor(private readonly slabBytes = SLAB_BYTES) {
    this.buf = Buffer.allocUnsafe(slabBytes)
  }

  /** The buffer and offset to write at, with at least `bytes` of room after it. */
  reserve(bytes: number): { buf: Buffer; offset: number } {
    if (this.buf.length - this.used < bytes) {
      this.buf = Buffer.allocUnsafe(Math.max(this.slabBytes, bytes))
      this.used = 0
    }
    return { buf: this.buf, offset: this.used }
  }

  /** Keeps what was written from the reserved offset up to `end` as one chunk of `lines` lines. */
  commit(end: number, lines: number): LineChunk {
    const chunk = { bytes: this.buf.subarray(this.used, end), lines }
    this.used = end
    return chunk
  }

  /** Appends lines (without their "\n") as one chunk. */
  append(lines: readonly string[]): LineChunk {
    let bytes = 0
    for (const line of lines) bytes += Buffer.byteLength(line) + 1
    const { buf, offset } = this.reserve(bytes)
    let at = offset
    for (const line of lines) {
      at += buf.write(line, at, 'utf8')
      buf[at++] = 0x0a
    }
    return this.commit(at, lines.length)
  }
}
