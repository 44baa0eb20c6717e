import { describe, expect, it } from 'vitest'
import { planReads, type PlannablePoint } from './plan.ts'

const reg = (address: number, width = 2, fn: PlannablePoint['function'] = 'input'): PlannablePoint => ({ function: fn, address, width })
const shape = (requests: ReturnType<typeof planReads>) => requests.map((r) => [r.function, r.address, r.count, r.points.length])

describe('planReads', () => {
  it('merges the SDM630 map into four input-register reads with the default gap of 10', () => {
    const sdm = [0x00, 0x02, 0x04, 0x06, 0x08, 0x0a, 0x0c, 0x0e, 0x10, 0x1e, 0x20, 0x22, 0x34, 0x38, 0x3c, 0x3e, 0x46, 0x48, 0x4a, 0x156].map((a) => reg(a))
    // holes 0x12–0x1D (12 registers) and 0x24–0x33 (16) exceed the gap; 0x36–0x37 etc. do not
    expect(shape(planReads(sdm))).toEqual([
      ['input', 0x00, 0x12, 9],
      ['input', 0x1e, 6, 3],
      ['input', 0x34, 0x4c - 0x34, 7],
      ['input', 0x156, 2, 1],
    ])
  })

  it('honours the gap exactly: 10 unused registers merge, 11 do not', () => {
    expect(shape(planReads([reg(0), reg(12)]))).toEqual([['input', 0, 14, 2]])
    expect(shape(planReads([reg(0), reg(13)]))).toEqual([
      ['input', 0, 2, 1],
      ['input', 13, 2, 1],
    ])
    expect(shape(planReads([reg(0), reg(2)], { maxGapRegisters: 0 }))).toEqual([['input', 0, 4, 2]])
    expect(shape(planReads([reg(0), reg(3)], { maxGapRegisters: 0 }))).toEqual([
      ['input', 0, 2, 1],
      ['input', 3, 2, 1],
    ])
  })

  it('never exceeds 125 registers per read, and never splits a point', () => {
    const points = Array.from({ length: 100 }, (_, i) => reg(i * 2)) // 200 contiguous registers
    const requests = planReads(points)
    expect(shape(requests)).toEqual([
      ['input', 0, 124, 62],
      ['input', 124, 76, 38],
    ])
    for (const r of requests) expect(r.count).toBeLessThanOrEqual(125)
    expect(shape(planReads(points.slice(0, 10), { maxRegistersPerRead: 6 }))).toEqual([
      ['input', 0, 6, 3],
      ['input', 6, 6, 3],
      ['input', 12, 6, 3],
      ['input', 18, 2, 1],
    ])
    expect(() => planReads([reg(0, 4)], { maxRegistersPerRead: 3 })).toThrow(/spans 4 registers/)
    expect(() => planReads([reg(0)], { maxRegistersPerRead: 126 })).toThrow(/outside 1..125/)
  })

  it('keeps tables apart and limits bit reads to 2000', () => {
    const points = [
      reg(0, 1, 'holding'),
      reg(0, 1, 'input'),
      reg(1, 1, 'holding'),
      reg(5, 1, 'coil'),
      reg(1999, 1, 'coil'),
      reg(2005, 1, 'coil'),
      reg(7, 1, 'discrete'),
    ]
    expect(shape(planReads(points, { maxGapBits: 2000 }))).toEqual([
      ['coil', 5, 1995, 2],
      ['coil', 2005, 1, 1],
      ['discrete', 7, 1, 1],
      ['holding', 0, 2, 2],
      ['input', 0, 1, 1],
    ])
    expect(shape(planReads(points)).slice(0, 3)).toEqual([
      ['coil', 5, 1, 1],
      ['coil', 1999, 7, 2],
      ['discrete', 7, 1, 1],
    ])
  })

  it('returns nothing for no points', () => {
    expect(planReads([])).toEqual([])
  })
})
