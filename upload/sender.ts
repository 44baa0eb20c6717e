/**
 * Drains the outbox: a batch of due records per request, signed, until the province acknowledges.
 * A network failure or a 5xx keeps the batch pending and backs off (doubling, with jitter, capped);
 * a record the province refuses by name (details path /records/i) is set aside as rejected with the
 * reason and the rest is sent again; a body too large halves the batch.
 */
import { describeError } from '../core/errors.ts'
import { MESSAGE_FORMAT, type Receipt } from '../province/message.ts'
import type { Outbox, OutboxEntry } from './outbox.ts'
import type { UploadAnswer } from './transport.ts'

export const UPLOAD_PATH = '/api/v1/uploads'

export interface SenderOptions {
  enterprise: string
  batchRecords: number
  initialBackoffMs: number
  maxBackoffMs: number
  now?: () => number
  random?: () => number
}

export interface SendStats {
  requests: number
  acked: number
  duplicates: number
  rejected: number
  failures: number
  /** Consecutive failures now; 0 = healthy. */
  failing: number
  lastError: string | null
  lastAckAt: number | null
}

export interface Poster {
  post(path: string, body: Buffer): Promise<UploadAnswer>
}

type ErrorAnswer = { error?: { code?: string; message?: string; details?: unknown } }

export class Sender {
  readonly #stats: SendStats = { requests: 0, acked: 0, duplicates: 0, rejected: 0, failures: 0, failing: 0, lastError: null, lastAckAt: null }
  #batch: number
  #notBefore = 0

  constructor(
    private readonly outbox: Outbox,
    private readonly transport: Poster,
    private readonly opts: SenderOptions,
  ) {
    this.#batch = opts.batchRecords
  }

  stats(): SendStats {
    return { ...this.#stats }
  }

  /** When the next attempt may go (backing off after a failure), epoch ms. */
  get notBefore(): number {
    return this.#notBefore
  }

  /** Sends due batches until none is due or a failure makes it back off; the number of records acknowledged. */
  async drain(signal?: AbortSignal): Promise<number> {
    const now = this.opts.now ?? Date.now
    let acked = 0
    while (!signal?.aborted && now() >= this.#notBefore) {
      const due = this.outbox.due(now(), this.#batch)
      if (due.length === 0) break
      const done = await this.#sendBatch(due, now)
      if (done < 0) break
      acked += done
    }
    return acked
  }

  /** ≥ 0: records acknowledged; −1: failed, backing off. */
  async #sendBatch(due: OutboxEntry[], now: () => number): Promise<number> {
    const body = Buffer.from(JSON.stringify({ format: MESSAGE_FORMAT, enterprise: this.opts.enterprise, records: due.map((e) => e.record) }))
    this.#stats.requests++
    let answer: UploadAnswer
    try {
      answer = await this.transport.post(UPLOAD_PATH, body)
    } catch (err) {
      return this.#fail(due, `no answer: ${describeError(err)}`, now)
    }
    if (answer.status === 200) {
      const receipt = answer.body as Receipt
      this.outbox.acked(
        due.map((e) => e.id),
        receipt.receipt,
        now(),
      )
      this.#stats.acked += due.length
      this.#stats.duplicates += receipt.duplicates
      this.#stats.failing = 0
      this.#stats.lastAckAt = now()
      this.#batch = Math.min(this.opts.batchRecords, this.#batch * 2)
      return due.length
    }
    const err = (answer.body as ErrorAnswer).error
    const reason = `${answer.status} ${err?.code ?? 'error'}: ${err?.message ?? String(answer.body).slice(0, 200)}`
    if (answer.status === 413 && this.#batch > 1) {
      this.#batch = Math.max(1, Math.floor(this.#batch / 2))
      return 0
    }
    const index = refusedIndex(err?.details)
    if ((answer.status === 400 || answer.status === 409) && err?.code !== 'PROVINCE_ERR_REPLAY') {
      const bad = index !== undefined ? due[index] : due.length === 1 ? due[0] : undefined
      if (bad) {
        this.outbox.rejected(bad.id, reason)
        this.#stats.rejected++
        return 0
      }
      // refused as a whole without naming a record: find it by sending one at a time
      if (this.#batch > 1) {
        this.#batch = 1
        return 0
      }
    }
    return this.#fail(due, reason, now)
  }

  #fail(due: OutboxEntry[], reason: string, now: () => number): number {
    this.#stats.failures++
    this.#stats.failing++
    this.#stats.lastError = reason
    const base = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (this.#stats.failing - 1))
    const delay = Math.round(base * (0.5 + (this.opts.random ?? Math.random)() / 2))
    this.#notBefore = now() + delay
    this.outbox.retryAt(
      due.map((e) => e.id),
      this.#notBefore,
      reason,
    )
    return -1
  }
}

/** The record index a coded refusal names (`/records/3/...`). */
function refusedIndex(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined
  for (const d of details) {
    const m = /^\/records\/(\d+)/.exec(String((d as { path?: unknown }).path ?? ''))
    if (m) return Number(m[1])
  }
  return undefined
}
