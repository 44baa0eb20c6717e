import { PlantWattError } from '../../core/errors.ts'
import type { TelemetryPoint, TelemetryStore } from '../../storage/store.ts'

/**
 * Collects a backfill's points and writes them in batches of at most `batchSize`, reporting the
 * points written so far after each batch. A failed write is SIM_ERR_BACKFILL naming the batch.
 */
export class PointBatcher {
  #batch: TelemetryPoint[] = []
  #points = 0
  #batches = 0
  readonly #store: Pick<TelemetryStore, 'write'>
  readonly #batchSize: number
  readonly #onProgress: ((written: number) => void) | undefined

  constructor(store: Pick<TelemetryStore, 'write'>, batchSize: number, onProgress?: (written: number) => void) {
    this.#store = store
    this.#batchSize = batchSize
    this.#onProgress = onProgress
  }

  add(points: readonly TelemetryPoint[]): void {
    this.#batch.push(...points)
  }

  /** Writes one full batch when there is one (more than that waits for the next call or finish). */
  async writeFull(): Promise<void> {
    if (this.#batch.length >= this.#batchSize) await this.#writeFirst()
  }

  /** Writes what is left, in full batches and a last partial one. */
  async finish(): Promise<void> {
    while (this.#batch.length > this.#batchSize) await this.#writeFirst()
    await this.#flush()
  }

  stats(): { points: number; batches: number } {
    return { points: this.#points, batches: this.#batches }
  }

  async #writeFirst(): Promise<void> {
    const rest = this.#batch.splice(this.#batchSize)
    await this.#flush()
    this.#batch = rest
  }

  async #flush(): Promise<void> {
    const batch = this.#batch
    if (batch.length === 0) return
    try {
      await this.#store.write(batch)
    } catch (cause) {
      throw new PlantWattError(
        'SIM_ERR_BACKFILL',
        `backfill: writing ${batch.length} points at ${new Date(batch[0]!.ts).toISOString()} failed: ${(cause as Error).message}`,
        { cause },
      )
    }
    this.#points += batch.length
    this.#batches++
    this.#batch = []
    this.#onProgress?.(this.#points)
  }
}
