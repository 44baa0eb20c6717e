import { describe, expect, it } from 'vitest'
import type { Sample } from '../core/payload.ts'
import type { DeviceAddress } from '../core/topic.ts'
import { deviceKey, type Outbox } from './outbox.ts'

const A: DeviceAddress = { enterprise: 'e', site: 's', line: 'l', device: 'a' }
const B: DeviceAddress = { enterprise: 'e', site: 's', line: 'l', device: 'b' }
const T0 = 1_764_385_200_000
const sample = (i: number): Sample => ({ ts: T0 + i, values: { active_power_kw: i } })
const tsOf = (samples: readonly Sample[]) => samples.map((s) => s.ts - T0)

/**
 * The behaviour every Outbox implementation must have (memory now, disk later). `create` returns
 * a fresh, empty outbox holding at most `maxSamples`.
 */
export function describeOutboxContract(name: string, create: (opts: { maxSamples: number }) => Outbox | Promise<Outbox>): void {
  describe(`Outbox contract: ${name}`, () => {
    it('hands out samples oldest first, at most max per batch, and numbers messages from 0 by one', async () => {
      const box = await create({ maxSamples: 100 })
      for (let i = 0; i < 5; i++) box.push(A, sample(i))
      expect(box.depth()).toBe(5)
      const first = box.take(2)
      expect(first).toMatchObject({ key: 'e/s/l/a', address: A, seq: 0 })
      expect(tsOf(first!.samples)).toEqual([0, 1])
      expect(box.take(2)).toBeUndefined() // one batch per device in flight
      expect(box.depth()).toBe(5) // in flight still counts until acked
      box.ack(first!)
      expect(box.depth()).toBe(3)
      const second = box.take(10)
      expect(second?.seq).toBe(1)
      expect(tsOf(second!.samples)).toEqual([2, 3, 4])
      box.ack(second!)
      expect(box.take(10)).toBeUndefined()
      expect(box.depth()).toBe(0)
      expect(box.nextSeq(deviceKey(A))).toBe(2)
      expect(box.nextSeq(deviceKey(B))).toBe(0)
      box.push(A, sample(5))
      expect(box.take(10)?.seq).toBe(2)
      await box.close()
    })

    it('passes over devices with fewer than min samples pending (the batching window)', async () => {
      const box = await create({ maxSamples: 100 })
      box.push(B, sample(0))
      for (let i = 1; i <= 3; i++) box.push(A, sample(i))
      // B's sample is the oldest, but B has 1 pending: with min 2 only A qualifies.
      const a = box.take(10, 2)
      expect(a?.key).toBe('e/s/l/a')
      expect(tsOf(a!.samples)).toEqual([1, 2, 3])
      expect(box.take(10, 2)).toBeUndefined()
      expect(tsOf(box.take(10, 1)!.samples)).toEqual([0])
      await box.close()
    })

    it('keeps seq and order when a batch is released, and puts later samples behind it', async () => {
      const box = await create({ maxSamples: 100 })
      box.push(A, sample(0))
      box.push(A, sample(1))
      const batch = box.take(10)!
      box.push(A, sample(2))
      box.release(batch)
      const again = box.take(10)!
      expect(again.seq).toBe(batch.seq)
      expect(tsOf(again.samples)).toEqual([0, 1, 2])
      box.ack(again)
      expect(box.depth()).toBe(0)
      expect(() => box.ack(again)).toThrow(/not in flight/)
      await box.close()
    })

    it('serves devices independently, the oldest pending sample first, with a seq per device', async () => {
      const box = await create({ maxSamples: 100 })
      box.push(B, sample(0))
      box.push(A, sample(1))
      box.push(B, sample(2))
      const b = box.take(1)!
      expect([b.key, b.seq, tsOf(b.samples)]).toEqual(['e/s/l/b', 0, [0]])
      const a = box.take(5)!
      expect([a.key, a.seq, tsOf(a.samples)]).toEqual(['e/s/l/a', 0, [1]])
      expect(box.take(5)).toBeUndefined()
      box.ack(b)
      const b2 = box.take(5)!
      expect([b2.key, b2.seq, tsOf(b2.samples)]).toEqual(['e/s/l/b', 1, [2]])
      expect(box.depth(deviceKey(A))).toBe(1)
      expect(box.depth(deviceKey(B))).toBe(1)
      await box.close()
    })

    it('when full drops the oldest pending samples, never those in flight, and counts drops per device', async () => {
      const box = await create({ maxSamples: 4 })
      box.push(A, sample(0))
      box.push(A, sample(1))
      const inFlight = box.take(1)! // sample 0
      box.push(B, sample(2))
      box.push(A, sample(3))
      box.push(B, sample(4)) // full: drops A's 1 (oldest pending)
      box.push(B, sample(5)) // drops B's 2
      expect(box.depth()).toBe(4)
      expect(box.dropped()).toBe(2)
      expect(box.dropped(deviceKey(A))).toBe(1)
      expect(box.dropped(deviceKey(B))).toBe(1)
      box.ack(inFlight)
      const a = box.take(10)!
      expect(tsOf(a.samples)).toEqual([3])
      expect(a.seq).toBe(1)
      const b = box.take(10)!
      expect(tsOf(b.samples)).toEqual([4, 5])
      expect(b.seq).toBe(0)
      await box.close()
    })

    it('holds a large backlog and drains it in order', async () => {
      const box = await create({ maxSamples: 50_000 })
      for (let i = 0; i < 60_000; i++) box.push(A, sample(i))
      expect(box.depth()).toBe(50_000)
      expect(box.dropped()).toBe(10_000)
      const seen: number[] = []
      for (let batch = box.take(1000); batch; batch = box.take(1000)) {
        seen.push(...tsOf(batch.samples))
        box.ack(batch)
      }
      expect(seen).toHaveLength(50_000)
      expect(seen[0]).toBe(10_000)
      expect(seen.every((v, i) => v === 10_000 + i)).toBe(true)
      await box.close()
    })
  })
}
