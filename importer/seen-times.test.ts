import { describe, expect, it } from 'vitest'
import { SeenTimes } from './seen-times.ts'

describe('SeenTimes', () => {
  it('adds each instant once, in order, out of order and past its first capacity', () => {
    const seen = new SeenTimes()
    for (let ts = 0; ts < 200; ts++) expect(seen.add(ts * 1000)).toBe(true)
    expect(seen.add(0)).toBe(false)
    expect(seen.add(199_000)).toBe(false)
    expect(seen.add(100_500)).toBe(true)
    expect(seen.add(100_500)).toBe(false)
    expect(seen.add(-5)).toBe(true)
    expect(seen.add(-5)).toBe(false)
    expect(seen.add(200_000)).toBe(true)
  })
})
