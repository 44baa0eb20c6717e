import { describe, expect, it } from 'vitest'
import { InFlightGate } from './in-flight.ts'

describe('InFlightGate', () => {
  it('lets mqtt.js read on below the bound, holds the last callback at it, and resumes once below again', () => {
    const gate = new InFlightGate(2)
    const resumed: number[] = []
    gate.take(() => resumed.push(1))
    gate.take(() => resumed.push(2))
    expect(resumed).toEqual([1])
    expect(gate.count).toBe(2)
    gate.settle(1)
    expect(resumed).toEqual([1, 2])
    gate.settle(1)
    expect(gate.count).toBe(0)
  })

  it('drops the held callback with the connection', () => {
    const gate = new InFlightGate(1)
    let resumed = false
    gate.take(() => (resumed = true))
    gate.drop()
    gate.settle(1)
    expect(resumed).toBe(false)
  })
})
