/** Where progress goes: a stream that may or may not be a terminal. */
export interface ProgressStream {
  isTTY?: boolean
  write(text: string): unknown
}

/** Progress lines as `plantwatt` prints them: redrawn in place on a terminal, plain lines elsewhere. */
export interface Progress {
  /** Shows the current state (on a terminal every call, elsewhere at most every `everyMs`). */
  update(text: string): void
  /** Prints the final state (always) and ends the line. */
  done(text?: string): void
}

/**
 * A terminal gets one line redrawn with a carriage return; a file, pipe or journal (not a terminal)
 * gets plain lines — the first update, then at most one every `everyMs`, then the last — so a log
 * never holds carriage returns or thousands of lines.
 */
export function createProgress(stream: ProgressStream, options: { everyMs?: number; now?: () => number } = {}): Progress {
  const everyMs = options.everyMs ?? 5000
  const now = options.now ?? Date.now
  const tty = stream.isTTY === true
  let last = ''
  let printedAt: number | undefined
  let printed = ''
  return {
    update(text) {
      last = text
      if (tty) {
        stream.write(`\r${text}`)
        return
      }
      const t = now()
      if (printedAt === undefined || t - printedAt >= everyMs) {
        stream.write(`${text}\n`)
        printedAt = t
        printed = text
      }
    },
    done(text) {
      const final = text ?? last
      if (tty) {
        if (final !== '') stream.write(`\r${final}\n`)
        return
      }
      if (final !== '' && final !== printed) stream.write(`${final}\n`)
    },
  }
}
