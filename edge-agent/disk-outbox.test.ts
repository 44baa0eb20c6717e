import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isPlantWattError } from '../core/errors.ts'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { createDiskOutbox } from './disk-outbox.ts'
import { describeOutboxContract } from './outbox.contract.ts'
import { deviceKey } from './outbox.ts'

const root = mkdtempSync(join(tmpdir(), 'pw-outbox-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshDir = () => join(root, `box-${n++}`)

describeOutboxContract('disk (sqlite)', ({ maxSamples }) => createDiskOutbox({ dir: freshDir(), maxSamples }))

const A: DeviceAddress = { enterprise: 'e', site: 's', line: 'l', device: 'a' }
const B: DeviceAddress = { enterprise: 'e', site: 's', line: 'l', device: 'b' }
const T0 = 1_764_385_200_000
const sample = (i: number): Sample => ({ ts: T0 + i, values: { active_power_kw: i }, ...(i % 3 === 0 ? { quality: { power_factor: 'bad' as const } } : {}) })

describe('disk outbox: durability', () => {
  it('keeps pending samples, seq and drop counts across a reopen; an un-acked batch comes back with the same seq', async () => {
    const dir = freshDir()
    const box = createDiskOutbox({ dir, maxSamples: 5 })
    for (let i = 0; i < 4; i++) box.push(A, sample(i))
    const first = box.take(2)!
    box.ack(first) // A seq 0 delivered: 0, 1
    box.push(B, sample(10))
    box.push(A, sample(4))
    box.push(A, sample(5))
    box.push(A, sample(6)) // full (5 held): drops A's 2
    const inFlight = box.take(2)! // A: 3, 4 with seq 1, never acked
    expect(inFlight.seq).toBe(1)
    await box.close()

    const again = createDiskOutbox({ dir, maxSamples: 5 })
    expect(again.depth()).toBe(5)
    expect(again.depth(deviceKey(A))).toBe(4)
    expect(again.dropped(deviceKey(A))).toBe(1)
    const replay = again.take(10)!
    expect(replay.key).toBe('e/s/l/a')
    expect(replay.seq).toBe(1)
    expect(replay.samples).toEqual([sample(3), sample(4), sample(5), sample(6)])
    again.ack(replay)
    const b = again.take(10)!
    expect([b.key, b.seq, b.samples]).toEqual(['e/s/l/b', 0, [sample(10)]])
    again.ack(b)
    again.push(A, sample(7))
    expect(again.take(10)?.seq).toBe(2)
    await again.close()
  })

  it('refuses a second agent on the same buffer with EDGE_ERR_BUFFER_LOCKED', async () => {
    const dir = freshDir()
    const box = createDiskOutbox({ dir, maxSamples: 10 })
    box.push(A, sample(0))
    let code = ''
    try {
      createDiskOutbox({ dir, maxSamples: 10 })
    } catch (err) {
      code = isPlantWattError(err) ? err.code : String(err)
    }
    expect(code).toBe('EDGE_ERR_BUFFER_LOCKED')
    await box.close()
    const reopened = createDiskOutbox({ dir, maxSamples: 10 })
    expect(reopened.depth()).toBe(1)
    await reopened.close()
  })

  it('throughput: push, then take and ack in batches of 100 (figures printed)', async () => {
    for (const sync of ['normal', 'full'] as const) {
      const box = createDiskOutbox({ dir: freshDir(), maxSamples: 1_000_000, sync })
      const count = sync === 'full' ? 2000 : 20_000
      const s = { ts: T0, values: { active_power_kw: 412.5, energy_import_kwh: 1834021.7, voltage_l1_v: 230.1, current_l1_a: 10.5 } }
      const t0 = performance.now()
      // 20 samples per event-loop turn (20 devices polled together), each turn one commit
      for (let i = 0; i < count; i++) {
        box.push(i % 2 ? A : B, { ...s, ts: T0 + i })
        if (i % 20 === 19) await new Promise((r) => setImmediate(r))
      }
      await new Promise((r) => setImmediate(r))
      const t1 = performance.now()
      let drained = 0
      for (let batch = box.take(100); batch; batch = box.take(100)) {
        drained += batch.samples.length
        box.ack(batch)
      }
      const t2 = performance.now()
      expect(drained).toBe(count)
      expect(box.depth()).toBe(0)
      const pushRate = Math.round(count / ((t1 - t0) / 1000))
      const drainRate = Math.round(count / ((t2 - t1) / 1000))
      console.log(`disk outbox sync=${sync}: push ${pushRate} samples/s, take+ack ${drainRate} samples/s`)
      expect(pushRate).toBeGreaterThan(sync === 'full' ? 50 : 5000)
      await box.close()
    }
  })
})
