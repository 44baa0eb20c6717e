import { createWriteStream, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'

/**
 * A copy on disk of a stream that can be read once (an HTTP body), made while the first pass reads
 * it: the importer's second pass reads the copy. Memory holds one chunk at a time; the disk holds
 * the body until `remove()`. The folder is private to the process user (mkdtemp: mode 0700).
 */
export class Spool {
  private teed: Readable | undefined

  private constructor(
    private readonly dir: string,
    /** The copy; complete once the stream returned by `tee` has ended. */
    readonly path: string,
  ) {}

  /**
   * @param parent where the private folder is made; default the OS temp folder.
   * Synchronous on purpose: the caller's stream is already flowing, and an error it emits before
   * `tee` listens would be lost (the import would wait forever).
   */
  static open(parent: string = tmpdir()): Spool {
    const dir = mkdtempSync(join(parent, 'plantwatt-import-'))
    return new Spool(dir, join(dir, 'body.csv'))
  }

  /**
   * The source's bytes, unchanged, each chunk on disk before it is passed on (so a slow disk slows
   * the reader instead of filling memory). Ends after the copy is flushed; an error of the source or
   * of the copy destroys it.
   */
  tee(source: Readable): Readable {
    const file = createWriteStream(this.path)
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        file.write(chunk, (err) => (err ? done(err) : done(null, chunk)))
      },
      flush(done) {
        file.end(() => done())
      },
    })
    file.on('error', (err) => tee.destroy(err))
    // The reader reports errors; one after the reader gave up (it refused the options) must not crash the process.
    tee.on('error', () => {})
    this.teed = tee
    tee.on('close', () => {
      if (!file.writableFinished) file.destroy()
    })
    source.on('error', (err) => tee.destroy(err))
    if (source.errored) queueMicrotask(() => tee.destroy(source.errored as Error))
    source.pipe(tee)
    return tee
  }

  /** Stops the copy (if the reader gave up early) and deletes it with its folder. */
  async remove(): Promise<void> {
    if (this.teed && !this.teed.readableEnded) this.teed.destroy()
    await rm(this.dir, { recursive: true, force: true })
  }
}
