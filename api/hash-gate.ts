import { apiError } from './errors.ts'

/** How much password-hash work the process does: at most `perS` starts per second, `atOnce` at a time. */
export interface HashGateSettings {
  perS: number
  atOnce: number
  /** Checks that may wait for their turn; more are refused at once. Default 2 × perS (about 2 s of queue). */
  maxWaiting?: number
}

/**
 * One gate for every scrypt check of the API (logins and scrypt API keys): a flood of guesses or random
 * keys queues behind it instead of taking every core, and past `maxWaiting` is refused at once with
 * API_ERR_RATE_LIMITED (429, retry in 1 s) rather than holding requests and memory without bound.
 */
export class HashGate {
  private running = 0
  /** Start times of the last second, oldest first (at most perS). */
  private readonly starts: number[] = []
  private readonly waiting: (() => void)[] = []
  private timer: NodeJS.Timeout | undefined
  private readonly maxWaiting: number
  /** Checks refused because too many were waiting. */
  shed = 0
  /** Checks run. */
  ran = 0

  constructor(
    private readonly settings: Readonly<HashGateSettings>,
    /** Real time: the budget is CPU per wall-clock second, whatever clock the API is given. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.maxWaiting = settings.maxWaiting ?? 2 * settings.perS
  }

  /** Runs `check` when its turn comes; throws API_ERR_RATE_LIMITED at once when the queue is full. */
  async run<T>(check: () => Promise<T>): Promise<T> {
    // First come, first served: while others wait, a newcomer waits too.
    if (this.waiting.length === 0 && this.mayStart()) this.reserve()
    else {
      if (this.waiting.length >= this.maxWaiting) {
        this.shed++
        throw apiError('API_ERR_RATE_LIMITED', `too many password checks at once (at most ${this.settings.perS} per s); retry in 1 second`, { retryAfterS: 1 })
      }
      // wake() reserves the slot before it resolves.
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve)
        this.wake()
      })
    }
    this.ran++
    try {
      return await check()
    } finally {
      this.running--
      this.wake()
    }
  }

  private reserve(): void {
    this.running++
    this.starts.push(this.now())
  }

  private mayStart(): boolean {
    const t = this.now()
    while (this.starts.length > 0 && t - (this.starts[0] as number) >= 1000) this.starts.shift()
    return this.running < this.settings.atOnce && this.starts.length < this.settings.perS
  }

  /** Lets waiters start while there is room; otherwise looks again when the oldest start leaves the second. */
  private wake(): void {
    while (this.waiting.length > 0 && this.mayStart()) {
      // Reserved now, so that one wake does not let more through than there is room for.
      this.reserve()
      const resolve = this.waiting.shift() as () => void
      resolve()
    }
    if (this.waiting.length > 0 && this.timer === undefined && this.running < this.settings.atOnce) {
      const oldest = this.starts[0] ?? this.now()
      this.timer = setTimeout(
        () => {
          this.timer = undefined
          this.wake()
        },
        Math.max(1, 1000 - (this.now() - oldest)),
      )
    }
  }
}
