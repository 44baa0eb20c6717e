import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { isValidTimeZone, parseInstant } from './time.ts'

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
