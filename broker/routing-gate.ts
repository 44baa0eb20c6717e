/**
 * Bounds what waits in Aedes' emitter queue (mqemitter keeps every publish beyond `concurrency` in an
 * unbounded array while a subscriber does not drain). Past `maxQueued` a publish is held here; since
 * Aedes reads a publisher's next packets only after the current ones, the publishers' sockets — then
 * TCP — take the backlog. It also keeps mqemitter's synchronous drain of that queue (when a stuck
 * subscriber is cut) from overflowing the stack.
 */
export class RoutingGate {
  private readonly held: (() => void)[] = []
  private timer: NodeJS.Timeout | undefined

  /**
   * @param queued publishes waiting in Aedes' emitter now
   * @param onHeld called for each publish that has to wait
   */
  constructor(
    private readonly queued: () => number,
    private readonly maxQueued: number,
    private readonly onHeld: () => void,
  ) {}

  /** Runs `go` in a microtask now, or once the emitter has room (never synchronously: see authorize.ts). */
  pass(go: () => void): void {
    if (this.held.length === 0 && this.queued() < this.maxQueued) {
      queueMicrotask(go)
      return
    }
    this.held.push(go)
    this.onHeld()
    this.timer ??= setInterval(() => this.release(), 5)
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private release(): void {
    let room = this.maxQueued - this.queued()
    while (this.held.length > 0 && room-- > 0) queueMicrotask(this.held.shift() as () => void)
    if (this.held.length === 0) this.close()
  }
}
