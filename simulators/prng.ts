/**
 * Seeded randomness for the simulators. Everything random is a pure function of (seed, channel,
 * time), so the same seed gives the same values at the same instant whatever the update rate or the
 * order of calls — two runs, or two processes, agree.
 */

/** mulberry32: a small, fast 32-bit PRNG; returns a generator of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Mixes integers into one 32-bit seed (murmur3 finaliser per step) so nearby inputs decorrelate. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9
  for (const part of parts) {
    // Split so integers above 2^32 (e.g. epoch seconds × channel) keep their high bits.
    const lo = part >>> 0
    const hi = Math.floor(part / 4294967296) >>> 0
    for (const word of [lo, hi]) {
      h ^= word
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
      h ^= h >>> 16
    }
  }
  return h >>> 0
}

/** FNV-1a of a string: derives a per-device seed from an id. */
export function hashString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A uniform value in [-1, 1) fixed by (seed, channel, knot). */
function knotValue(seed: number, channel: number, knot: number): number {
  return mulberry32(mixSeed(seed, channel, knot))() * 2 - 1
}

/**
 * Smooth noise in [-1, 1]: seeded values at knots every `periodMs`, joined by a cosine ease so the
 * signal has no steps. A pure function of (seed, channel, t).
 */
export function valueNoise(seed: number, channel: number, t: number, periodMs: number): number {
  const x = t / periodMs
  const k = Math.floor(x)
  const f = x - k
  const w = (1 - Math.cos(Math.PI * f)) / 2
  const a = knotValue(seed, channel, k)
  const b = knotValue(seed, channel, k + 1)
  return a + (b - a) * w
}
