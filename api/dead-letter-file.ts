import { closeSync, openSync, readSync, statSync } from 'node:fs'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type { DeadLetter, DeadLetterLog, DeadLetterQuery } from '../core/dead-letter.ts'
import { describeError, PlantWattError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'

export interface DeadLetterFileOptions {
  /** The JSON Lines file ingest appends its dead letters to (`ingest.deadLetterFile`). */
  file: string
  /** Newest entries kept in memory for list(). Default 1000. */
  memory?: number
  logger?: Logger
}

const EntrySchema = Type.Object({
  ts: Type.Integer(),
  reason: Type.String(),
  message: Type.String(),
  topic: Type.String(),
  payload: Type.String(),
  payloadBytes: Type.Integer(),
  source: Type.String(),
})
const checkEntry = Compile(EntrySchema)

const CHUNK_BYTES = 1 << 20
const NEWLINE = 0x0a

/**
 * The dead letters of an ingest running in another process, read from the file it appends them to:
 * what a standalone `plantwatt api` serves on GET /dead-letters. Each call reads only what was
 * appended since the last one (a line still being written waits for its newline); a file that
 * shrank or was replaced (rotated) is read again from the start. counts() covers the whole file.
 * Read-only: add() throws.
 */
export function openDeadLetterFile(opts: DeadLetterFileOptions): DeadLetterLog {
  const capacity = opts.memory ?? 1000
  const logger = opts.logger ?? silentLogger()
  let ring: DeadLetter[] = []
  let counts: Record<string, number> = {}
  let offset = 0
  let rest: Buffer = Buffer.alloc(0)
  let unreadable = 0
  let warnedMissing = false
  let inode: number | undefined

  const take = (line: Buffer): void => {
    if (line.length === 0) return
    let entry: unknown
    try {
      entry = JSON.parse(line.toString('utf8'))
    } catch {
      entry = undefined
    }
    if (!checkEntry.Check(entry)) {
      unreadable++
      return
    }
    counts[entry.reason] = (counts[entry.reason] ?? 0) + 1
    if (capacity === 0) return
    ring.push(entry)
    if (ring.length > capacity * 2) ring = ring.slice(-capacity)
  }

  const refresh = (): void => {
    let size: number
    let ino: number
    try {
      ;({ size, ino } = statSync(opts.file))
    } catch (err) {
      // Not written yet: ingest creates it with its first dead letter.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !warnedMissing)
        logger.warn({ file: opts.file, err: describeError(err) }, 'cannot read the dead-letter file')
      warnedMissing = true
      return
    }
    // Shorter, or another file under the name (rotated): read from the start.
    if (size < offset || (inode !== undefined && ino !== inode)) {
      ring = []
      counts = {}
      offset = 0
      rest = Buffer.alloc(0)
    }
    inode = ino
    if (size === offset) return
    const fd = openSync(opts.file, 'r')
    try {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
      while (offset < size) {
        const n = readSync(fd, chunk, 0, Math.min(CHUNK_BYTES, size - offset), offset)
        if (n === 0) break
        offset += n
        let data = rest.length > 0 ? Buffer.concat([rest, chunk.subarray(0, n)]) : chunk.subarray(0, n)
        let start = 0
        for (let i = data.indexOf(NEWLINE); i !== -1; i = data.indexOf(NEWLINE, start)) {
          take(data.subarray(start, i))
          start = i + 1
        }
        data = data.subarray(start)
        rest = Buffer.from(data)
      }
    } finally {
      closeSync(fd)
    }
    if (unreadable > 0) {
      logger.warn({ file: opts.file, lines: unreadable }, 'dead-letter file lines that are not dead letters were skipped')
      unreadable = 0
    }
  }

  return {
    add() {
      throw new PlantWattError('API_ERR_DEAD_LETTERS_READ_ONLY', `the dead letters of ${opts.file} are written by ingest; this log only reads them`)
    },
    list(query: DeadLetterQuery = {}) {
      refresh()
      const out: DeadLetter[] = []
      const limit = query.limit ?? Number.POSITIVE_INFINITY
      const from = Math.max(0, ring.length - capacity)
      for (let i = ring.length - 1; i >= from && out.length < limit; i--) {
        const entry = ring[i] as DeadLetter
        if (query.reason !== undefined && entry.reason !== query.reason) continue
        if (query.since !== undefined && entry.ts < query.since) continue
        out.push({ ...entry })
      }
      return out
    },
    counts() {
      refresh()
      return { ...counts }
    },
    async close() {},
  }
}
