import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { eventIdentity, type EventLog } from '../storage/events.ts'
import { ALERT_EVENT_KIND, parseAlertEvent } from './events.ts'

/** Event kind the API appends when a baseline is revised (the service re-learns). */
const BASELINE_REVISION_KIND = 'baseline_revision'
/** Events appended by the API are read again this far back: clocks of processes differ a little. */
const POLL_OVERLAP_MS = 120_000
/** Identities of applied events remembered against repeats; cleared beyond this many (memory bound). */
const MAX_SEEN = 100_000

/** An acknowledgement or resolution read from the log. */
export type ExternalAlertEvent = NonNullable<ReturnType<typeof parseAlertEvent>>

export interface ExternalEventsOptions {
  events: Pick<EventLog, 'query'>
  /** Reading starts here, epoch ms (the service's start). */
  startedAt: number
  now: () => number
  /** True for an event the service appended itself (not applied again). */
  isOwn(identity: string): boolean
  /** Applies an acknowledgement or resolution made elsewhere (the engine, then the notifier). */
  apply(event: ExternalAlertEvent): void
  /** A baseline was revised. */
  onBaselineRevision(): Promise<void>
  logger: Logger
}

/**
 * Reads what other processes (the API) appended to the event log: acknowledgements and
 * resolutions of alerts, each applied once, and baseline revisions. Every `intervalMs` once
 * started, never two reads at a time; a failed read is logged and retried at the next.
 */
export class ExternalEvents {
  private alertCursor: number
  private revisionCursor: number
  private readonly seen = new Set<string>()
  private polling: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly o: ExternalEventsOptions) {
    this.alertCursor = o.startedAt
    this.revisionCursor = o.startedAt
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.polling ??= this.read().finally(() => (this.polling = undefined))
    }, intervalMs)
  }

  /** Reads now, after the read under way (if any). */
  async poll(): Promise<void> {
    await this.polling
    await this.read()
  }

  /** Stops the timer; resolves when the read under way is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.polling
  }

  private async read(): Promise<void> {
    const { o } = this
    const t = o.now()
    try {
      const events = await o.events.query({ kind: ALERT_EVENT_KIND, start: this.alertCursor - POLL_OVERLAP_MS, filter: { event: ['acknowledged', 'cleared'] } })
      for (const e of events) {
        const id = eventIdentity(e)
        if (o.isOwn(id) || this.seen.has(id)) continue
        this.seen.add(id)
        const parsed = parseAlertEvent(e)
        if (parsed) o.apply(parsed)
      }
      if (this.seen.size > MAX_SEEN) this.seen.clear()
      this.alertCursor = t
      const revisions = await o.events.query({ kind: BASELINE_REVISION_KIND, start: this.revisionCursor })
      if (revisions.length > 0) {
        this.revisionCursor = Math.max(...revisions.map((r) => r.ts)) + 1
        o.logger.info({ revisions: revisions.length }, 'baseline revised: re-learning')
        await o.onBaselineRevision()
      }
    } catch (err) {
      o.logger.warn({ err: describeError(err) }, 'reading the event log failed; will retry')
    }
  }
}
