import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { checkRange, isValidTimeZone, parseInstant, parseRange } from './time.ts'

describe('parseInstant', () => {
  it('reads epoch milliseconds as they are', () => {
    expect(parseInstant('1764385200000', 'start', 'Asia/Shanghai')).toBe(1764385200000)
  })

  it('reads ISO 8601 with Z or an offset as the instant it names', () => {
    expect(parseInstant('2025-11-29T03:00:00Z', 'start', 'Asia/Shanghai')).toBe(Date.UTC(2025, 10, 29, 3))
    expect(parseInstant('2025-11-29T11:00:00+08:00', 'start', 'UTC')).toBe(Date.UTC(2025, 10, 29, 3))
    expect(parseInstant('2025-11-29T11:00:00.250+0800', 'start', 'UTC')).toBe(Date.UTC(2025, 10, 29, 3, 0, 0, 250))
    expect(parseInstant('2025-11-28T22:30-04:30', 'start', 'UTC')).toBe(Date.UTC(2025, 10, 29, 3))
  })

  it('reads times without an offset as wall-clock time in the given zone', () => {
    expect(parseInstant('2025-11-29', 'start', 'Asia/Shanghai')).toBe(Date.UTC(2025, 10, 28, 16))
    expect(parseInstant('2025-11-29 08:15', 'start', 'Asia/Shanghai')).toBe(Date.UTC(2025, 10, 29, 0, 15))
    // New York: EST (UTC-5) in January, EDT (UTC-4) in July.
    expect(parseInstant('2025-01-15T12:00', 'start', 'America/New_York')).toBe(Date.UTC(2025, 0, 15, 17))
    expect(parseInstant('2025-07-15T12:00', 'start', 'America/New_York')).toBe(Date.UTC(2025, 6, 15, 16))
  })

  it('rejects what is not a time, naming the parameter', () => {
    for (const text of ['yesterday', '2025-02-30', '2025-13-01', '2025-11-29T24:00', '2025-11-29T10:00+08:75', '12.5', '']) {
      let caught: unknown
      try {
        parseInstant(text, 'stop', 'UTC')
      } catch (err) {
        caught = err
      }
      expect(isPlantWattError(caught, 'API_ERR_VALIDATION'), text).toBe(true)
      expect((caught as Error).message).toContain('"stop"')
    }
  })
})

describe('time zones', () => {
  it('knows IANA zones', () => {
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true)
    expect(isValidTimeZone('UTC')).toBe(true)
    expect(isValidTimeZone('Mars/Olympus')).toBe(false)
  })

  it('reads wall-clock time in half-hour zones', () => {
    expect(parseInstant('2025-07-01T17:30', 'start', 'Asia/Kolkata')).toBe(Date.UTC(2025, 6, 1, 12))
  })
})

describe('parseRange and checkRange', () => {
  const caught = (fn: () => unknown): { code: string; message: string; details: unknown } => {
    try {
      fn()
    } catch (err) {
      if (isPlantWattError(err)) return { code: err.code, message: err.message, details: err.details }
      throw err
    }
    throw new Error('expected a coded error')
  }

  it('parses both bounds in the zone and returns them', () => {
    expect(parseRange('2025-11-29', '2025-11-30', 'Asia/Shanghai', { maxDays: 1 })).toEqual({
      start: Date.UTC(2025, 10, 28, 16),
      stop: Date.UTC(2025, 10, 29, 16),
    })
  })

  it('rejects a start at or after the stop with API_ERR_RANGE, naming both bounds', () => {
    for (const [start, stop] of [
      ['2025-11-30', '2025-11-29'],
      ['2025-11-29', '2025-11-29'],
    ] as const) {
      const e = caught(() => parseRange(start, stop, 'UTC'))
      expect(e.code).toBe('API_ERR_RANGE')
      expect(e.message).toMatch(/^query parameters "start" and "stop": start \(.+\) must be before stop \(.+\)$/)
    }
    const body = caught(() => checkRange({ start: 2, stop: 1 }, { names: ['baselineStart', 'baselineStop'], place: 'body' }))
    expect(body.message).toContain('body fields "baselineStart" and "baselineStop": baselineStart (')
    expect(body.details).toEqual({ baselineStart: 2, baselineStop: 1 })
  })

  it('rejects a span longer than maxDays with API_ERR_RANGE_TOO_LARGE; exactly maxDays passes', () => {
    const e = caught(() => parseRange('2025-11-01', '2025-11-09', 'UTC', { maxDays: 7 }))
    expect(e.code).toBe('API_ERR_RANGE_TOO_LARGE')
    expect(e.message).toBe('query parameters "start" and "stop" span 8.0 days; at most 7 days per request')
    expect(e.details).toEqual({ maxDays: 7 })
    expect(parseRange('2025-11-01', '2025-11-08', 'UTC', { maxDays: 7 }).stop).toBe(Date.UTC(2025, 10, 8))
    expect(checkRange({ start: 0, stop: 1e15 })).toEqual({ start: 0, stop: 1e15 })
  })

  it('names a bad bound and where it is', () => {
    const e = caught(() => parseRange('2025-11-01', 'soon', 'UTC', { names: ['baselineStart', 'baselineStop'], place: 'body' }))
    expect(e.code).toBe('API_ERR_VALIDATION')
    expect(e.message).toContain('body field "baselineStop"')
  })
})
