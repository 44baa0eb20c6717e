import { describe, expect, it } from 'vitest'
import { SampleSlab } from './sample-slab.ts'

describe('SampleSlab', () => {
  it('hands out consecutive ranges of one slab, and a new slab (never the old one again) when full', () => {
    const slab = new SampleSlab(16)
    const a = slab.reserve(8)
    expect(slab.offset).toBe(0)
    a.fill(1, 0, 6)
    slab.commit(6)
    expect(slab.reserve(8)).toBe(a)
    expect(slab.offset).toBe(6)
    slab.commit(12)
    const b = slab.reserve(8)
    expect(b).not.toBe(a)
    expect(slab.offset).toBe(0)
    expect(Array.from(a.subarray(0, 6))).toEqual([1, 1, 1, 1, 1, 1])
    // Larger than a slab: a slab of that size.
    expect(slab.reserve(100).length).toBe(100)
  })
})
