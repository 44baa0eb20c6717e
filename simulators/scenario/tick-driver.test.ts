import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LinePlc } from './line-plcs.ts'
import type { ScenarioCounter } from './production-counter.ts'
import { counterTicks, startTickDriver } from './tick-driver.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('counterTicks', () => {
  it('ticks the PLCs by endpoint, then the counters no PLC serves', () => {
    const log: string[] = []
    const tick = (name: string) => () => {
      log.push(name)
      return { ts: 0, value: 0 }
    }
    const plc = (name: string, index: number) => ({ device: { tick: tick(name) }, index }) as unknown as LinePlc
    const counter = (name: string) => ({ tick: tick(name) }) as unknown as ScenarioCounter
    const ticks = counterTicks(
      new Map([
        ['a', [plc('plc2', 2)]],
        ['b', [plc('plc0', 0)]],
      ]),
      [counter('c0'), counter('c1'), counter('c2'), counter('c3')],
    )
    for (const t of ticks) t()
    expect(log).toEqual(['plc2', 'plc0', 'c1', 'c3'])
  })
})

describe('startTickDriver', () => {
  it('ticks in order on its timer until stopped, and on demand', async () => {
    vi.useFakeTimers()
    const log: number[] = []
    const driver = startTickDriver([() => log.push(1), () => log.push(2)], 100)
    vi.advanceTimersByTime(250)
    expect(log).toEqual([1, 2, 1, 2])
    driver.tick()
    expect(log).toHaveLength(6)
    await driver.stop()
    vi.advanceTimersByTime(1000)
    expect(log).toHaveLength(6)
  })

  it('has no timer with an interval of 0', () => {
    vi.useFakeTimers()
    let n = 0
    const driver = startTickDriver([() => n++], 0)
    expect(vi.getTimerCount()).toBe(0)
    driver.tick()
    expect(n).toBe(1)
  })
})
