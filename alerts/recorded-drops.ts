import type { Logger } from '../core/logger.ts'
import { DAY_MS } from '../core/duration.ts'
import { deviceKey } from '../core/plant.ts'
import { METER_EVENT_KIND, meterEventOfRecord } from '../records/meter-events.ts'
import { createRecordStore, type RecordStore } from '../records/store.ts'
import type { EventLog } from '../storage/events.ts'

/**
 * The recorded meter events (records/meter-events.ts) the counter rule asks about: a counter drop
 * between two samples is explained when a replacement, reset or ratio change of the device and
 * quantity was recorded between them. Kept in memory (events of the last `lookbackMs`), refreshed
 * every poll: an event recorded after the drop explains the next one, and the open alert resolves
 * itself once the counter counts on (the rule's clearAfter).
 */
export class RecordedDrops {
  private readonly store: RecordStore
  private byCounter = new Map<string, number[]>()
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(
    events: EventLog,
    private readonly now: () => number,
    private readonly logger?: Logger,
    private readonly lookbackMs = 400 * DAY_MS,
  ) {
    this.store = createRecordStore(events)
  }

  /** True when an event of the device's quantity was recorded in (fromTs, toTs]. */
  explains(key: string, quantity: string, fromTs: number, toTs: number): boolean {
    return (this.byCounter.get(`${key}|${quantity}`) ?? []).some((ts) => ts > fromTs && ts <= toTs)
  }

  async refresh(): Promise<void> {
    const t = this.now()
    const next = new Map<string, number[]>()
    for (const r of await this.store.current(METER_EVENT_KIND, { start: t - this.lookbackMs, end: t + DAY_MS })) {
      const e = meterEventOfRecord(r)
      if (!e) continue
      const k = `${deviceKey(e)}|${e.quantity}`
      next.set(k, [...(next.get(k) ?? []), e.ts])
    }
    this.byCounter = next
  }

  start(everyMs: number): void {
    const run = (): void => {
      this.refresh().catch((err: unknown) => this.logger?.warn({ err }, 'reading meter events failed; counter drops stay unexplained until the next poll'))
    }
    run()
    this.timer = setInterval(run, everyMs)
    this.timer.unref?.()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
