import { describe, expect, it } from 'vitest'
import { historyGrid, HistoryStepper } from './history-stepper.ts'

const recorder = () => {
  const at: number[] = []
  return { at, update: (t: number) => void at.push(t) }
}

describe('historyGrid', () => {
  it('cuts each sample period into integration steps, none past stop', () => {
    expect([...historyGrid({ start: 0, stop: 250, stepMs: 100, subSteps: 4, dtMs: 25 })].map((s) => [s.t, s.k, s.ts])).toEqual([
      [0, 0, 0],
      [0, 1, 25],
      [0, 2, 50],
      [0, 3, 75],
      [100, 0, 100],
      [100, 1, 125],
      [100, 2, 150],
      [100, 3, 175],
      [200, 0, 200],
      [200, 1, 225],
      [200, 2, 250],
    ])
    expect([...historyGrid({ start: 0, stop: 0, stepMs: 100, subSteps: 4, dtMs: 25 })]).toEqual([])
  })
})

describe('HistoryStepper', () => {
  it('updates once at the first instant, then every dt; a late step fills the gap', () => {
    const a = recorder()
    const b = recorder()
    const stepper = new HistoryStepper([a, b], 10)
    expect(stepper.lastUpdate).toBe(Number.NEGATIVE_INFINITY)
    stepper.stepTo(100)
    stepper.stepTo(110)
    stepper.stepTo(140)
    expect(a.at).toEqual([100, 110, 120, 130, 140])
    expect(b.at).toEqual(a.at)
    expect(stepper.lastUpdate).toBe(140)
  })

  it('crosses a long gap in at most 5000 steps, and finishes at stop unless there already', () => {
    const a = recorder()
    const stepper = new HistoryStepper([a], 10)
    stepper.advanceTo(0)
    stepper.advanceTo(1_000_000)
    expect(a.at).toHaveLength(1 + 5000)
    expect(a.at.slice(0, 3)).toEqual([0, 200, 400])
    expect(a.at.at(-1)).toBe(1_000_000)
    stepper.finish(1_000_000)
    expect(a.at).toHaveLength(5001)
    stepper.finish(1_000_015)
    expect(a.at.slice(-2)).toEqual([1_000_010, 1_000_015])
  })
})
