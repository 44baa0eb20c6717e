import { describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import { badTimestamp, checkImportTimeZone, readRowTime } from './timestamp.ts'

/** 2025-11-29 00:00 in Shanghai (UTC+8). */
const D0 = Date.UTC(2025, 10, 28, 16)
const AUTO = { timestampFormat: 'auto', dateOrder: 'dmy' } as const

describe('readRowTime', () => {
  it('places wall times in the zone and keeps instants as written', () => {
    expect(readRowTime('29/11/2025 00:00', 'Asia/Shanghai', AUTO)).toEqual({ parsed: { kind: 'wall', naive: Date.UTC(2025, 10, 29) }, ts: D0 })
    expect(readRowTime('2025-11-28T16:00:00Z', 'Asia/Shanghai', AUTO)).toEqual({ parsed: { kind: 'instant', ts: D0 }, ts: D0 })
    expect(readRowTime('1764345600', 'UTC', { timestampFormat: 'epoch-s', dateOrder: 'dmy' })?.ts).toBe(D0)
  })

  it('refuses text that is no timestamp and instants outside 2000…2100', () => {
    expect(readRowTime('yesterday', 'UTC', AUTO)).toBeUndefined()
    expect(readRowTime('1999-12-31T23:59:59Z', 'UTC', AUTO)).toBeUndefined()
    expect(readRowTime('2100-01-02T00:00:00Z', 'UTC', AUTO)).toBeUndefined()
  })
})

describe('badTimestamp', () => {
  it('says which formats were expected', () => {
    expect(badTimestamp('time', 'x', AUTO)).toEqual({
      column: 'time',
      code: 'IMPORT_ERR_TIMESTAMP',
      message: '"x" is not a timestamp (ISO 8601 or dd/mm/yyyy HH:MM) between 2000 and 2100',
    })
    expect(badTimestamp('time', 'x', { timestampFormat: 'auto', dateOrder: 'mdy' }).message).toBe(
      '"x" is not a timestamp (ISO 8601 or mm/dd/yyyy HH:MM) between 2000 and 2100',
    )
    expect(badTimestamp('time', 'x', { timestampFormat: 'epoch-ms', dateOrder: 'dmy' }).message).toBe('"x" is not a timestamp (epoch-ms) between 2000 and 2100')
  })
})

describe('checkImportTimeZone', () => {
  it('accepts no zone and IANA zones, refuses anything else as IMPORT_ERR_OPTIONS', () => {
    expect(() => checkImportTimeZone(undefined)).not.toThrow()
    expect(() => checkImportTimeZone('Europe/Berlin')).not.toThrow()
    expect(() => checkImportTimeZone('Mars/Olympus')).toThrow(
      expect.toSatisfy((e: unknown) => isPlantWattError(e, 'IMPORT_ERR_OPTIONS') && e.message === 'timezone "Mars/Olympus" is not an IANA time zone'),
    )
  })
})
