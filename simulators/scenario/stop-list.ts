/** What a running scenario has to stop on close: every stop runs once, all at the same time. */
export class StopList {
  readonly #stops: (() => Promise<void>)[] = []

  add(stop: () => Promise<void>): void {
    this.#stops.push(stop)
  }

  /** Runs every stop added so far and forgets them, so a second close stops nothing twice. */
  async close(): Promise<void> {
    await Promise.all(this.#stops.splice(0).map((s) => s()))
  }
}
