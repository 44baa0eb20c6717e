import { PlantWattError } from '../../core/errors.ts'
import { validatePoints } from '../query.ts'
import type { SampleBlock, TelemetryPoint } from '../store.ts'
import { errorText, type InfluxHttp } from './http.ts'
import { blockLines, type EncodeBuffer, encodeBlocks, toLines } from './line-protocol.ts'

/** At most this many lines per /write request. */
export const WRITE_BATCH_LINES = 5000
/** At most this many /write requests of one write() call in flight together. */
export const WRITE_CONCURRENCY = 2

interface WriteRequest {
  /** Built when the request is sent, so that only the bodies in flight are in memory; bytes may be built in `into`. */
  body(into: EncodeBuffer): string | Uint8Array
  what: string
}

/** Writes to one database (and retention policy) through `/write`, in requests of about WRITE_BATCH_LINES lines. */
export class InfluxWriter {
  /** Body buffers of the requests no longer in flight. */
  private readonly spare: EncodeBuffer[] = []

  constructor(
    private readonly http: InfluxHttp,
    private readonly database: string,
    private readonly retentionPolicy: string | undefined,
  ) {}

  /** Points, checked first: an invalid batch is rejected whole. */
  async writePoints(points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return
    validatePoints(points)
    const lines = toLines(points)
    const requests: WriteRequest[] = []
    for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) {
      const to = Math.min(i + WRITE_BATCH_LINES, lines.length)
      requests.push({ body: () => lines.slice(i, to).join('\n'), what: `write of lines ${i + 1}–${to} of ${lines.length} to ${this.database}` })
    }
    await this.sendAll(requests)
  }

  /** Sample blocks: whole blocks, about WRITE_BATCH_LINES samples a request (a block is never split). */
  async writeBlocks(blocks: readonly SampleBlock[]): Promise<void> {
    const total = blockLines(blocks)
    const requests: WriteRequest[] = []
    let first = 0
    let lines = 0
    let from = 0
    for (let i = 0; i < blocks.length; i++) {
      lines += (blocks[i] as SampleBlock).samples
      if (lines >= WRITE_BATCH_LINES || i === blocks.length - 1) {
        const group = blocks.slice(first, i + 1)
        if (lines > 0)
          requests.push({ body: (into) => encodeBlocks(group, into), what: `write of lines ${from + 1}–${from + lines} of ${total} to ${this.database}` })
        first = i + 1
        from += lines
        lines = 0
      }
    }
    await this.sendAll(requests)
  }

  /**
   * Sends the request bodies WRITE_CONCURRENCY at a time (influxd writes them on separate cores);
   * resolves once every one is written, and any failure fails the call whole — points are
   * idempotent, so a retry of the lot is harmless.
   */
  private async sendAll(requests: readonly WriteRequest[]): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      // A body buffer per request in flight, reused from one call to the next.
      const into = this.spare.pop() ?? { bytes: Buffer.alloc(0) }
      try {
        for (let r = requests[next++]; r; r = requests[next++]) await this.send(r.body(into), r.what)
      } finally {
        if (this.spare.length < WRITE_CONCURRENCY) this.spare.push(into)
      }
    }
    const workers = Array.from({ length: Math.min(WRITE_CONCURRENCY, requests.length) }, worker)
    const results = await Promise.allSettled(workers)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  private async send(body: string | Uint8Array, what: string): Promise<void> {
    const params = new URLSearchParams({ db: this.database, precision: 'ms' })
    if (this.retentionPolicy) params.set('rp', this.retentionPolicy)
    const { status, body: answer } = await this.http.send(
      `/write?${params.toString()}`,
      { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' } },
      what,
    )
    if (status !== 204 && status !== 200) {
      const text = errorText(answer)
      throw new PlantWattError('STORAGE_ERR_WRITE', `${what}: influxdb answered ${status}: ${text}`, {
        cause: new Error(text),
        details: { status, influxError: text },
      })
    }
  }
}
