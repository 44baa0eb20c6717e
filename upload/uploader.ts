/**
 * The uploader: on each tick, computes the periods the schedule names with the indicator provider,
 * queues them in the outbox and drains it to the province. `startUploader` wires the parts.
 */
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import type { Logger } from '../core/logger.ts'
import { PlantWattError, describeError } from '../core/errors.ts'
import type { PeriodKind } from '../province/message.ts'
import { privateKeyOf } from '../province/signing.ts'
import type { UploadConfig } from './config.ts'
import type { IndicatorProvider } from './indicators.ts'
import { Outbox, type EnqueueResult } from './outbox.ts'
import { plan, type ScheduleOptions } from './schedule.ts'
import { Sender, type SendStats } from './sender.ts'
import { Transport } from './transport.ts'

const RECHECK_EVERY_MS = 3_600_000

export interface UploaderStats extends SendStats {
  enterprise: string
  provider: string
  url: string
  queued: number
  revised: number
  outbox: ReturnType<Outbox['counts']>
  marks: Partial<Record<PeriodKind, number>>
  lastComputeError: string | null
}

/** Computes what closed since the last tick and queues it. */
export class IndicatorQueue {
  #lastRecheck = 0
  lastError: string | null = null
  readonly totals: EnqueueResult = { queued: 0, revised: 0, unchanged: 0 }

  constructor(
    private readonly outbox: Outbox,
    private readonly provider: IndicatorProvider,
    private readonly schedule: ScheduleOptions,
  ) {}

  marks(): Partial<Record<PeriodKind, number>> {
    const out: Partial<Record<PeriodKind, number>> = {}
    for (const k of ['15m', 'day', 'month'] as const) {
      const v = this.outbox.getMark(k)
      if (v !== undefined) out[k] = v
    }
    return out
  }

  async compute(now: number): Promise<EnqueueResult> {
    const recheck = now - this.#lastRecheck >= RECHECK_EVERY_MS
    const result = { queued: 0, revised: 0, unchanged: 0 }
    try {
      for (const w of plan(now, this.marks(), recheck, this.schedule)) {
        const r = this.outbox.enqueue(await this.provider.indicators(w.kind, w.range), now)
        result.queued += r.queued
        result.revised += r.revised
        result.unchanged += r.unchanged
        this.outbox.setMark(w.kind, Math.max(this.outbox.getMark(w.kind) ?? 0, w.range.end))
      }
      if (recheck) this.#lastRecheck = now
      this.lastError = null
    } catch (err) {
      // the marks stay where the last good period ended: the next tick takes it up again
      this.lastError = describeError(err)
    }
    this.totals.queued += result.queued
    this.totals.revised += result.revised
    this.totals.unchanged += result.unchanged
    return result
  }
}

export interface Uploader {
  readonly outbox: Outbox
  stats(): UploaderStats
  /** One compute + drain, now (tests, `plantwatt upload --once`). */
  tick(): Promise<void>
  close(): Promise<void>
}

export interface UploaderDeps {
  provider: IndicatorProvider
  timezone: string
  logger?: Logger
  /** Clock of the data: which periods are closed (tests and the bench replay time). Signing and backoff use the wall clock. */
  now?: () => number
  /** The private key PEM (default: keyFile, else env PLANTWATT_UPLOAD_KEY). */
  keyPem?: string
}

function keyPemOf(cfg: Readonly<UploadConfig>): string {
  if (cfg.keyFile !== undefined) {
    try {
      return readFileSync(cfg.keyFile, 'utf8')
    } catch (cause) {
      throw new PlantWattError('UPLOAD_ERR_CONFIG', 'upload.keyFile: cannot read the private key', { cause })
    }
  }
  const env = process.env.PLANTWATT_UPLOAD_KEY
  if (env) return env
  throw new PlantWattError('UPLOAD_ERR_CONFIG', 'upload: set keyFile (or env PLANTWATT_UPLOAD_KEY) to the enterprise Ed25519 private key')
}

/** Starts the uploader: opens the outbox, ticks every intervalS (first tick at once). */
export function startUploader(cfg: Readonly<UploadConfig>, enterprise: string, deps: UploaderDeps): Uploader {
  if (cfg.url === '') throw new PlantWattError('UPLOAD_ERR_CONFIG', 'upload.url: the province service URL is required')
  const key = privateKeyOf(deps.keyPem ?? keyPemOf(cfg))
  const now = deps.now ?? Date.now
  let ca: Buffer | undefined
  if (cfg.caFile !== undefined) {
    try {
      ca = readFileSync(cfg.caFile)
    } catch (cause) {
      throw new PlantWattError('UPLOAD_ERR_CONFIG', 'upload.caFile: cannot read', { cause })
    }
  }
  const outbox = new Outbox(join(cfg.dataDir, 'outbox.sqlite'))
  const transport = new Transport({ url: cfg.url, enterprise, key, timeoutMs: cfg.timeoutMs, ...(ca ? { ca } : {}) })
  const sender = new Sender(outbox, transport, {
    enterprise,
    batchRecords: cfg.batchRecords,
    initialBackoffMs: cfg.initialBackoffMs,
    maxBackoffMs: cfg.maxBackoffMs,
  })
  const queue = new IndicatorQueue(outbox, deps.provider, {
    timezone: deps.timezone,
    settleMs: cfg.settleS * 1000,
    backfillDays: cfg.backfillDays,
    recheckDays: cfg.recheckDays,
  })
  const abort = new AbortController()
  let running: Promise<void> = Promise.resolve()
  const tick = (): Promise<void> => {
    running = running.then(async () => {
      await queue.compute(now())
      await sender.drain(abort.signal)
      if (queue.lastError) deps.logger?.warn({ err: queue.lastError }, 'upload: computing indicators failed; retried next tick')
    })
    return running
  }
  const timer = setInterval(() => void tick(), cfg.intervalS * 1000)
  timer.unref()
  void tick()
  return {
    outbox,
    tick,
    stats: () => ({
      enterprise,
      provider: deps.provider.name,
      url: cfg.url,
      ...sender.stats(),
      ...queue.totals,
      outbox: outbox.counts(),
      marks: queue.marks(),
      lastComputeError: queue.lastError,
    }),
    close: async () => {
      clearInterval(timer)
      abort.abort()
      await running.catch(() => undefined)
      transport.close()
      outbox.close()
    },
  }
}
