import { describe, expect, it } from 'vitest'
import { silentLogger } from '../core/logger.ts'
import { scanSamples, type SamplesResult } from '../core/payload-scan.ts'
import type { SampleBlock, TelemetryPoint, TelemetryStore, WriteConflict } from '../storage/store.ts'
import { BatchWriter, type Pending } from './batch-writer.ts'
import { createDeadLetterLog } from './dead-letter.ts'
import { DeadLetterSink } from './dead-letter-sink.ts'

const T0 = Date.UTC(2025, 0, 6)
const TAGS = { enterprise: 'e', site: 's', line: 'l', device: 'm1' }
const CONFIG = { batchSize: 4, flushIntervalMs: 20, retry: { initialMs: 5, maxMs: 10 } }

/** A store that records its calls; fails the next `failures` calls; writeKeepFirst when given conflicts to report. */
function fakeStore(opts: { keepFirst?: (points: readonly TelemetryPoint[]) => WriteConflict[] } = {}) {
  const calls: string[] = []
  const state = { failures: 0 }
  const attempt = (what: string): void => {
    calls.push(what)
    if (state.failures > 0) {
      state.failures--
      throw new Error('store down (test)')
    }
  }
  const store: TelemetryStore = {
    backend: 'fake',
    async write(points) {
      attempt(`points ${points.length}`)
    },
    async writeBlocks(blocks: readonly SampleBlock[]) {
      attempt(`blocks ${blocks.map((b) => b.samples).join('+')}`)
    },
    ...(opts.keepFirst
      ? {
          async writeKeepFirst(points: readonly TelemetryPoint[]) {
            attempt(`keepFirst ${points.length}`)
            return opts.keepFirst?.(points) ?? []
          },
        }
      : {}),
    aggregate: async () => [],
    raw: async () => [],
    latest: async () => [],
    ping: async () => undefined,
    close: async () => undefined,
  }
  return { store, calls, state }
}

let messageId = 0
function pending(points: number, blockSamples = 0): Pending {
  const pts: TelemetryPoint[] = Array.from({ length: points }, (_, i) => ({ measurement: 'telemetry', tags: TAGS, fields: { gas_m3: i, seq: 1 }, ts: T0 + i }))
  let block: SampleBlock | undefined
  if (blockSamples > 0) {
    const json = Buffer.from(JSON.stringify({ seq: 1, samples: Array.from({ length: blockSamples }, (_, i) => ({ ts: T0 + i, values: { gas_m3: i } })) }))
    const slots = new Float64Array(blockSamples * 4)
    const r: SamplesResult = { seq: 0, end: 0, samples: 0 }
    scanSamples(json, slots, 0, r)
    block = { measurement: 'telemetry', tags: TAGS, json, seq: 1, slots, from: 0, samples: r.samples }
  }
  return {
    messageId: ++messageId,
    connection: 1,
    points: pts,
    block,
    samples: points + blockSamples,
    rows: points + blockSamples,
    receivedAt: Date.now(),
    topic: 'pw/v1/e/s/l/m1/data',
  }
}

function writer(store: TelemetryStore) {
  const written: number[][] = []
  const settled: number[] = []
  const sink = new DeadLetterSink(createDeadLetterLog({ memory: 10 }), silentLogger())
  const w = new BatchWriter({
    config: CONFIG,
    store,
    sink,
    logger: silentLogger(),
    written: (b) => written.push(b.map((e) => e.messageId as number)),
    settled: (n) => settled.push(n),
  })
  return { w, written, settled, sink }
}

describe('BatchWriter', () => {
  it('writes whole messages up to batchSize rows, points then blocks, and hands on each batch in arrival order', async () => {
    const { store, calls } = fakeStore()
    const { w, written, settled } = writer(store)
    const first = messageId + 1
    for (const p of [pending(2), pending(0, 2), pending(1, 1), pending(3)]) w.add(p)
    await w.flush()
    expect(calls).toEqual(['points 2', 'blocks 2', 'points 1', 'blocks 1', 'points 3'])
    expect(written).toEqual([[first, first + 1], [first + 2], [first + 3]])
    expect(settled).toEqual([2, 1, 1])
    expect(w.stats()).toMatchObject({ writtenMessages: 4, writtenSamples: 9, writtenPoints: 9, retried: 0, conflicts: 0, lagMs: 0 })
  })

  it('hands on messages with nothing to write at once, and waits flushIntervalMs for a batch that is not full', async () => {
    const { store, calls } = fakeStore()
    const { w, written } = writer(store)
    w.add(pending(0))
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(written).toHaveLength(1)
    w.add(pending(1))
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(calls).toEqual([])
    expect(w.stats().lagMs).toBeGreaterThanOrEqual(0)
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(calls).toEqual(['points 1'])
    expect(w.stats().writtenMessages).toBe(1)
  })

  it('retries a failed batch until it is written, and gives up (unacknowledged) when closed', async () => {
    const { store, calls, state } = fakeStore()
    const { w, written, settled } = writer(store)
    state.failures = 2
    w.add(pending(2))
    await w.flush()
    expect(calls).toEqual(['points 2', 'points 2', 'points 2'])
    expect(w.stats().retried).toBe(2)
    expect(written).toHaveLength(1)
    state.failures = 1_000
    w.add(pending(1))
    await new Promise((resolve) => setTimeout(resolve, 30))
    await w.close()
    expect(written).toHaveLength(1)
    expect(settled).toEqual([1, 1])
  })

  it('sets aside the samples a keep-first store reports: dead letters, not counted as written', async () => {
    const { store } = fakeStore({ keepFirst: (points) => [{ point: points.length - 1, field: 'gas_m3', ts: T0 + points.length - 1, stored: 42, refused: 0 }] })
    const { w, sink } = writer(store)
    w.add(pending(3))
    await w.flush()
    expect(w.stats()).toMatchObject({ writtenMessages: 1, writtenSamples: 2, writtenPoints: 3, conflicts: 1 })
    expect(sink.stats()).toEqual({ INGEST_ERR_SAMPLE_CONFLICT: 1 })
    expect(sink.log.list()[0]?.message).toContain('device e/s/l/m1')
  })
})
