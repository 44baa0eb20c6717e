import type { Logger } from '../core/logger.ts'
import type { Closable } from './wiring.ts'

/** How long a stop may take before the process exits anyway, ms. */
const FORCE_EXIT_MS = 10_000

/** Keeps the process up until SIGINT/SIGTERM, then stops everything in reverse order. */
export function runUntilSignal(closables: Closable[], logger: Logger): void {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${signal}: stopping…\n`)
    const force = setTimeout(() => {
      process.stderr.write('did not stop within 10 s; exiting\n')
      process.exit(1)
    }, FORCE_EXIT_MS)
    force.unref()
    // wiring.ts loads every component: imported only when there is something to stop.
    void import('./wiring.ts')
      .then(({ closeAll }) => closeAll(closables, logger))
      .then(() => {
        process.stdout.write('stopped.\n')
        process.exit(0)
      })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}
