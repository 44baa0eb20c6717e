import type { Logger } from '../../core/logger.ts'
import type { DriverCondition } from '../device-table.ts'

/** Digits vary between attempts (ports, request ids, counts) without the cause changing. */
const causeKey = (code: string, message: string): string => `${code} ${message.replace(/\d+/g, '#')}`

/**
 * What is wrong with a device now, as one code and text. A change of cause is logged once (warn),
 * its end once (info), and reported to the listener; the same cause again is neither.
 */
export class ConditionTracker {
  logger: Logger | undefined
  onChange: ((condition: DriverCondition | undefined) => void) | undefined
  private current: DriverCondition | undefined
  private key = ''

  get(): DriverCondition | undefined {
    return this.current
  }

  set(code: string, message: string): void {
    const key = causeKey(code, message)
    if (this.current && this.key === key) return
    const previous = this.current
    this.current = { code, message, since: Date.now() }
    this.key = key
    this.logger?.warn({ code, err: message, ...(previous ? { previous: previous.code } : {}) }, previous ? 'device trouble changed' : 'device trouble')
    this.onChange?.(this.current)
  }

  clear(): void {
    const previous = this.current
    if (!previous) return
    this.current = undefined
    this.key = ''
    this.logger?.info({ previous: previous.code, since: previous.since }, 'device trouble over')
    this.onChange?.(undefined)
  }
}
