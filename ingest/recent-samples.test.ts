import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../simulators/prng.ts'
import { CONFLICT, fieldsHash, NEW_OR_SAME, RecentSamples } from './recent-samples.ts'

const T0 = 1_764_385_200_000

/** Checks `values` (JSON text of a values object) as the decoded path does: fingerprint of the text. */
function check(w: RecentSamples, device: number, ts: number, values: string): number {
  const b = Buffer.from(values, 'latin1')
  return w.check(device, ts, fieldsHash(b, 0, b.length), b, 0, b.length)
}

describe('RecentSamples', () => {
  it('a re-delivery, and the same numbers written otherwise (402 and 402.00), are no conflict', () => {
    const w = new RecentSamples(100)
    const d = w.device('e/s/l/m1')
    expect(check(w, d, T0, '{"active_power_kw":402,"gas_m3":1.5}')).toBe(NEW_OR_SAME)
    expect(check(w, d, T0, '{"active_power_kw":402,"gas_m3":1.5}')).toBe(NEW_OR_SAME)
    expect(check(w, d, T0, '{ "active_power_kw": 402.00, "gas_m3": 1.50 }')).toBe(NEW_OR_SAME)
    expect(w.size).toBe(1)
  })

  it('a differing field is a conflict, the first value kept; new fields are added, and merged into what is remembered', () => {
    const w = new RecentSamples(100)
    const d = w.device('e/s/l/m1')
    expect(check(w, d, T0, '{"active_power_kw":402}')).toBe(NEW_OR_SAME)
    expect(check(w, d, T0, '{"active_power_kw":403,"gas_m3":7}')).toBe(CONFLICT)
    expect(w.conflict).toEqual({
      values: { active_power_kw: 403, gas_m3: 7 },
      fields: [{ field: 'active_power_kw', stored: 402, refused: 403 }],
      added: { gas_m3: 7 },
      addedCount: 1,
    })
    // The same conflicting sample again: still the first value, and gas_m3 is now known.
    expect(check(w, d, T0, '{"active_power_kw":403,"gas_m3":7}')).toBe(CONFLICT)
    expect(w.conflict.addedCount).toBe(0)
    expect(check(w, d, T0, '{"gas_m3":8}')).toBe(CONFLICT)
    expect(w.conflict.fields).toEqual([{ field: 'gas_m3', stored: 7, refused: 8 }])
    // Only a new field: no conflict.
    expect(check(w, d, T0, '{"frequency_hz":50}')).toBe(NEW_OR_SAME)
    expect(w.size).toBe(1)
  })

  it('keeps devices and timestamps apart', () => {
    const w = new RecentSamples(100)
    const [a, b] = [w.device('e/s/l/a'), w.device('e/s/l/b')]
    expect(a).not.toBe(b)
    expect(w.device('e/s/l/a')).toBe(a)
    expect(check(w, a, T0, '{"gas_m3":1}')).toBe(NEW_OR_SAME)
    expect(check(w, b, T0, '{"gas_m3":2}')).toBe(NEW_OR_SAME)
    expect(check(w, a, T0 + 1, '{"gas_m3":3}')).toBe(NEW_OR_SAME)
    // ts that differ only in their high 32 bits.
    expect(check(w, a, T0 + 2 ** 32, '{"gas_m3":4}')).toBe(NEW_OR_SAME)
    expect(check(w, a, T0, '{"gas_m3":9}')).toBe(CONFLICT)
  })

  it('forgets first in, first out: a conflict older than capacity samples is not seen', () => {
    const w = new RecentSamples(10)
    const d = w.device('e/s/l/m1')
    for (let i = 0; i <= 10; i++) expect(check(w, d, T0 + i, '{"gas_m3":1}')).toBe(NEW_OR_SAME)
    expect(w.size).toBe(10)
    expect(check(w, d, T0, '{"gas_m3":2}')).toBe(NEW_OR_SAME) // forgotten: overwrites unseen
    expect(check(w, d, T0 + 2, '{"gas_m3":2}')).toBe(CONFLICT) // still remembered
  })

  it('answers as a plain map with first-in-first-out eviction does, under churn (deletions inside probe chains)', () => {
    const capacity = 1000
    const w = new RecentSamples(capacity)
    // The reference: a queue of entries (a merge kills the old one and appends the merged one) and a map to the live one.
    const queue: { key: string; alive: boolean }[] = []
    const live = new Map<string, { entry: { key: string; alive: boolean }; values: Record<string, number> }>()
    const rand = mulberry32(7)
    const devices = Array.from({ length: 40 }, (_, i) => w.device(`e/s/l/d${i}`))
    let conflicts = 0
    for (let n = 0; n < 50_000; n++) {
      const device = devices[Math.floor(rand() * devices.length)] as number
      const ts = T0 + Math.floor(rand() * 200) * 1000
      const values: Record<string, number> = { active_power_kw: Math.floor(rand() * 3) }
      if (rand() < 0.3) values.gas_m3 = Math.floor(rand() * 2)
      const key = `${device}/${ts}`
      const known = live.get(key)
      let want = NEW_OR_SAME
      const push = (v: Record<string, number>): void => {
        if (queue.length === capacity) {
          const old = queue.shift() as { key: string; alive: boolean }
          if (old.alive) live.delete(old.key)
        }
        const entry = { key, alive: true }
        queue.push(entry)
        live.set(key, { entry, values: v })
      }
      if (known === undefined) push(values)
      else {
        const differs = Object.entries(values).some(([k, v]) => known.values[k] !== undefined && known.values[k] !== v)
        const added = Object.keys(values).filter((k) => known.values[k] === undefined)
        if (differs) want = CONFLICT
        if (added.length > 0) {
          known.entry.alive = false
          push({ ...known.values, ...Object.fromEntries(added.map((k) => [k, values[k] as number])) })
        }
      }
      const got = check(w, device, ts, JSON.stringify(values))
      if (got !== want) throw new Error(`sample ${n} (${key} ${JSON.stringify(values)}): got ${got}, want ${want}`)
      if (got === CONFLICT) conflicts++
    }
    expect(conflicts).toBeGreaterThan(1000)
    expect(w.size).toBe(live.size)
  })

  it('bounds the text it keeps: long texts push out old samples instead of growing', () => {
    const w = new RecentSamples(10) // 10 × 128 bytes of text
    const d = w.device('e/s/l/m1')
    const long = `{${Array.from({ length: 20 }, (_, i) => `"q${i}":${i}`).join(',')}}` // ≈ 150 bytes
    for (let i = 0; i < 30; i++) expect(check(w, d, T0 + i, long)).toBe(NEW_OR_SAME)
    expect(w.size).toBeLessThanOrEqual(Math.floor(1280 / long.length))
    expect(check(w, d, T0 + 29, long.replace('"q0":0', '"q0":5'))).toBe(CONFLICT)
    // A text longer than the whole ring is not remembered.
    expect(check(w, d, T0 + 100, `{"x":"${'y'.repeat(2000)}"}`)).toBe(NEW_OR_SAME)
  })
})
