import { setImmediate as nextTurn } from 'node:timers/promises'

/** Default longest run of import work between two turns of the event loop, ms. */
export const DEFAULT_SLICE_MS = 10

/**
 * Gives the event loop a turn after every `sliceMs` of work. An import parses and validates rows in
 * microtasks (csv-parse hands out a whole buffered chunk at once) and the embedded store writes
 * synchronously: without turns, one large file keeps every other request of the process waiting
 * until it is done.
 */
export class LoopPacer {
  private since = performance.now()
  private calls = 0

  /** @param sliceMs longest run between turns, ms (default 10). */
  constructor(private readonly sliceMs = DEFAULT_SLICE_MS) {}

  /** Called once per unit of work (a row); yields when the slice is used up. Checks the clock every 64 calls. */
  async tick(): Promise<void> {
    if ((++this.calls & 63) !== 0) return
    if (performance.now() - this.since >= this.sliceMs) await this.yield()
  }

  /** Yields now (after a batch write, say) and starts a new slice. */
  async yield(): Promise<void> {
    // setImmediate, not a resolved promise: the loop passes through its poll phase (sockets) first.
    await nextTurn()
    this.since = performance.now()
  }
}
