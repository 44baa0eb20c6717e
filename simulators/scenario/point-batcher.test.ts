import { describe, expect, it } from 'vitest'
import type { TelemetryPoint } from '../../storage/store.ts'
import { PointBatcher } from './point-batcher.ts'

const point = (ts: number): TelemetryPoint => ({ measurement: 'telemetry', tags: { device: 'd' }, fields: { seq: ts }, ts })
const points = (from: number, n: number) => Array.from({ length: n }, (_, i) => point(from + i))

describe('PointBatcher', () => {
  it('writes one full batch per call, the rest on finish, and reports the points written', async () => {
    const writes: number[][] = []
    const progress: number[] = []
    const batcher = new PointBatcher({ write: async (batch) => void writes.push(batch.map((p) => p.ts)) }, 3, (n) => progress.push(n))
    batcher.add(points(0, 2))
    await batcher.writeFull()
    expect(writes).toEqual([])
    batcher.add(points(2, 5))
    await batcher.writeFull() // 7 waiting: one batch of 3, 4 stay
    expect(writes).toEqual([[0, 1, 2]])
    batcher.add(points(7, 1))
    await batcher.finish()
    expect(writes).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7],
    ])
    expect(progress).toEqual([3, 6, 8])
    expect(batcher.stats()).toEqual({ points: 8, batches: 3 })
    await batcher.finish()
    expect(batcher.stats()).toEqual({ points: 8, batches: 3 })
  })

  it('names the failed batch', async () => {
    const batcher = new PointBatcher(
      {
        write: async () => {
          throw new Error('disk full')
        },
      },
      2,
    )
    batcher.add([point(Date.UTC(2026, 0, 5))])
    await expect(batcher.finish()).rejects.toThrow(
      expect.objectContaining({ code: 'SIM_ERR_BACKFILL', message: 'backfill: writing 1 points at 2026-01-05T00:00:00.000Z failed: disk full' }),
    )
    expect(batcher.stats()).toEqual({ points: 0, batches: 0 })
  })
})
