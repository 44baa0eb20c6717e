import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { dirname } from 'node:path'
import type { DeadLetter, DeadLetterLog, DeadLetterQuery } from '../core/dead-letter.ts'
import { describeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

export interface DeadLetterLogOptions {
  /** JSON Lines file every dead letter is appended to; its folder is created. Default: none. */
  file?: string
  /** Newest entries kept in memory for list(). Default 1000. */
  memory?: number
  /** Where a failing file write is reported. */
  logger?: Logger
}

/**
 * Dead letters in memory (a ring of the newest N) and, optionally, appended to a JSON Lines file.
 * counts() covers every entry since start, not only those still in memory.
 */
export function createDeadLetterLog(opts: DeadLetterLogOptions = {}): DeadLetterLog {
  const capacity = opts.memory ?? 1000
  const ring: DeadLetter[] = new Array<DeadLetter>(capacity)
  let next = 0
  let size = 0
  const counts: Record<string, number> = {}
  let file: WriteStream | undefined
  let fileFailed = false
  if (opts.file !== undefined) {
    mkdirSync(dirname(opts.file), { recursive: true })
    file = createWriteStream(opts.file, { flags: 'a' })
    // A full disk must not stop the stream: the entry is still counted and kept in memory.
    file.on('error', (err) => {
      if (!fileFailed) opts.logger?.error({ file: opts.file, err: describeError(err) }, 'cannot append to the dead-letter file')
      fileFailed = true
    })
  }

  return {
    add(entry) {
      counts[entry.reason] = (counts[entry.reason] ?? 0) + 1
      if (capacity > 0) {
        ring[next] = entry
        next = (next + 1) % capacity
        size = Math.min(size + 1, capacity)
      }
      if (file && !fileFailed) file.write(`${JSON.stringify(entry)}\n`)
    },
    list(query: DeadLetterQuery = {}) {
      const out: DeadLetter[] = []
      const limit = query.limit ?? Number.POSITIVE_INFINITY
      for (let i = 1; i <= size && out.length < limit; i++) {
        const entry = ring[(next - i + capacity) % capacity] as DeadLetter
        if (query.reason !== undefined && entry.reason !== query.reason) continue
        if (query.since !== undefined && entry.ts < query.since) continue
        out.push(entry)
      }
      return out
    },
    counts() {
      return { ...counts }
    },
    async close() {
      const f = file
      file = undefined
      if (f && !f.destroyed) await new Promise<void>((resolve) => f.end(() => resolve()))
    },
  }
}
