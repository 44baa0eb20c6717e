/**
 * Duplicate detection for the long layout, small in memory: per series a sorted run of timestamps
 * (a Float64Array that grows; rows usually come in time order) plus a Set for the few out of order.
 */
export class SeenTimes {
  private sorted = new Float64Array(64)
  private n = 0
  private extra: Set<number> | undefined

  /** Adds ts; false when it was already there. */
  add(ts: number): boolean {
    if (this.n === 0 || ts > (this.sorted[this.n - 1] as number)) {
      if (this.n === this.sorted.length) {
        const bigger = new Float64Array(this.sorted.length * 2)
        bigger.set(this.sorted)
        this.sorted = bigger
      }
      this.sorted[this.n++] = ts
      return true
    }
    let lo = 0
    let hi = this.n - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const v = this.sorted[mid] as number
      if (v === ts) return false
      if (v < ts) lo = mid + 1
      else hi = mid - 1
    }
    this.extra ??= new Set()
    if (this.extra.has(ts)) return false
    this.extra.add(ts)
    return true
  }
}
