/**
 * Backpressure: counts messages taken and not yet settled (written and acknowledged, or given up);
 * at `max` it holds the mqtt.js callback of the last one, so mqtt.js stops reading and TCP, then the
 * broker, hold the rest.
 */
export class InFlightGate {
  count = 0
  private held: (() => void) | undefined

  constructor(private readonly max: number) {}

  /** One more message taken: `resume` lets mqtt.js read on, now or once there is room. */
  take(resume: () => void): void {
    this.count++
    if (this.count >= this.max) this.held = resume
    else resume()
  }

  /** `n` messages settled: reading resumes once below the bound. */
  settle(n: number): void {
    this.count -= n
    if (this.held && this.count < this.max) {
      const resume = this.held
      this.held = undefined
      resume()
    }
  }

  /** The connection is gone, and with it the packet pump the held callback would resume. */
  drop(): void {
    this.held = undefined
  }
}
