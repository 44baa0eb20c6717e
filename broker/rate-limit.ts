/**
 * A token bucket per connection that schedules instead of dropping: `delayMs()` says how long a
 * publish must wait for its token. The broker holds the publish that long, and since Aedes reads a
 * client's next packets only when the current ones are handled, TCP slows the publisher down: no
 * message is lost or refused, a replaying edge agent is merely paced.
 */
export class PublishThrottle {
  private tokens: number
  private last: number
  /** When the next publish past the bucket may go (ms, monotonic). */
  private nextAt = 0

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst
    this.last = this.now()
  }

  /** 0 when a token is there now; otherwise the wait in ms (each later caller queues behind). */
  delayMs(): number {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.ratePerS) / 1000)
    this.last = t
    if (this.tokens >= 1 && this.nextAt <= t) {
      this.tokens -= 1
      return 0
    }
    const interval = 1000 / this.ratePerS
    this.nextAt = Math.max(this.nextAt, t) + interval
    // The scheduled publish spends the token it waits for.
    this.tokens -= 1
    return this.nextAt - t
  }
}
