import { setTimeout as sleep } from 'node:timers/promises'
import { describeError, isPlantWattError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Sample } from '../core/payload.ts'
import type { EdgeDeviceConfig } from './config.ts'
import type { Driver, PointError, ReadResult } from './driver.ts'
import { toSample } from './sample.ts'

export interface LastError {
  code: string
  message: string
  /** Epoch ms. */
  ts: number
}

/** Counters of one device's polling, since the agent started. */
export interface PollCounters {
  /** Polls that returned a result (possibly with bad points). */
  reads: number
  /** Polls that failed as a whole: no connection, connection lost, no reply at all. */
  readErrors: number
  /** Points reported bad, summed over all polls. */
  pointErrors: number
  /** Good or uncertain values handed on for publishing, summed over all polls (decoded values). */
  values: number
  /** Polls skipped because the previous one overran its interval. */
  overruns: number
  /** Epoch ms of the last successful poll. */
  lastReadTs: number | undefined
  lastError: LastError | undefined
}

export interface PollerHooks {
  onSample(sample: Sample): void
  /** The driver connected or lost its connection. */
  onConnectionChange(connected: boolean): void
}

function errorCode(err: unknown): string {
  return isPlantWattError(err) ? err.code : 'EDGE_ERR_READ'
}

/**
 * Polls one device on its own loop, so a slow device never delays another, and awaits each poll
 * before the next (no overlapping reads of one device). Ticks are kept on a fixed grid; a poll that
 * overruns skips the ticks it missed instead of bursting to catch up.
 */
export class DevicePoller {
  readonly counters: PollCounters = { reads: 0, readErrors: 0, pointErrors: 0, values: 0, overruns: 0, lastReadTs: undefined, lastError: undefined }
  private connectedFlag = false
  private failing = false
  private readonly stop = new AbortController()
  private loop: Promise<void> | undefined
  private unsubscribe: (() => void) | undefined

  constructor(
    readonly device: EdgeDeviceConfig,
    readonly driver: Driver,
    private readonly hooks: PollerHooks,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.connectedFlag
  }

  start(): void {
    // Push drivers (OPC UA subscriptions) deliver between polls; polls then only check the link.
    if (this.driver.subscribe && !this.unsubscribe) this.unsubscribe = this.driver.subscribe((result) => this.accept(result))
    this.loop ??= this.run()
  }

  /** Stops after the poll in progress (bounded by the driver's timeouts) and closes the driver. */
  async close(): Promise<void> {
    this.stop.abort()
    this.unsubscribe?.()
    await this.loop
    await this.driver.close().catch((err: unknown) => this.logger.warn({ err: describeError(err) }, 'driver close failed'))
    this.setConnected(false)
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal
    const interval = this.device.pollIntervalMs
    let next = performance.now()
    while (!signal.aborted) {
      await this.pollOnce(signal)
      next += interval
      const now = performance.now()
      if (next < now) {
        const missed = Math.ceil((now - next) / interval)
        this.counters.overruns += missed
        next += missed * interval
      }
      try {
        await sleep(next - now, undefined, { signal })
      } catch {
        // aborted: the loop condition ends it
      }
    }
  }

  private async pollOnce(signal: AbortSignal): Promise<void> {
    try {
      if (!this.connectedFlag) {
        await this.driver.connect(signal)
        this.setConnected(true)
      }
      const result = await this.driver.read(signal)
      if (signal.aborted) return
      this.accept(result)
    } catch (err) {
      if (signal.aborted) return
      this.counters.readErrors++
      this.counters.lastError = { code: errorCode(err), message: describeError(err), ts: Date.now() }
      // Log the first failure of a run, not every poll of a device that stays down.
      if (!this.failing) this.logger.warn({ endpoint: this.driver.endpoint, err: describeError(err) }, 'device poll failed; reconnecting on the next poll')
      else this.logger.debug({ endpoint: this.driver.endpoint, err: describeError(err) }, 'device poll failed')
      this.failing = true
      if (this.connectedFlag) await this.driver.close().catch(() => {})
      this.setConnected(false)
    }
  }

  /** A result from a poll or a push: counted, converted, and handed on as a sample. */
  private accept(result: ReadResult): void {
    const { sample, rejected } = toSample(result)
    const pointErrors: PointError[] = [...result.errors, ...rejected]
    this.counters.reads++
    this.counters.lastReadTs = result.ts
    this.counters.pointErrors += pointErrors.length
    const first = pointErrors[0]
    if (first) {
      this.counters.lastError = { code: first.code, message: `${first.point}: ${first.message}`, ts: Date.now() }
      this.logger.debug({ errors: pointErrors }, 'points bad')
    }
    if (this.failing) {
      this.failing = false
      this.logger.info({ endpoint: this.driver.endpoint }, 'device reads again')
    }
    if (sample) {
      for (const _ in sample.values) this.counters.values++
      this.hooks.onSample(sample)
    }
  }

  private setConnected(connected: boolean): void {
    if (this.connectedFlag === connected) return
    this.connectedFlag = connected
    this.hooks.onConnectionChange(connected)
  }
}
