import { setTimeout as sleep } from 'node:timers/promises'
import { describeError, isPlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SampleBlock, TelemetryPoint, TelemetryStore, WriteConflict } from '../storage/store.ts'
import type { AckTicket } from './ack-sender.ts'
import type { IngestConfig } from './config.ts'
import { conflictDeadLetter, conflictsOfWrite } from './conflicts.ts'
import type { DeadLetterSink } from './dead-letter-sink.ts'
import type { Taken } from './message-decoder.ts'

/** A message taken from the broker, waiting to be written (if it has anything) and acknowledged. */
export interface Pending extends AckTicket, Taken {
  /** Points and block samples to write. */
  rows: number
  receivedAt: number
  topic: string
}

/** The batch writer's counters since start (ingest's stats() reports them as they are). */
export interface BatchWriterStats {
  /** Data messages whose points were written. */
  writtenMessages: number
  /** Samples written, not counting those set aside as conflicts. */
  writtenSamples: number
  /** TelemetryPoints written (one per sample). */
  writtenPoints: number
  /** Store writes retried after a failure. */
  retried: number
  /**
   * Samples set aside (dead letter INGEST_ERR_SAMPLE_CONFLICT, store writeKeepFirst) because their
   * device and ts already had another value for one of their fields: the first value is kept.
   */
  conflicts: number
  /** How long the oldest message not yet written has waited, ms (0 when none): grows while the store is down. */
  lagMs: number
  /** Successful store writes (a batch's points and its blocks count one each) and their duration, ms: last, longest, sum (mean = writeMsSum / writes). */
  writes: number
  writeMsLast: number
  writeMsMax: number
  writeMsSum: number
  /** Batches written; rows (points and block samples) of the last one and of all (mean = batchPointsSum / batches). */
  batches: number
  lastBatchPoints: number
  batchPointsSum: number
  /**
   * While store writes fail (disk full, read-only, corrupt, unreachable): the store's coded error
   * (STORAGE_ERR_FULL, STORAGE_ERR_READONLY, STORAGE_ERR_CORRUPT, STORAGE_ERR_IO,
   * STORAGE_ERR_UNAVAILABLE, …), its text, the last failure (`at`) and the first (`since`), epoch ms.
   * Nothing is acknowledged meanwhile; /health turns red. Absent once a write succeeds.
   */
  storeError?: StoreWriteError
}

/** Why the store refuses writes now; `at` is the last failure, `since` the first of this run. */
export interface StoreWriteError {
  code: string
  message: string
  at: number
  since: number
}

export interface BatchWriterOptions {
  config: Pick<IngestConfig, 'batchSize' | 'flushIntervalMs' | 'retry'>
  store: TelemetryStore
  sink: DeadLetterSink
  logger: Logger
  /** Called with a batch's messages, in arrival order, once they are written. */
  written(batch: readonly Pending[]): void
  /** Called with the number of messages of a batch once it is done with, written or not. */
  settled(count: number): void
}

/**
 * Queues taken messages and writes them in batches of whole messages, up to batchSize rows or
 * after flushIntervalMs, one batch at a time; retries a failed batch with backoff until it is
 * written (or ingest closes: then it stays unacknowledged for the broker to redeliver).
 */
export class BatchWriter {
  private readonly queue: Pending[] = []
  private queuedRows = 0
  private writingBatch: readonly Pending[] = []
  private writing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private closing = false
  private readonly stopRetrying = new AbortController()
  private readonly counters = { writtenMessages: 0, writtenSamples: 0, writtenPoints: 0, retried: 0, conflicts: 0 }
  private readonly timing = { writes: 0, writeMsLast: 0, writeMsMax: 0, writeMsSum: 0, batches: 0, lastBatchPoints: 0, batchPointsSum: 0 }
  private storeError: StoreWriteError | undefined
  /** A store that tells conflicts exactly answers for all its history. */
  private readonly writeKeepFirst: TelemetryStore['writeKeepFirst']

  constructor(private readonly opts: BatchWriterOptions) {
    this.writeKeepFirst = opts.store.writeKeepFirst?.bind(opts.store)
  }

  stats(): BatchWriterStats {
    const oldest = this.writingBatch[0]?.receivedAt ?? this.queue[0]?.receivedAt
    return {
      ...this.counters,
      ...this.timing,
      lagMs: oldest === undefined ? 0 : Date.now() - oldest,
      ...(this.storeError ? { storeError: { ...this.storeError } } : {}),
    }
  }

  add(entry: Pending): void {
    this.queue.push(entry)
    this.queuedRows += entry.rows
    this.schedule()
  }

  /** Writes and acknowledges everything queued so far. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.writing) {
      if (this.writing) await this.writing
      else this.startWrite()
    }
  }

  /** Stops retrying (a failing batch stays unacknowledged), flushes, and stops the timer. */
  async close(): Promise<void> {
    this.closing = true
    this.stopRetrying.abort()
    await this.flush()
    if (this.timer) clearTimeout(this.timer)
  }

  private schedule(): void {
    if (this.writing || this.queue.length === 0) return
    // Dead letters and skipped messages have nothing to write: acknowledge them at once.
    if (this.queuedRows >= this.opts.config.batchSize || this.queue[0]?.rows === 0) {
      this.startWrite()
      return
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.startWrite()
    }, this.opts.config.flushIntervalMs)
  }

  private startWrite(): void {
    if (this.writing || this.queue.length === 0) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.writing = this.writeBatch().finally(() => {
      this.writing = undefined
      this.schedule()
    })
  }

  /** Takes the next batch off the queue: a run of row-less entries, or whole messages up to batchSize rows. */
  private nextBatch(): Pending[] {
    const queue = this.queue
    const batch: Pending[] = []
    let rows = 0
    if (queue[0] && queue[0].rows === 0) {
      while (queue[0] && queue[0].rows === 0) batch.push(queue.shift() as Pending)
      return batch
    }
    while (queue[0] && (batch.length === 0 || rows + queue[0].rows <= this.opts.config.batchSize)) {
      const entry = queue.shift() as Pending
      rows += entry.rows
      batch.push(entry)
    }
    this.queuedRows -= rows
    return batch
  }

  private async writeBatch(): Promise<void> {
    const batch = this.nextBatch()
    this.writingBatch = batch
    try {
      if (await this.store(batch)) {
        let rows = 0
        for (const entry of batch) {
          if (entry.rows === 0) continue
          this.counters.writtenMessages++
          this.counters.writtenSamples += entry.samples
          this.counters.writtenPoints += entry.rows
          rows += entry.rows
        }
        if (rows > 0) {
          this.timing.batches++
          this.timing.lastBatchPoints = rows
          this.timing.batchPointsSum += rows
        }
        this.opts.written(batch)
      }
    } catch (err) {
      this.opts.logger.error({ err: describeError(err) }, 'batch failed; left unacknowledged for the broker to redeliver')
    } finally {
      this.writingBatch = []
      this.opts.settled(batch.length)
    }
  }

  /** Writes the batch's points, then its blocks; false when ingest closed before they were written. */
  private async store(batch: readonly Pending[]): Promise<boolean> {
    const points: TelemetryPoint[] = []
    const blocks: SampleBlock[] = []
    let samples = 0
    for (const entry of batch) {
      for (const point of entry.points) points.push(point)
      if (entry.block) {
        blocks.push(entry.block)
        samples += entry.block.samples
      }
    }
    const { store } = this.opts
    const keepFirst = this.writeKeepFirst
    let conflicts: WriteConflict[] = []
    const writePoints = keepFirst ? () => keepFirst(points).then((c) => void (conflicts = c)) : () => store.write(points)
    if (points.length > 0 && !(await this.withRetry(writePoints, points.length))) return false
    if (conflicts.length > 0) this.setAsideWritten(batch, points, conflicts)
    if (samples > 0 && store.writeBlocks) {
      const writeBlocks = store.writeBlocks.bind(store)
      return this.withRetry(() => writeBlocks(blocks), samples)
    }
    return true
  }

  private async withRetry(write: () => Promise<void>, count: number): Promise<boolean> {
    const { retry } = this.opts.config
    let delayMs = retry.initialMs
    for (;;) {
      try {
        const started = performance.now()
        await write()
        this.timed(performance.now() - started)
        this.storeError = undefined
        return true
      } catch (err) {
        const now = Date.now()
        const code = isPlantWattError(err) ? err.code : 'STORAGE_ERR_WRITE'
        this.storeError = { code, message: describeError(err), at: now, since: this.storeError?.since ?? now }
        if (this.closing) {
          this.opts.logger.warn({ err: describeError(err), points: count }, 'store write failed while closing: left unacknowledged for the broker to redeliver')
          return false
        }
        this.counters.retried++
        this.opts.logger.warn({ err: describeError(err), points: count, retryInMs: delayMs }, 'store write failed; retrying the batch')
        // Half fixed, half random: instances that failed together do not retry together.
        const waitMs = delayMs / 2 + Math.random() * (delayMs / 2)
        await sleep(waitMs, undefined, { signal: this.stopRetrying.signal }).catch(() => undefined)
        delayMs = Math.min(delayMs * 2, retry.maxMs)
      }
    }
  }

  /** Counts a successful store write of `ms` milliseconds (rounded to 0.1 ms). */
  private timed(ms: number): void {
    const t = this.timing
    const rounded = Math.round(ms * 10) / 10
    t.writes++
    t.writeMsLast = rounded
    t.writeMsMax = Math.max(t.writeMsMax, rounded)
    t.writeMsSum = Math.round((t.writeMsSum + rounded) * 10) / 10
  }

  /** Conflicts the store reported for a batch's points: each sample dead-lettered and not counted as written. */
  private setAsideWritten(batch: readonly Pending[], points: readonly TelemetryPoint[], reported: readonly WriteConflict[]): void {
    const byPoint = conflictsOfWrite(points, reported)
    let first = 0
    for (const entry of batch) {
      const next = first + entry.points.length
      for (let i = first; i < next; i++) {
        const c = byPoint.get(i)
        if (c === undefined) continue
        const tags = (points[i] as TelemetryPoint).tags
        this.opts.sink.record(conflictDeadLetter(entry.topic, `${tags.enterprise}/${tags.site}/${tags.line}/${tags.device}`, c))
        this.counters.conflicts++
        entry.samples--
      }
      first = next
    }
  }
}
