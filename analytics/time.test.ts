import { describe, expect, it } from 'vitest'
import { calendarWindows, localParts, offsetAt, parseClock, wallToInstant } from './time.ts'
import { codeOf, sh } from './test-helpers.ts'

describe('local time helpers', () => {
  it('parse clock times, 24:00 included', () => {
    expect(parseClock('00:00')).toBe(0)
    expect(parseClock('18:30')).toBe(1110)
    expect(parseClock('24:00')).toBe(1440)
    expect(parseClock('24:30')).toBeUndefined()
    expect(parseClock('7:00')).toBeUndefined()
  })

  it('map wall-clock times to instants, also across DST', () => {
    // Shanghai: UTC+8 all year.
    expect(wallToInstant(Date.UTC(2024, 6, 1, 6, 0), 'Asia/Shanghai')).toBe(Date.parse('2024-06-30T22:00:00Z'))
    // Berlin 2024-03-31: 01:00 CET = 00:00Z; 06:00 CEST = 04:00Z; 02:30 does not exist → the transition 01:00Z.
    expect(wallToInstant(Date.UTC(2024, 2, 31, 1, 0), 'Europe/Berlin')).toBe(Date.parse('2024-03-31T00:00:00Z'))
    expect(wallToInstant(Date.UTC(2024, 2, 31, 6, 0), 'Europe/Berlin')).toBe(Date.parse('2024-03-31T04:00:00Z'))
    expect(wallToInstant(Date.UTC(2024, 2, 31, 2, 30), 'Europe/Berlin')).toBe(Date.parse('2024-03-31T01:00:00Z'))
    expect(offsetAt(Date.parse('2024-07-01T00:00:00Z'), 'Europe/Berlin')).toBe(2 * 3_600_000)
  })

  it('read local fields', () => {
    expect(localParts(sh('2024-02-29T23:59'), 'Asia/Shanghai')).toMatchObject({ year: 2024, month: 2, day: 29, minuteOfDay: 1439 })
  })

  it('build month windows that follow the local calendar (a DST month is 743 h in Berlin)', () => {
    const w = calendarWindows({ start: Date.parse('2024-02-29T23:00:00Z'), end: Date.parse('2024-04-30T22:00:00Z') }, 'month', 'Europe/Berlin')
    expect(w.map((x) => (x.end - x.start) / 3_600_000)).toEqual([743, 720])
  })

  it('report an unknown zone as ANALYTICS_ERR_INPUT', () => {
    expect(codeOf(() => calendarWindows({ start: 0, end: 3_600_000 }, 'hour', 'Mars/Olympus'))).toBe('ANALYTICS_ERR_INPUT')
    expect(codeOf(() => offsetAt(0, 'Mars/Olympus'))).toBe('ANALYTICS_ERR_INPUT')
  })
})
