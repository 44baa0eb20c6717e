import { describe, expect, it } from 'vitest'
import { createProgress } from './progress.ts'

function sink(isTTY: boolean) {
  const out: string[] = []
  return { out, stream: { isTTY, write: (t: string) => out.push(t) } }
}

describe('createProgress', () => {
  it('redraws one line with carriage returns on a terminal', () => {
    const { out, stream } = sink(true)
    const p = createProgress(stream)
    p.update('a 1')
    p.update('a 2')
    p.done()
    expect(out).toEqual(['\ra 1', '\ra 2', '\ra 2\n'])
  })

  it('prints plain lines, throttled, and the final state once when stdout is not a terminal', () => {
    const { out, stream } = sink(false)
    let t = 0
    const p = createProgress(stream, { everyMs: 1000, now: () => t })
    p.update('n 1') // printed: the first
    t = 500
    p.update('n 2') // within 1 s: not printed
    t = 1000
    p.update('n 3') // printed
    t = 1200
    p.update('n 4')
    p.done()
    expect(out).toEqual(['n 1\n', 'n 3\n', 'n 4\n'])
    expect(out.join('')).not.toContain('\r')
  })

  it('does not repeat the final line when it was the last one printed', () => {
    const { out, stream } = sink(false)
    const p = createProgress(stream, { now: () => 0 })
    p.update('only')
    p.done()
    expect(out).toEqual(['only\n'])
  })
})
