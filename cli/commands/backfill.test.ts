import { describe, expect, it } from 'vitest'
import { backfillSettings } from './backfill.ts'

describe('plantwatt backfill', () => {
  it('takes days, seconds between samples and the field set, and names a bad one', () => {
    expect(backfillSettings({ days: '30', step: '60', fields: 'core' })).toEqual({ days: 30, stepS: 60, fields: 'core' })
    expect(() => backfillSettings({ days: '0', step: '60', fields: 'core' })).toThrow('--days must be between 0 and 3660, got 0')
    expect(() => backfillSettings({ days: '1', step: '0.5', fields: 'core' })).toThrow('--step must be 1–86400 seconds, got 0.5')
    expect(() => backfillSettings({ days: '1', step: '60', fields: 'some' })).toThrow('--fields must be core or all, got some')
  })
})
