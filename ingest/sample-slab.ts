/** Default slab size, in numbers: a few batches' worth of sample slots per allocation (2 MiB). */
export const SLAB_SLOTS = 256 * 1024

/**
 * Append-only Float64Array slabs for the sample slots (core/payload-scan.ts scanSamples) of
 * messages waiting to be written: each message's slots are a range of the current slab, outside
 * the JavaScript heap and without an allocation per message. A slab is never written twice: when
 * one is full a new one is started, and the old one is freed once its blocks are written.
 */
export class SampleSlab {
  private current: Float64Array
  private used = 0

  constructor(private readonly slabSlots = SLAB_SLOTS) {
    this.current = new Float64Array(slabSlots)
  }

  /** The slab to write at `offset`, with at least `slots` of room after it. */
  reserve(slots: number): Float64Array {
    if (this.current.length - this.used < slots) {
      this.current = new Float64Array(Math.max(this.slabSlots, slots))
      this.used = 0
    }
    return this.current
  }

  /** Where reserve()'s room starts. */
  get offset(): number {
    return this.used
  }

  /** Keeps what was written from offset up to `end`. */
  commit(end: number): void {
    this.used = end
  }
}
