import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { eventIdentity, type EventLog, type StoredEvent } from '../storage/events.ts'

/** Backoff of a failed append, ms: first wait, doubled up to the cap. Defaults 500 and 30 000. */
export interface EventWriterRetry {
  firstDelayMs: number
  maxDelayMs: number
}

/** Identities remembered to tell own events from the API's; cleared beyond this many (memory bound). */
const MAX_OWN_IDENTITIES = 100_000

/**
 * Appends the service's alert events to the event log, one batch at a time, in order. A failed
 * append is retried with backoff and counted (`failures`), never dropped while running. Remembers
 * the identity of each event it appended, so the poll of the log does not apply them a second time.
 */
export class EventWriter {
  /** Appends that failed (each retry counts). */
  failures = 0
  private pending: StoredEvent[] = []
  private appending: Promise<void> | undefined
  private closed = false
  private readonly own = new Set<string>()

  constructor(
    private readonly log: Pick<EventLog, 'append'>,
    private readonly logger: Logger,
    private readonly retry: EventWriterRetry = { firstDelayMs: 500, maxDelayMs: 30_000 },
  ) {}

  /** Events queued and not yet being appended. */
  get pendingCount(): number {
    return this.pending.length
  }

  /** Queues the event and starts appending. */
  add(event: StoredEvent): void {
    this.own.add(eventIdentity(event))
    if (this.own.size > MAX_OWN_IDENTITIES) this.own.clear()
    this.pending.push(event)
    void this.flush()
  }

  /** True for an event this writer appended (by `eventIdentity`). */
  isOwn(identity: string): boolean {
    return this.own.has(identity)
  }

  /** Appends what is queued (or waits for the append under way); what is queued meanwhile follows. */
  flush(): Promise<void> {
    if (this.appending || this.pending.length === 0) return this.appending ?? Promise.resolve()
    const batch = this.pending
    this.pending = []
    this.appending = this.append(batch).finally(() => {
      this.appending = undefined
      if (this.pending.length > 0) void this.flush()
    })
    return this.appending
  }

  /** Resolves when nothing is queued or being appended. */
  async drain(): Promise<void> {
    while (this.appending || this.pending.length > 0) await this.flush()
  }

  /** After close, a failing append is given up instead of retried. */
  close(): void {
    this.closed = true
  }

  private async append(batch: StoredEvent[]): Promise<void> {
    let delayMs = this.retry.firstDelayMs
    for (;;) {
      try {
        await this.log.append(batch)
        return
      } catch (err) {
        this.failures++
        this.logger.warn({ err: describeError(err), events: batch.length }, 'event log append failed; retrying')
        if (this.closed) return
        await new Promise((r) => setTimeout(r, delayMs))
        delayMs = Math.min(delayMs * 2, this.retry.maxDelayMs)
      }
    }
  }
}
