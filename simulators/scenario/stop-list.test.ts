import { describe, expect, it } from 'vitest'
import { StopList } from './stop-list.ts'

describe('StopList', () => {
  it('runs every stop at the same time, once', async () => {
    const log: string[] = []
    const stops = new StopList()
    let release = (): void => {}
    const gate = new Promise<void>((r) => (release = r))
    stops.add(async () => {
      log.push('a start')
      await gate
      log.push('a end')
    })
    stops.add(async () => {
      log.push('b')
    })
    const closing = stops.close()
    // b ran while a was still waiting: the stops do not wait for one another.
    expect(log).toEqual(['a start', 'b'])
    release()
    await closing
    expect(log).toEqual(['a start', 'b', 'a end'])
    await stops.close()
    expect(log).toHaveLength(3)
  })

  it('runs stops added after a close on the next close', async () => {
    const stops = new StopList()
    let n = 0
    await stops.close()
    stops.add(async () => {
      n++
    })
    await stops.close()
    expect(n).toBe(1)
  })
})
