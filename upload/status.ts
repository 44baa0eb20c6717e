import type { Outbox, OutboxEntry, OutboxState } from './outbox.ts'

/** One indicator record in the outbox, as the plant sees it (CLI `--status`, the plant API's GET /uploads). */
export interface UploadRow {
  indicator: string
  subject: string
  carrier: string | null
  period: string
  /** ISO 8601. */
  start: string
  revision: number
  value: number
  unit: string
  attempts: number
  /** Why the province refused it, or why the last try failed. */
  reason: string | null
  /** The province's receipt once acknowledged. */
  receipt: string | null
}

/** What an enterprise has uploaded, what waits and what the province refused (newest first, `limit` of each). */
export interface UploadStatus {
  enterprise: string
  counts: Record<OutboxState, number>
  rejected: UploadRow[]
  pending: UploadRow[]
  uploaded: UploadRow[]
}

function rowOf(e: OutboxEntry): UploadRow {
  const r = e.record
  return {
    indicator: r.indicator,
    subject: r.subject,
    carrier: r.carrier ?? null,
    period: r.period,
    start: new Date(r.start).toISOString(),
    revision: r.revision,
    value: r.value,
    unit: r.unit,
    attempts: e.attempts,
    reason: e.lastError,
    receipt: e.receipt,
  }
}

/** The status of one outbox. */
export function outboxStatus(enterprise: string, outbox: Outbox, limit: number): UploadStatus {
  return {
    enterprise,
    counts: outbox.counts(),
    rejected: outbox.list('rejected', limit).map(rowOf),
    pending: outbox.list('pending', limit).map(rowOf),
    uploaded: outbox.list('acked', limit).map(rowOf),
  }
}

/**
 * The uploaders of this process by enterprise, for the plant API (`uploads` of api/context.ts):
 * `plantwatt up` registers each uploader as it starts; the API reads their outboxes.
 */
export class UploadsBook {
  readonly #outboxes = new Map<string, Outbox>()

  register(enterprise: string, outbox: Outbox): void {
    this.#outboxes.set(enterprise, outbox)
  }

  enterprises(): string[] {
    return [...this.#outboxes.keys()].sort()
  }

  status(enterprise: string, limit: number): UploadStatus | undefined {
    const outbox = this.#outboxes.get(enterprise)
    return outbox ? outboxStatus(enterprise, outbox, limit) : undefined
  }
}
