import { describe, expect, it } from 'vitest'
import { isPlantWattError } from './errors.ts'
import { startOfLocalDate, windowRuns, windowStartOf, windowStarts, zoneOffsetMs } from './windows.ts'

const utc = (iso: string): number => Date.parse(iso)
const iso = (ts: number): string => new Date(ts).toISOString()
const starts = (from: string, to: string, every: string | undefined, zone?: string): string[] => windowStarts(utc(from), utc(to), every, zone).map(iso)

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isPlantWattError(err) ? err.code : 'not a PlantWattError'
  }
  return undefined
}

describe('zone offsets', () => {
  it('knows fixed, half-hour and DST zones', () => {
    expect(zoneOffsetMs(utc('2024-05-01T00:00:00Z'), 'Asia/Shanghai')).toBe(8 * 3_600_000)
    expect(zoneOffsetMs(utc('2024-05-01T00:00:00Z'), 'Asia/Kolkata')).toBe(5.5 * 3_600_000)
    expect(zoneOffsetMs(utc('2024-01-15T12:00:00Z'), 'America/New_York')).toBe(-5 * 3_600_000)
    expect(zoneOffsetMs(utc('2024-07-15T12:00:00Z'), 'America/New_York')).toBe(-4 * 3_600_000)
    expect(zoneOffsetMs(utc('2024-03-31T00:59:59Z'), 'Europe/Berlin')).toBe(3_600_000)
    expect(zoneOffsetMs(utc('2024-03-31T01:00:00Z'), 'Europe/Berlin')).toBe(2 * 3_600_000)
  })

  it('finds local midnight, also where it falls in a DST gap or occurs twice (Havana)', () => {
    expect(iso(startOfLocalDate(2024, 5, 2, 'Asia/Shanghai'))).toBe('2024-05-01T16:00:00.000Z')
    expect(iso(startOfLocalDate(2024, 3, 10, 'America/New_York'))).toBe('2024-03-10T05:00:00.000Z')
    expect(iso(startOfLocalDate(2024, 3, 11, 'America/New_York'))).toBe('2024-03-11T04:00:00.000Z')
    // Cuba springs forward at midnight: 2024-03-10 begins at 01:00 CDT.
    expect(iso(startOfLocalDate(2024, 3, 10, 'America/Havana'))).toBe('2024-03-10T05:00:00.000Z')
    // …and falls back from 01:00 to 00:00: 2024-11-03 begins at the first 00:00 (CDT).
    expect(iso(startOfLocalDate(2024, 11, 3, 'America/Havana'))).toBe('2024-11-03T04:00:00.000Z')
    expect(iso(startOfLocalDate(2024, 11, 4, 'America/Havana'))).toBe('2024-11-04T05:00:00.000Z')
  })
})

describe('window starts', () => {
  it('align sub-day windows from local midnight', () => {
    expect(starts('2024-05-01T00:05:00Z', '2024-05-01T00:35:00Z', '15m')).toEqual([
      '2024-05-01T00:00:00.000Z',
      '2024-05-01T00:15:00.000Z',
      '2024-05-01T00:30:00.000Z',
    ])
    expect(starts('2024-05-01T00:20:00Z', '2024-05-01T01:00:00Z', '1h', 'Asia/Kolkata')).toEqual(['2024-04-30T23:30:00.000Z', '2024-05-01T00:30:00.000Z'])
  })

  it('restart a grid that does not divide the day at each midnight (7m: 205 windows and a 5-minute one)', () => {
    expect(starts('2024-05-01T15:40:00Z', '2024-05-01T16:10:00Z', '7m')).toEqual([
      '2024-05-01T15:34:00.000Z',
      '2024-05-01T15:41:00.000Z',
      '2024-05-01T15:48:00.000Z',
      '2024-05-01T15:55:00.000Z',
      '2024-05-01T16:00:00.000Z',
      '2024-05-01T16:07:00.000Z',
    ])
  })

  it('put days at local midnight, 2d on even local day numbers, weeks on Monday', () => {
    expect(starts('2024-05-01T00:00:00Z', '2024-05-02T00:00:00Z', '1d')).toEqual(['2024-04-30T16:00:00.000Z', '2024-05-01T16:00:00.000Z'])
    expect(starts('2024-05-01T00:00:00Z', '2024-05-04T00:00:00Z', '2d')).toEqual(['2024-04-30T16:00:00.000Z', '2024-05-02T16:00:00.000Z'])
    expect(starts('2024-05-01T00:00:00Z', '2024-05-08T00:00:00Z', '1w')).toEqual(['2024-04-28T16:00:00.000Z', '2024-05-05T16:00:00.000Z'])
    expect(new Date(utc('2024-04-29T00:00:00Z')).getUTCDay()).toBe(1) // 2024-04-29 is a Monday
  })

  it('follow the calendar for months, quarters and years', () => {
    expect(starts('2024-01-15T00:00:00Z', '2024-03-02T00:00:00Z', '1mo')).toEqual([
      '2023-12-31T16:00:00.000Z',
      '2024-01-31T16:00:00.000Z',
      '2024-02-29T16:00:00.000Z',
    ])
    expect(starts('2024-02-15T00:00:00Z', '2024-08-01T00:00:00Z', '3mo', 'UTC')).toEqual([
      '2024-01-01T00:00:00.000Z',
      '2024-04-01T00:00:00.000Z',
      '2024-07-01T00:00:00.000Z',
    ])
    expect(starts('2024-06-01T00:00:00Z', '2025-06-01T00:00:00Z', '1y', 'Europe/Berlin')).toEqual(['2023-12-31T23:00:00.000Z', '2024-12-31T23:00:00.000Z'])
  })

  it('make DST days 23 and 25 hours long', () => {
    const days = starts('2024-03-09T12:00:00Z', '2024-03-11T12:00:00Z', '1d', 'America/New_York')
    expect(days).toEqual(['2024-03-09T05:00:00.000Z', '2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z'])
    const fall = windowStarts(utc('2024-11-02T12:00:00Z'), utc('2024-11-04T12:00:00Z'), '1d', 'America/New_York')
    expect(fall.slice(1).map((t, i) => (t - (fall[i] as number)) / 3_600_000)).toEqual([24, 25])
    const havana = windowStarts(utc('2024-03-09T12:00:00Z'), utc('2024-03-11T12:00:00Z'), '1d', 'America/Havana')
    expect(havana.map(iso)).toEqual(['2024-03-09T05:00:00.000Z', '2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z'])
  })

  it('give one window starting at `start` without `every`, and none for an empty range', () => {
    expect(starts('2024-05-01T00:00:07Z', '2024-05-03T00:00:00Z', undefined)).toEqual(['2024-05-01T00:00:07.000Z'])
    expect(starts('2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z', '1h')).toEqual([])
    expect(starts('2024-05-02T00:00:00Z', '2024-05-01T00:00:00Z', undefined)).toEqual([])
  })

  it('find the window of an instant', () => {
    expect(iso(windowStartOf(utc('2024-05-01T15:59:59.999Z'), '1d'))).toBe('2024-04-30T16:00:00.000Z')
    expect(iso(windowStartOf(utc('2024-05-01T16:00:00Z'), '1d'))).toBe('2024-05-01T16:00:00.000Z')
    expect(iso(windowStartOf(utc('2024-03-10T06:30:00Z'), '1h', 'America/New_York'))).toBe('2024-03-10T06:00:00.000Z')
  })

  it('reject unknown zones, non-day multiples of a day and bad durations', () => {
    expect(codeOf(() => windowRuns(0, 1, '1h', 'Mars/Olympus'))).toBe('STORAGE_ERR_QUERY')
    expect(codeOf(() => windowRuns(0, 1, '36h'))).toBe('STORAGE_ERR_QUERY')
    expect(codeOf(() => windowRuns(0, 1, '5 minutes'))).toBe('CORE_ERR_DURATION')
  })
})

describe('window runs', () => {
  it('merge a year of New York hours into one run, but split days at the two DST changes', () => {
    const start = utc('2024-01-01T00:00:00Z')
    const stop = utc('2025-01-01T00:00:00Z')
    expect(windowRuns(start, stop, '1h', 'America/New_York')).toEqual([{ origin: start, lengthMs: 3_600_000, count: 8784, from: start, to: stop }])
    const days = windowRuns(start, stop, '1d', 'America/New_York')
    expect(days.map((r) => [r.lengthMs / 3_600_000, r.count])).toEqual([
      [24, 70], // Dec 31 … Mar 9: 1 + 31 + 29 + 9
      [23, 1],
      [24, 237], // Mar 11 … Nov 2: 21 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 2
      [25, 1],
      [24, 58], // Nov 4 … Dec 31: 27 + 31
    ])
    expect(days[0]?.from).toBe(start)
    expect(days.at(-1)?.to).toBe(stop)
    for (let i = 1; i < days.length; i++) expect(days[i]?.origin).toBe((days[i - 1]?.origin ?? 0) + (days[i - 1]?.count ?? 0) * (days[i - 1]?.lengthMs ?? 0))
  })

  it('clip the first and last run to the range', () => {
    const runs = windowRuns(utc('2024-05-01T00:05:00Z'), utc('2024-05-01T00:50:00Z'), '15m')
    expect(runs).toEqual([
      { origin: utc('2024-05-01T00:00:00Z'), lengthMs: 900_000, count: 4, from: utc('2024-05-01T00:05:00Z'), to: utc('2024-05-01T00:50:00Z') },
    ])
  })
})
